# Copyright (c) detco_mm contributors. All rights reserved.
"""One real forward of the tiny config on real pipeline output, recomputed independently."""
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmselfsup.registry import DATASETS, HOOKS, MODELS

from detco_mm.contracts import mosaic_to_patches

STAGES = ('res2', 'res3', 'res4', 'res5')


def real_batch(cfg, data_root, n=4):
    """The tiny config's dataset and pipeline -> a preprocessed batch of ``n`` images."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = data_root
    dataset = DATASETS.build(dataset_cfg)
    return default_collate([dataset[i] for i in range(n)])


def infonce(q, k, queue, tau):
    """Eq. 2/4/5: mean over the batch of -log softmax at the positive."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], dim=1) / tau
    return -(logits[:, 0] - torch.logsumexp(logits, dim=1)).mean()


def test_pipeline_packs_four_views(tiny_cfg, synthetic_root):
    batch = real_batch(tiny_cfg, synthetic_root)
    shapes = [tuple(x.shape) for x in batch['inputs']]
    assert shapes == [(4, 3, 64, 64)] * 2 + [(4, 3, 72, 72)] * 2


def test_loss_recomputed_independently(tiny_cfg, synthetic_root):
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg.model)
    model.train()
    inputs, data_samples = model.data_preprocessor(real_batch(tiny_cfg, synthetic_root), True)
    queues = {v: getattr(model.head, f'queue_{v}').clone() for v in ('g', 'l')}

    losses = model(inputs, data_samples, mode='loss')
    assert sorted(k for k in losses if 'loss' in k) == sorted(
        f'loss_{c}_{s}' for c in ('g2g', 'l2l', 'l2g') for s in STAGES)

    # Reference encodings without the model's code path: no shuffle (batch-norm statistics
    # are the same for any order of a batch on one process), patches cut here.
    def encode(backbone, neck, img, local):
        if local:
            img = mosaic_to_patches(img, 3)
            return neck(backbone(img), 'l')
        return neck(backbone(img), 'g')

    with torch.no_grad():
        q = {'g': encode(model.backbone, model.neck, inputs[0], False),
             'l': encode(model.backbone, model.neck, inputs[2], True)}
        key_encoder = model.encoder_k.module  # already momentum-updated by this step
        k = {'g': encode(key_encoder.backbone, key_encoder.neck, inputs[1], False),
             'l': encode(key_encoder.backbone, key_encoder.neck, inputs[3], True)}

    tau = tiny_cfg.model.head.temperature
    weights = tiny_cfg.model.head.loss_weights
    pairs = {'g2g': ('g', 'g'), 'l2l': ('l', 'l'), 'l2g': ('l', 'g')}
    for i, stage in enumerate(STAGES):
        for contrast, (qv, kv) in pairs.items():
            expected = infonce(q[qv][i], k[kv][i], queues[kv][i], tau)
            torch.testing.assert_close(losses[f'nce_{contrast}_{stage}'], expected,
                                       rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(losses[f'loss_{contrast}_{stage}'], weights[i] * expected,
                                       rtol=1e-4, atol=1e-5)
        # this step's keys are in the queue of their view and stage, at pointer 0
        for v in ('g', 'l'):
            torch.testing.assert_close(getattr(model.head, f'queue_{v}')[i][:, :4],
                                       F.normalize(k[v][i], dim=1).t(), rtol=1e-4, atol=1e-5)
    assert model.head.queue_g_ptr.tolist() == [4] * 4
    assert model.head.queue_l_ptr.tolist() == [4] * 4


def test_key_encoder_is_momentum_copy(tiny_cfg):
    model = MODELS.build(tiny_cfg.model)
    assert model.encoder_k.momentum == pytest.approx(1 - 0.999)
    for p in model.encoder_k.module.parameters():
        assert not p.requires_grad


def test_extract_feat_returns_res2_to_res5(tiny_cfg):
    model = MODELS.build(tiny_cfg.model)
    feats = model.extract_feat([torch.randn(2, 3, 64, 64)])
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512]


def test_misconfigurations_fail_clearly(tiny_cfg):
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.neck.in_channels = [128, 256, 512]
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(cfg)
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.backbone.out_indices = [0, 1, 2, 3]
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(cfg)
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.neck.with_local = False
    with pytest.raises(ValueError, match='with_local=False'):
        MODELS.build(cfg)

    model = MODELS.build(tiny_cfg.model)
    views = [torch.randn(4, 3, 64, 64)] * 2
    with pytest.raises(ValueError, match='need 4 input views'):
        model.loss(views, [])
    views = [torch.randn(3, 3, 64, 64)] * 2 + [torch.randn(3, 3, 72, 72)] * 2
    with pytest.raises(ValueError, match='queue_len=64 .* global batch size 3'):
        model.loss(views, [])
    views = [torch.randn(4, 3, 64, 64)] * 2 + [torch.randn(4, 3, 70, 70)] * 2
    with pytest.raises(ValueError, match='mosaic'):
        model.loss(views, [])


def test_queue_batch_check_hook_runs_before_training(tiny_cfg):
    hook = HOOKS.build(dict(type='QueueBatchCheckHook'))
    model = MODELS.build(tiny_cfg.model)
    runner = SimpleNamespace(model=model, train_dataloader=SimpleNamespace(
        batch_size=4, drop_last=True, dataset=range(8)))
    hook.before_train(runner)
    runner.train_dataloader.batch_size = 6
    with pytest.raises(ValueError, match='queue_len=64 .* global batch size 6'):
        hook.before_train(runner)
    runner.train_dataloader = SimpleNamespace(batch_size=4, drop_last=False, dataset=range(8))
    with pytest.raises(ValueError, match='drop_last=True'):
        hook.before_train(runner)
