# Copyright (c) detco_mm contributors. All rights reserved.
"""Per-stage kNN: the classifier, PreciseBN re-estimation and PerStageKNNHook in a real run."""
import json

import pytest
import torch
import torch.nn.functional as F
from mmselfsup.registry import MODELS

from conftest import (
    TINY_CONFIG,
    TINY_MMPRETRAIN,
    needs_mmpretrain,
    tiny_knn_config,
    tiny_pretrain_options,
    train_in_process,
)
from detco_mm.evaluation import reestimate_bn, weighted_knn_top1


def reference_knn(bank, labels, queries, query_labels, k, temperature, leave_one_out):
    """Weighted kNN written out sample by sample (InstDisc's vote)."""
    correct = 0
    for i, q in enumerate(queries):
        sims = [(float(q @ b), int(labels[j])) for j, b in enumerate(bank)
                if not (leave_one_out and j == i)]
        votes = dict()
        for s, c in sorted(sims, reverse=True)[:k]:
            votes[c] = votes.get(c, 0.0) + torch.tensor(s / temperature).exp().item()
        correct += max(votes, key=votes.get) == int(query_labels[i])
    return 100.0 * correct / len(queries)


@pytest.mark.parametrize('leave_one_out', [False, True])
def test_weighted_knn_matches_sample_by_sample_vote(leave_one_out):
    gen = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(60, 8, generator=gen), dim=1)
    labels = torch.randint(0, 4, (60,), generator=gen)
    queries = None if leave_one_out else F.normalize(torch.randn(25, 8, generator=gen), dim=1)
    query_labels = None if leave_one_out else torch.randint(0, 4, (25,), generator=gen)
    got = weighted_knn_top1(bank, labels, queries, query_labels, k=5, temperature=0.07,
                            chunk=7)
    expected = reference_knn(bank, labels, bank if leave_one_out else queries,
                             labels if leave_one_out else query_labels, 5, 0.07,
                             leave_one_out)
    assert got == pytest.approx(expected)


def test_leave_one_out_never_votes_for_itself():
    # pairs of nearly equal points with different labels: each point's nearest other point
    # is its twin, so with k=1 leave-one-out gets every point wrong, a self-match every right
    bank = torch.eye(4).repeat_interleave(2, dim=0)
    bank[1::2] += 0.1 * torch.eye(4).roll(1, dims=1)
    bank = F.normalize(bank, dim=1)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    assert weighted_knn_top1(bank, labels, k=1) == 0.0
    assert weighted_knn_top1(bank, labels, bank, labels, k=1) == 100.0


def test_reestimate_bn_gives_exact_statistics_on_a_copy(tiny_cfg):
    model = MODELS.build(tiny_cfg.model)
    backbone = model.backbone
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    batches = [dict(inputs=[torch.randint(0, 256, (3, 3, 32, 32), generator=gen,
                                          dtype=torch.uint8)], data_samples=None)
               for _ in range(3)]
    copy = reestimate_bn(backbone, model.data_preprocessor, batches)

    images = torch.cat([model.data_preprocessor(b, False)[0][0] for b in batches])
    stem = backbone.conv1(images)  # input of the first BN, over all batches
    torch.testing.assert_close(copy.bn1.running_mean, stem.mean(dim=(0, 2, 3)))
    # the copy is in eval mode, the model untouched
    assert not copy.training
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value, before[key])


