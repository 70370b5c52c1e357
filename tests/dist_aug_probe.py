# Copyright (c) detco_mm contributors. All rights reserved.
"""Test-only script (tests/test_two_processes.py), run under ``torchrun``: every process
builds the data preprocessor of CONFIG and augments the SAME batch, each time after seeding
the way mmengine's Runner does (``set_random_seed``): with SEED, with SEED again, with SEED + 1
and with a seed of None (which mmengine replaces by rank 0's random seed on every rank).
Writes the input batch and the views of the four runs to ``OUT/rank{R}.pth``.

Usage: torchrun --nproc_per_node 2 dist_aug_probe.py CONFIG OUT SEED
"""
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmselfsup.registry import MODELS

import detco_mm  # noqa: F401  (registers the preprocessor)


def main(config: str, out: str, seed: int) -> None:
    dist.init_process_group('gloo')
    init_default_scope('mmselfsup')
    preprocessor = MODELS.build(Config.fromfile(config).model.data_preprocessor)
    # the same images on every rank: drawn from a generator of their own
    images = torch.Generator().manual_seed(0)
    batch = [torch.randint(0, 256, (4, 3, size, size), generator=images, dtype=torch.uint8)
             for size in (64, 64, 96, 96)]
    runs = []
    for run_seed in (seed, seed, seed + 1, None):
        set_random_seed(run_seed)  # what Runner.set_randomness calls
        views, _ = preprocessor(dict(inputs=[x.clone() for x in batch], data_samples=None),
                                True)
        runs.append(views)
    torch.save(dict(batch=batch, runs=runs), osp.join(out, f'rank{get_rank()}.pth'))
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
