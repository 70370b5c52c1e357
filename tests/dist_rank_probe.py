# Copyright (c) detco_mm contributors. All rights reserved.
"""Test-only script (tests/test_two_processes.py), run under ``torchrun``: what each of the
processes computes of the gpu-aug configs CONFIG (one per face) outside a training.

1. Every process builds CONFIG's data preprocessor (in CONFIG's toolbox) and augments the SAME
   batch, each time after seeding the way mmengine's Runner does (``set_random_seed``): with
   SEED, with SEED again, with SEED + 1 and with a seed of None (which mmengine replaces by
   rank 0's random seed on every rank).
2. Every process runs the train.py of CONFIG's toolbox (``--launcher pytorch``, as under
   ``torchrun TRAIN_PY``) on the images of DATA_ROOT with 4 images per process and
   ``model.head.queue_len=36``, which 4 keys divide but the global batch of 8 does not: the
   error it stops with.

Writes, per CONFIG, the input batch, the views of the four runs and the error message to
``OUT/rank{R}.pth`` (a list in the order of the CONFIGs).

Usage: torchrun --nproc_per_node 2 dist_rank_probe.py OUT SEED DATA_ROOT CONFIG...
"""
import importlib
import os.path as osp
import runpy
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.registry import MODELS
from mmengine.runner import set_random_seed

import detco_mm  # noqa: F401  (registers the modules, repairs mmselfsup's registries)
from detco_mm.backends import config_scope


def gpu_aug_draws(cfg: Config, seed: int) -> dict:
    with config_scope(cfg):
        preprocessor = MODELS.build(cfg.model.data_preprocessor)
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
    return dict(batch=batch, runs=runs)


def refusal(config: str, toolbox: str, work_dir: str, data_root: str) -> str:
    """The error of the toolbox's train.py on a queue that the global batch does not divide
    ('' if it trains)."""
    train_py = osp.join(importlib.import_module(toolbox).__path__[0], '.mim', 'tools',
                        'train.py')
    saved, sys.argv = sys.argv, [
        train_py, config, '--launcher', 'pytorch', '--work-dir', work_dir, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'model.head.queue_len=36']
    try:
        runpy.run_path(train_py, run_name='__main__')
    except Exception as error:  # what the command line would print before exiting with 1
        return f'{type(error).__name__}: {error}'
    finally:
        sys.argv = saved
    return ''


def main(out: str, seed: int, data_root: str, configs: list) -> None:
    dist.init_process_group('gloo')
    results = []
    for config in configs:
        cfg = Config.fromfile(config)
        toolbox = cfg.get('default_scope', 'mmselfsup')
        results.append(dict(
            toolbox=toolbox, **gpu_aug_draws(cfg, seed),
            refusal=refusal(config, toolbox, osp.join(out, f'refused_{toolbox}'), data_root)))
    torch.save(results, osp.join(out, f'rank{get_rank()}.pth'))
    dist.destroy_process_group()


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
