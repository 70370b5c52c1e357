# Copyright (c) detco_mm contributors. All rights reserved.
"""precise_bn_stats, the one BN re-estimation behind PreciseBNHook and the kNN readouts: what
it averages, and that ranks with different data end with the statistics of all their batches."""
import socket
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from torch import nn

from detco_mm.engine import PreciseBNHook
from detco_mm.evaluation import reestimate_bn
from detco_mm.models.utils.precise_bn import precise_bn_stats


def batches_of(sizes, loc, scale, seed):
    """Batches of (n, 2, 2, 2) inputs, one per size, channel c around loc[c] * scale[c]."""
    gen = torch.Generator().manual_seed(seed)
    shift, spread = torch.tensor(loc).view(1, 2, 1, 1), torch.tensor(scale).view(1, 2, 1, 1)
    return [torch.randn(n, 2, 2, 2, generator=gen) * spread + shift for n in sizes]


def expected_stats(batches):
    """The mean of all inputs and the average of the batches' unbiased variances, each batch
    weighted by its values per channel."""
    counts = torch.tensor([b.numel() / b.shape[1] for b in batches], dtype=torch.float64)
    variances = torch.stack([b.double().transpose(0, 1).flatten(1).var(1) for b in batches])
    pooled = torch.cat([b.double().transpose(0, 1).flatten(1) for b in batches], dim=1)
    return pooled.mean(1).float(), ((counts[:, None] * variances).sum(0) / counts.sum()).float()


class TwoPass(nn.Module):
    """One BN called twice per forward (on the input and on its double), one never called."""

    def __init__(self):
        super().__init__()
        self.bn, self.unused = nn.BatchNorm2d(2), nn.BatchNorm2d(2)

    def forward(self, x):
        return self.bn(x), self.bn(2 * x)


def test_statistics_of_all_calls_weighted_by_their_size():
    model = TwoPass().train()
    model.unused.running_mean.fill_(3.)
    batches = batches_of([3, 5, 2], loc=[1., -4.], scale=[2., 0.5], seed=0)
    stream = iter(batches)
    assert precise_bn_stats(list(model.modules())[1:], model, stream, num_batches=2) == 2
    seen = [x for b in batches[:2] for x in (b, 2 * b)]
    mean, var = expected_stats(seen)
    torch.testing.assert_close(model.bn.running_mean, mean)
    torch.testing.assert_close(model.bn.running_var, var)
    assert int(model.bn.num_batches_tracked) == 4  # reset, then 2 calls x 2 batches
    assert model.bn.momentum == 0.1
    # never called: the reset statistics
    assert torch.equal(model.unused.running_mean, torch.zeros(2))
    assert torch.equal(model.unused.running_var, torch.ones(2))
    # the iterator kept its position: the next call starts at the third batch
    assert precise_bn_stats([model.bn], model, stream, num_batches=5) == 1
    torch.testing.assert_close(model.bn.running_mean, expected_stats(
        [batches[2], 2 * batches[2]])[0])


class OneBN(nn.Module):
    """What PreciseBNHook runs: the preprocessor's dict into the training forward."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(2)
        self.data_preprocessor = lambda data, training: dict(inputs=data)

    def forward(self, inputs, mode):
        return self.bn(inputs)


# Each rank's own data: other batch sizes, means and scales.
RANK_BATCHES = {0: ([3, 5], [1., -4.], [2., 0.5]), 1: ([4], [6., 0.], [0.5, 3.])}


def _reestimate_on_rank(rank, world_size, port, out):
    """One gloo rank: the kNN path (reestimate_bn) and PreciseBNHook on this rank's data."""
    import os

    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    sizes, loc, scale = RANK_BATCHES[rank]
    batches = batches_of(sizes, loc, scale, seed=rank)
    knn = reestimate_bn(nn.Sequential(nn.BatchNorm2d(2)), lambda b, training: ([b], None),
                        batches)[0]
    model = OneBN().train()
    # one batch per rank for the hook: rank 0's first, rank 1's only
    runner = SimpleNamespace(model=model, cfg=Config(dict(train_dataloader=dict())), seed=0,
                             build_dataloader=lambda cfg, seed: batches[:1])
    PreciseBNHook(num_iter=1).update_stats(runner)
    torch.save(dict(knn=(knn.running_mean, knn.running_var),
                    hook=(model.bn.running_mean, model.bn.running_var)), f'{out}/rank{rank}.pth')
    dist.destroy_process_group()


@pytest.mark.e2e
@pytest.mark.slow(30)
def test_ranks_with_different_data_end_with_the_statistics_of_all_batches(tmp_path):
    import torch.multiprocessing as mp
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    mp.spawn(_reestimate_on_rank, args=(2, port, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in (0, 1)]
    per_rank = {r: batches_of(*RANK_BATCHES[r], seed=r) for r in (0, 1)}
    pooled = {'knn': per_rank[0] + per_rank[1], 'hook': [per_rank[0][0], per_rank[1][0]]}
    for path, batches in pooled.items():
        (mean0, var0), (mean1, var1) = ranks[0][path], ranks[1][path]
        assert torch.equal(mean0, mean1) and torch.equal(var0, var1), path  # identical
        mean, var = expected_stats(batches)
        torch.testing.assert_close(mean0, mean)
        torch.testing.assert_close(var0, var)
        # and what one process computes over the pooled batches
        one = nn.BatchNorm2d(2).train()
        precise_bn_stats([one], one, batches, num_batches=len(batches))
        torch.testing.assert_close(mean0, one.running_mean)
        torch.testing.assert_close(var0, one.running_var)
