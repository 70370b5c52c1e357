# Copyright (c) detco_mm contributors. All rights reserved.
"""Images/s of stock mmselfsup MoCo v2, DetCo (CPU augmentation) and DetCo (GPU augmentation).

In one run, alternating between the three: ``data`` (loader with N workers on a folder of real
JPEGs + data preprocessor), ``model`` (training step on synthetic views), ``e2e`` (both), with
ratios to MoCo v2 and peak memory; ``--breakdown N`` instead times, in this process, each
transform of the three CPU pipelines on N images (per-sample ms, interleaved). docs/speed.md.

Example:
    python tools/benchmarks/throughput.py data/imagenet/ --device cuda --batch 256 --workers 16 \
        --amp --channels-last
    # the mmpretrain face: --detco-config and --gpuaug-config from configs/detco_mmpretrain/
    taskset -c 0 python tools/benchmarks/throughput.py data/imagenet/ --breakdown 200
"""
import argparse

import torch
from mmengine.registry import init_default_scope

import detco_mm  # noqa: F401
from detco_mm import speed
from detco_mm.backends import config_scope

NAMES = ('mocov2', 'detco', 'detco-gpuaug')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='ImageNet-layout folder: train/, meta/train.txt')
    parser.add_argument(
        '--mocov2-config',
        default='mmselfsup::selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py')
    parser.add_argument('--detco-config',
                        default='configs/detco/detco_resnet50_8xb32-coslr-200e_in1k.py')
    parser.add_argument('--gpuaug-config',
                        default='configs/detco/detco-gpuaug_resnet50_8xb32-coslr-200e_in1k.py')
    parser.add_argument('--modes', nargs='+', default=['data', 'model', 'e2e'])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=32, help='per-step batch')
    parser.add_argument('--workers', type=int, default=8, help='loader workers per config')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--iters', type=int, default=5, help='timed batches per round')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast in the model step')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--breakdown', type=int, metavar='N', default=0,
                        help='only time the CPU pipelines per transform on N images')
    return parser.parse_args(argv)


def print_breakdown(ms: dict) -> None:
    keys = sorted({k for t in ms.values() for k in t} - {'total'},
                  key=lambda k: -ms['detco'].get(k, 0.))
    print(f"{'ms / sample':28s}" + ''.join(f'{n:>14s}' for n in NAMES))
    for k in keys + ['total']:
        print(f'{k:28s}' + ''.join(f'{ms[n].get(k, 0.):14.2f}' for n in NAMES))
    print(f"{'ratio of totals to mocov2':28s}" + ''.join(
        f"{ms[n]['total'] / ms['mocov2']['total']:14.2f}" for n in NAMES))


def build_each(cfgs: dict, build) -> dict:
    """``build(cfg)`` of every config in its toolbox's scope: the DetCo configs of either face."""
    built = {}
    for name, cfg in cfgs.items():
        with config_scope(cfg):
            built[name] = build(cfg)
    return built


def main(argv=None) -> None:
    args = parse_args(argv)
    init_default_scope('mmselfsup')  # MoCo v2's; each DetCo config is built in its own below
    paths = dict(zip(NAMES, (args.mocov2_config, args.detco_config, args.gpuaug_config)))
    cfgs = {n: speed.load_config(p) for n, p in paths.items()}
    if args.breakdown:
        datasets = build_each(cfgs, lambda cfg: speed.build_dataset(cfg, args.data_root))
        print(f'data {args.data_root}, {args.breakdown} images, this process, '
              f'torch threads {torch.get_num_threads()}')
        print_breakdown(speed.pipeline_breakdown(datasets, args.breakdown))
        return
    cands = build_each(cfgs, lambda cfg: speed.Candidate(
        cfg, args.data_root, args.batch, args.workers, args.device, args.amp,
        args.channels_last))
    rates = speed.measure(cands, args.modes, args.rounds, args.iters)
    print(f'data {args.data_root}, device {args.device}, batch {args.batch}, workers '
          f'{args.workers}, {args.rounds} rounds x {args.iters} batches, amp(bf16) {args.amp}, '
          f'channels_last {args.channels_last}')
    print(f"{'img/s':8s}" + ''.join(f'{n:>14s}' for n in NAMES) + ''.join(
        f'{n + "/mocov2":>22s}' for n in NAMES[1:]))
    for mode, r in rates.items():
        print(f'{mode:8s}' + ''.join(f'{r[n]:14.1f}' for n in NAMES) + ''.join(
            f"{r[n] / r['mocov2']:22.3f}" for n in NAMES[1:]))
    if args.device.startswith('cuda'):
        print('peak CUDA MiB' + ''.join(f'{c.peak_mem / 2**20:14.0f}' for c in cands.values()))
    else:
        print(f'peak RSS of this process (all three): {speed.max_rss_mib():.0f} MiB')


if __name__ == '__main__':
    main()
