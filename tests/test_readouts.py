# Copyright (c) detco_mm contributors. All rights reserved.
"""Readouts of frozen features (view retrieval, linear probe, chance and SE), the retrieval
hook in a real run, the chance keys of the log, and the queue-vs-data warning."""
import json
import math
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmselfsup.registry import HOOKS, MODELS

from conftest import TINY_CONFIG, tiny_pretrain_options, train_in_process, warnings_logged
from detco_mm.evaluation import (
    binomial_se,
    class_chance,
    fixed_views,
    linear_probe_top1,
    per_stage_retrieval,
    view_retrieval_top1,
)


def test_retrieval_of_identical_views_is_100_and_of_shuffled_features_is_chance():
    gen = torch.Generator().manual_seed(0)
    feats = F.normalize(torch.randn(50, 16, generator=gen), dim=1)
    assert view_retrieval_top1(feats, feats) == 100.
    # a random permutation keeps on average one item in place: accuracy 1 / N = chance
    runs = [view_retrieval_top1(feats, feats[torch.randperm(50, generator=gen)])
            for _ in range(2000)]
    assert sum(runs) / len(runs) == pytest.approx(100. / 50, rel=0.1)
    with pytest.raises(ValueError, match='same shape'):
        view_retrieval_top1(feats, feats[:10])


def test_chance_and_standard_error_by_hand():
    assert binomial_se(50., 100) == pytest.approx(5.)
    assert binomial_se(100., 7) == 0.
    assert class_chance(torch.tensor([0, 1, 1, 2])) == 50.


def test_linear_probe_separates_separable_classes_and_not_random_labels():
    gen = torch.Generator().manual_seed(0)
    centres = 4 * torch.eye(3, 8)
    labels = torch.arange(3).repeat(40)
    train = centres[labels] + torch.randn(120, 8, generator=gen)
    val = centres[labels] + torch.randn(120, 8, generator=gen)
    assert linear_probe_top1(train, labels, val, labels) == 100.
    shuffled = labels[torch.randperm(120, generator=gen)]
    assert linear_probe_top1(train, shuffled, val, labels[torch.randperm(120, generator=gen)]) < 60.


class TwoViews:
    """Items as MultiView + PackSelfSupInputs give them; the views use every global RNG."""

    def __len__(self):
        return 6

    def __getitem__(self, index):
        noise = random.random() + np.random.rand() + torch.rand(1).item()
        return dict(inputs=[torch.full((3, 4, 4), index + noise * v) for v in (1, 2)])


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def test_fixed_views_depend_on_the_seed_only_and_restore_the_random_states():
    seed_all(1)
    expected = random.random(), np.random.rand(), torch.rand(1).item()
    seed_all(1)
    first = fixed_views(TwoViews(), seed=3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    seed_all(123)  # other states before the draw: the same views
    assert torch.equal(fixed_views(TwoViews(), seed=3), first)
    assert not torch.equal(fixed_views(TwoViews(), seed=4), first)
    assert first.shape == (6, 2, 3, 4, 4)


def test_per_stage_retrieval_of_a_real_backbone(tiny_cfg):
    model = MODELS.build(tiny_cfg.model)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (10, 1, 3, 32, 32), generator=gen, dtype=torch.uint8)
    same = per_stage_retrieval(model.backbone, model.data_preprocessor, tiny_cfg.model.head.stages,
                               images.repeat(1, 2, 1, 1, 1), batch_size=4)
    assert same == {f'{s}_top1': 100. for s in ('res2', 'res3', 'res4', 'res5')}
    # the second view of image i is image (i + 1)'s: never the same image, 0 %
    shifted = torch.cat([images, images.roll(1, dims=0)], dim=1)
    assert set(per_stage_retrieval(model.backbone, model.data_preprocessor,
                                   tiny_cfg.model.head.stages, shifted).values()) == {0.}
    with pytest.raises(ValueError, match=r'\(N, 2, 3, H, W\)'):
        per_stage_retrieval(model.backbone, model.data_preprocessor, ('res5',), images)


RETRIEVAL_CONFIG = '''
_base_ = {base!r}
custom_hooks = [
    dict(type='QueueBatchCheckHook'),
    dict(type='ViewRetrievalHook', interval=1, batch_size=4, dataset=dict(
        type='mmcls.ImageNet', data_root={root!r}, ann_file='meta/train.txt',
        data_prefix='train/', pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=2, transforms=[[
                dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.), backend='pillow')]]),
            dict(type='PackSelfSupInputs', meta_keys=['img_path'])]))
]
'''


def test_retrieval_hook_and_chance_keys_in_a_real_run(tmp_path, synthetic_root):
    config = tmp_path / 'retrieval.py'
    config.write_text(RETRIEVAL_CONFIG.format(base=TINY_CONFIG, root=synthetic_root))
    log = train_in_process(str(config), tmp_path / 'work',
                           cfg_options=tiny_pretrain_options(synthetic_root, 1))
    assert 'same-image view retrieval top-1 of 8 held-out images (chance 12.50' in log
    lines = [json.loads(line)
             for line in open(next((tmp_path / 'work').glob('*/vis_data/scalars.json')))]
    retrieval = [line for line in lines if 'retrieval/res5_top1' in line]
    assert [line['step'] for line in retrieval] == [0, 2]  # before the first step, after epoch 1
    for line in retrieval:  # 8 images: multiples of 1/8
        assert line['retrieval/res5_top1'] * 8 / 100 == pytest.approx(
            round(line['retrieval/res5_top1'] * 8 / 100))
    train = [line for line in lines if 'chance/nce' in line]
    queue = 64  # the tiny config's model.head.queue_len
    assert train and train[-1]['chance/nce'] == pytest.approx(math.log(queue + 1))
    nce = [v for k, v in train[-1].items() if k.startswith('nce_')]
    assert len(nce) == 12
    assert train[-1]['chance/nce_ratio'] == pytest.approx(
        sum(nce) / len(nce) / math.log(queue + 1))


def test_retrieval_hook_refuses_bad_settings():
    with pytest.raises(ValueError, match='bn_stats'):
        HOOKS.build(dict(type='ViewRetrievalHook', dataset=dict(), bn_stats='patch'))
    with pytest.raises(ValueError, match='interval=0'):
        HOOKS.build(dict(type='ViewRetrievalHook', dataset=dict(), interval=0))


def test_queue_check_warns_when_the_queue_holds_more_than_half_an_epoch(tiny_cfg):
    model = MODELS.build(tiny_cfg.model)  # queue_len 64, batches of 4

    def check(images, **kwargs):
        with warnings_logged() as warnings:
            HOOKS.build(dict(type='QueueBatchCheckHook', **kwargs)).before_train(
                SimpleNamespace(model=model, train_dataloader=SimpleNamespace(
                    batch_size=4, drop_last=True, dataset=range(images))))
        return warnings

    assert not check(128)  # 64 keys = half of 32 batches of 4
    assert check(127)  # 31 batches: 124 images
    warnings = check(100)
    # both numbers: the queue and the images of one epoch (100 = 25 batches of 4)
    assert 'queue_len=64' in warnings[0] and 'the 100 images of one epoch' in warnings[0]
    assert 'at most 48 ' in warnings[0]  # 50 % of 100, in whole batches of 4
    assert not check(100, max_queue_fraction=1.)
    with pytest.raises(ValueError, match='max_queue_fraction'):
        HOOKS.build(dict(type='QueueBatchCheckHook', max_queue_fraction=0))