@pytest.mark.parametrize('base', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup', 'mmpretrain'])
def test_hook_logs_every_stage_to_log_and_scalars(base, tmp_path, synthetic_root):
    if base == TINY_MMPRETRAIN:
        needs_mmpretrain()
    # two classes, so that the accuracy is not trivially 100
    lines = open(f'{synthetic_root}meta/train.txt').read().split('\n')
    ann = tmp_path / 'knn.txt'
    ann.write_text('\n'.join(f'{line.split()[0]} {i % 2}'
                             for i, line in enumerate(filter(None, lines))))
    config = tiny_knn_config(tmp_path, synthetic_root, str(ann), base)
    log = train_in_process(config, tmp_path / 'work',
                           cfg_options=tiny_pretrain_options(synthetic_root, 1))

    assert 'per-stage kNN top-1 (k=3, T=0.07, BN reestimate)' in log
    scalars = [json.loads(line)
               for line in open(next((tmp_path / 'work').glob('*/vis_data/scalars.json')))]
    knn = [s for s in scalars if 'knn/res2_top1' in s]
    assert len(knn) == 1 and knn[0]['step'] == 2  # after epoch 1 = 2 steps of 4 images
    for stage in ('res2', 'res3', 'res4', 'res5'):
        # 8 images, leave-one-out: accuracies are multiples of 1/8
        assert knn[0][f'knn/{stage}_top1'] * 8 / 100 == pytest.approx(
            round(knn[0][f'knn/{stage}_top1'] * 8 / 100))


def test_hook_refuses_bad_settings():
    from detco_mm.engine import PerStageKNNHook
    with pytest.raises(ValueError, match='bn_stats'):
        PerStageKNNHook(train_dataloader=dict(), bn_stats='patch')
    with pytest.raises(ValueError, match='interval=0'):
        PerStageKNNHook(train_dataloader=dict(), interval=0)


def test_linear_benchmark_reestimates_bn_of_its_frozen_backbone():
    from types import SimpleNamespace

    from mmcls.registry import MODELS as CLS_MODELS
    from mmengine.config import Config
    from mmengine.logging import MMLogger

    from conftest import ROOT
    cfg = Config.fromfile(f'{ROOT}/configs/benchmarks/classification/imagenet/'
                          'resnet50_linear-8xb32-steplr-100e_in1k.py')
    hook_cfg = [h for h in cfg.custom_hooks if h['type'].endswith('ReestimateBNHook')]
    assert hook_cfg and hook_cfg[0]['num_batches'] == 200
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.head.in_channels = 512
    model = CLS_MODELS.build(cfg.model)
    gen = torch.Generator().manual_seed(0)
    batches = [dict(inputs=torch.randint(0, 256, (2, 3, 32, 32), generator=gen,
                                         dtype=torch.uint8), data_samples=None)
               for _ in range(3)]
    from detco_mm.engine import ReestimateBNHook
    ReestimateBNHook(num_batches=2).before_train(SimpleNamespace(
        model=model, train_dataloader=batches, logger=MMLogger.get_current_instance()))
    model.train()  # frozen_stages=4 and norm_eval: BN stays in eval, statistics stay
    images = torch.cat([model.data_preprocessor(b, False)['inputs'] for b in batches[:2]])
    torch.testing.assert_close(model.backbone.bn1.running_mean,
                               model.backbone.conv1(images).mean(dim=(0, 2, 3)))
    assert not model.backbone.bn1.training


def _extract_on_rank(rank, world_size, port, out):
    """One DDP rank: extract its DefaultSampler shard of 5 items, gather on every rank."""
    import os

    import torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import DataLoader

    from detco_mm.evaluation import extract_stage_features
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    # image i: channel 0 = i, channel 1 = 1; its pooled, normalised feature names i
    images = torch.stack([torch.stack([torch.full((2, 2), float(i)), torch.ones(2, 2)])
                          for i in range(5)])
    loader = DataLoader(images, batch_size=2, sampler=DefaultSampler(images, shuffle=False))
    feats = extract_stage_features(lambda x: [x], lambda batch, training: ([batch], None),
                                   loader, size=5)
    torch.save(feats, f'{out}/rank{rank}.pth')
    dist.destroy_process_group()


@pytest.mark.e2e
@pytest.mark.slow(15)
def test_extraction_is_sharded_and_gathered_in_dataset_order(tmp_path):
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(_extract_on_rank, args=(2, port, str(tmp_path)), nprocs=2)
    expected = F.normalize(torch.stack([torch.arange(5.), torch.ones(5)], dim=1), dim=1)
    for rank in (0, 1):
        (feats,) = torch.load(tmp_path / f'rank{rank}.pth')
        # 5 items, 2 ranks: the sampler pads rank 1 with item 0; collect_results drops it
        assert feats.shape == (5, 2)
        torch.testing.assert_close(feats, expected)
