# Copyright (c) detco_mm contributors. All rights reserved.
"""PreciseBNHook: detectron2's PreciseBN in an mmengine iteration-based run (the mmdet run is
in test_transfer_e2e.py)."""
import glob

import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmselfsup.registry import DATASETS, HOOKS, METRICS, MODELS
from torch import nn
from torch.utils.data import Dataset

import detco_mm  # noqa: F401  (registers PreciseBNHook)


@MODELS.register_module(force=True)
class PreciseBNTinyModel(BaseModel):
    """One BatchNorm1d on 3 features; the loss moves its affine parameters."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.bn(inputs)
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [dict(out=o) for o in out]


@DATASETS.register_module(force=True)
class PreciseBNSamples(Dataset):
    """4 random 3-d samples with different means and scales per feature."""

    def __init__(self, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.samples = (torch.randn(4, 3, generator=generator) * torch.tensor([1., 2., 3.]) +
                        torch.tensor([5., -1., 0.]))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return dict(inputs=self.samples[i])


@METRICS.register_module(force=True)
class PreciseBNCount(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(count=sum(results))


def run(tmp_path, max_iters, val_interval=None, num_iter=3):
    """Train the tiny model with the hook; every batch is the whole (shuffled) set."""
    loader = dict(dataset=dict(type='PreciseBNSamples'), batch_size=4, num_workers=0,
                  sampler=dict(type='InfiniteSampler', shuffle=True),
                  collate_fn=dict(type='default_collate'))
    val = {}
    if val_interval:
        val = dict(val_dataloader=dict(loader, sampler=dict(type='DefaultSampler',
                                                            shuffle=False)),
                   val_cfg=dict(), val_evaluator=dict(type='PreciseBNCount'))
    runner = Runner.from_cfg(Config(dict(
        model=dict(type='PreciseBNTinyModel'), work_dir=str(tmp_path), train_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters,
                       val_interval=val_interval or max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        custom_hooks=[dict(type='mmselfsup.PreciseBNHook', num_iter=num_iter)],
        default_hooks=dict(checkpoint=None), default_scope='mmselfsup',
        # a logger of its own: two runs in the same second would share mmengine's
        # timestamp-named one, and this run's log would go to the other's file
        experiment_name=f'precise_bn_{tmp_path.name}', **val)))
    runner.train()
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    return runner.model.bn, log


def test_statistics_are_the_average_over_batches(tmp_path):
    samples = PreciseBNSamples().samples
    bn, log = run(tmp_path, max_iters=3)
    # each batch holds the whole set: its mean and unbiased variance are the set's
    assert torch.allclose(bn.running_mean, samples.mean(0), atol=1e-5)
    assert torch.allclose(bn.running_var, samples.var(0), atol=1e-4)
    assert int(bn.num_batches_tracked) == 3  # reset, then 3 PreciseBN batches
    assert bn.momentum == 0.1  # restored
    assert log.count('PreciseBN: BN statistics of 1 layers over 3 training batches') == 1


def test_runs_before_each_validation_and_at_the_end(tmp_path):
    _, log = run(tmp_path, max_iters=5, val_interval=2, num_iter=1)
    # after iterations 2 and 4 (validations) and 5 (the last)
    assert log.count('PreciseBN: BN statistics') == 3


def test_rejects_a_bad_num_iter():
    with pytest.raises(ValueError, match='num_iter=0'):
        HOOKS.build(dict(type='PreciseBNHook', num_iter=0))
