# Copyright (c) detco_mm contributors. All rights reserved.
"""Images/s of pretraining configs of either face against MoCo v2, alternating in one run.

Candidates: each of ``--configs`` (any config of configs/detco/ or configs/detco_mmpretrain/,
CPU augmentation or gpu-aug) and its MoCo v2 baseline, ``--baseline mocov2`` (stock mmselfsup
MoCo v2, its config from the installed package; one for all) or ``--baseline reduction`` (each
config's Table 1(a) reduction: weights (0, 0, 0, 1), g2g only, no local views, the model-side
modes only). Modes: ``data`` (loader with N workers on a folder of real JPEGs + data
preprocessor), ``preprocess`` (the data preprocessor on synthetic uint8 views on the device:
the gpu-aug configs' augmentation), ``model`` (preprocessor + training step on those views),
``e2e`` (all of it), with the ratios of each config to its baseline and peak memory;
``--breakdown N`` instead times, in this process, each transform of the CPU pipelines on N
images (per-sample ms, interleaved). docs/speed.md.

Example:
    python tools/benchmarks/throughput.py data/imagenet/ --device cuda --batch 256 --workers 16 \
        --amp --channels-last
    # the mmpretrain face: --configs from configs/detco_mmpretrain/
    taskset -c 0 python tools/benchmarks/throughput.py data/imagenet/ --breakdown 200
    # a config's training step against its MoCo v2 reduction, no data needed
    python tools/benchmarks/throughput.py --baseline reduction --device cuda --batch 64 --amp \
        --configs configs/detco/detco-gpuaug_resnet50_8xb32-coslr-200e_in1k.py
"""
import argparse
import math

import torch
from _speed import (
    DATA_MODES,
    GLOBAL_VIEWS,
    MODES,
    Candidate,
    build_dataset,
    load_config,
    max_rss_mib,
    measure,
    mocov2_reduction,
    pipeline_breakdown,
)
from mmengine.registry import init_default_scope

import detco_mm  # noqa: F401
from detco_mm.backends import config_scope

DEFAULT_CONFIGS = ['configs/detco/detco_resnet50_8xb32-coslr-200e_in1k.py',
                   'configs/detco/detco-gpuaug_resnet50_8xb32-coslr-200e_in1k.py']
MOCOV2 = 'mmselfsup::selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', nargs='?',
                        help='ImageNet-layout folder (train/, meta/train.txt) of real images, '
                        f'for the modes {", ".join(DATA_MODES)} and --breakdown')
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS,
                        help='pretraining configs to time (default: the default DetCo '
                        'config and its gpu-aug twin)')
    parser.add_argument('--baseline', choices=['mocov2', 'reduction'], default='mocov2',
                        help="mocov2: --mocov2-config, one for all configs; reduction: each "
                        "config's MoCo v2 reduction (Table 1(a)), modes preprocess and model")
    parser.add_argument('--mocov2-config', default=MOCOV2)
    parser.add_argument('--modes', nargs='+', choices=MODES,
                        help='default: all with a data_root, else preprocess and model')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, help="per-step batch of every candidate "
                        "(default: the first config's train_dataloader.batch_size)")
    parser.add_argument('--workers', type=int, default=8, help='loader workers per config')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--iters', type=int, default=5, help='timed batches per round')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast in the model step')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--breakdown', type=int, metavar='N', default=0,
                        help='only time the CPU pipelines per transform on N images')
    args = parser.parse_args(argv)
    if args.modes is None:
        args.modes = list(MODES) if args.data_root else ['preprocess', 'model']
    needs_data = [m for m in args.modes if m in DATA_MODES] + (
        ['--breakdown'] if args.breakdown else [])
    if needs_data and args.data_root is None:
        parser.error(f'{", ".join(needs_data)} read real images: give a data_root')
    if needs_data and args.baseline == 'reduction':
        parser.error(f'--baseline reduction changes only the model; {", ".join(needs_data)} '
                     'need --baseline mocov2')
    return args


def significant(x: float, digits: int = 3) -> str:
    """x with ``digits`` significant digits and no exponent: 0.132, 12.3, 1462."""
    decimals = max(digits - 1 - math.floor(math.log10(abs(x))), 0) if x else 0
    return f'{x:.{decimals}f}'


def candidate_configs(args) -> tuple:
    """``{id: (what, config)}`` in the order of the table, and ``{id: its baseline's id}``."""
    cfgs, baseline_of = {}, {}
    if args.baseline == 'mocov2':
        cfgs['[1]'] = (f'mocov2 (stock): {args.mocov2_config}', load_config(args.mocov2_config))
    for path in args.configs:
        name = f'[{len(cfgs) + 1}]'
        cfgs[name] = (path, load_config(path))
        if args.baseline == 'mocov2':
            baseline_of[name] = '[1]'
        else:
            base = f'[{len(cfgs) + 1}]'
            cfgs[base] = (f'MoCo v2 reduction of {name} (Table 1(a))',
                          mocov2_reduction(cfgs[name][1]))
            baseline_of[name] = base
    return cfgs, baseline_of


def print_breakdown(ms: dict, baseline_of: dict) -> None:
    """Per-sample ms of each transform (rows, the costliest first) per candidate (columns)."""
    names = list(ms)
    keys = sorted({k for t in ms.values() for k in t} - {'total'},
                  key=lambda k: -max(t.get(k, 0.) for t in ms.values()))
    print(f"{'ms / sample':28s}" + ''.join(f'{n:>10s}' for n in names))
    for k in keys + ['total']:
        print(f'{k:28s}' + ''.join(f'{ms[n].get(k, 0.):10.2f}' for n in names))
    print(f"{'ratio of totals to mocov2':28s}" + ''.join(
        f"{ms[n]['total'] / ms[baseline_of.get(n, n)]['total']:10.2f}" for n in names))


def print_rates(rates: dict, baseline_of: dict) -> None:
    """Images/s per mode (rows) and candidate (columns), then each config's ratio to its
    baseline, all with 3 significant digits."""
    names = list(next(iter(rates.values())))
    ratios = [f'{n}/{b}' for n, b in baseline_of.items()]
    print(f"{'img/s':14s}" + ''.join(f'{n:>10s}' for n in names) +
          ''.join(f'{r:>10s}' for r in ratios))
    for mode, r in rates.items():
        print(f'{mode:14s}' + ''.join(f'{significant(r[n]):>10s}' for n in names) + ''.join(
            f'{significant(r[n] / r[b]):>10s}' for n, b in baseline_of.items()))


def main(argv=None) -> None:
    args = parse_args(argv)
    init_default_scope('mmselfsup')  # MoCo v2's; each config is built in its own below
    cfgs, baseline_of = candidate_configs(args)
    for name, (what, _) in cfgs.items():
        print(f'{name} {what}')
    if args.breakdown:
        datasets = {}
        for name, (_, cfg) in cfgs.items():
            with config_scope(cfg):
                datasets[name] = build_dataset(cfg, args.data_root)
        print(f'data {args.data_root}, {args.breakdown} images, this process, '
              f'torch threads {torch.get_num_threads()}')
        print_breakdown(pipeline_breakdown(datasets, args.breakdown), baseline_of)
        return
    first = next(iter(baseline_of))  # the first of --configs
    batch = args.batch or cfgs[first][1].train_dataloader.batch_size
    cands = {}
    for name, (_, cfg) in cfgs.items():
        reduction = args.baseline == 'reduction' and name not in baseline_of
        with config_scope(cfg):
            cands[name] = Candidate(cfg, batch, args.device, args.amp, args.channels_last,
                                    args.data_root, args.workers,
                                    GLOBAL_VIEWS if reduction else None)
    rates = measure(cands, args.modes, args.rounds, args.iters)
    print(f'data {args.data_root or "synthetic views only"}, device {args.device}, batch '
          f'{batch}, workers {args.workers}, {args.rounds} rounds x {args.iters} batches, '
          f'amp(bf16) {args.amp}, channels_last {args.channels_last}')
    print_rates(rates, baseline_of)
    if args.device.startswith('cuda'):
        print(f"{'peak CUDA MiB':14s}" + ''.join(f'{c.peak_mem / 2**20:10.0f}'
                                                 for c in cands.values()))
    else:
        print(f'peak RSS of this process (all candidates): {max_rss_mib():.0f} MiB')


if __name__ == '__main__':
    main()
