# Copyright (c) detco_mm contributors. All rights reserved.
"""Training-step throughput of a DetCo config against its MoCo v2 reduction, in one run.

Both models are built from the same config; the baseline switches to weights (0, 0, 0, 1),
g2g only, no local views (Table 1(a)), i.e. what MoCo v2 computes plus three idle heads.
Steps alternate between the two models so machine noise hits both; the ratio is the number
to compare across machines. Inputs are random tensors of the config's view sizes, so the
data pipeline is not measured.

Example:
    python tools/analysis/pretrain_speed.py configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py
    python tools/analysis/pretrain_speed.py configs/detco/detco_resnet50_8xb32-coslr-200e_in1k.py \
        --device cuda --batch 64 --amp
"""
import argparse
import copy
import math
import time

import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar

import detco_mm  # noqa: F401
from detco_mm.backends import init_config_scope
from mmselfsup.registry import MODELS


def view_sizes(cfg) -> tuple:
    """(global, local mosaic) side in px from the config's MultiView."""
    multi = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type.startswith('MultiView'))
    flat = [t for pipe in multi.transforms for t in pipe]
    crops = [t.size for t in flat if t.get('type') == 'RandomResizedCrop']
    jig = [t for t in flat if t.get('type') == 'JigsawPatches']
    return crops[0], jig[0].grid * jig[0].patch_size


def significant(x: float, digits: int = 3) -> str:
    """x with ``digits`` significant digits and no exponent: 0.132, 12.3, 1462."""
    decimals = max(digits - 1 - math.floor(math.log10(abs(x))), 0) if x else 0
    return f'{x:.{decimals}f}'


def step(model, optim, views, amp: bool) -> None:
    optim.zero_grad()
    with torch.autocast(views[0].device.type, enabled=amp):
        losses = model.loss(views, [])
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    optim.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=None, help='per-step batch')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', action='store_true')
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    init_config_scope(cfg)
    batch = args.batch or cfg.train_dataloader.batch_size
    g, l = view_sizes(cfg)
    base_cfg = copy.deepcopy(cfg.model)
    base_cfg.neck.with_local = False
    base_cfg.head.update(contrasts=['g2g'],
                         loss_weights=[0.] * (len(base_cfg.head.stages) - 1) + [1.])
    for c in (cfg.model, base_cfg):
        c.head.queue_len = max(c.head.queue_len // batch, 1) * batch
    models = {'detco': MODELS.build(cfg.model), 'mocov2': MODELS.build(base_cfg)}
    views = {'detco': [torch.randn(batch, 3, g, g)] * 2 + [torch.randn(batch, 3, l, l)] * 2,
             'mocov2': [torch.randn(batch, 3, g, g)] * 2}
    optims, elapsed = {}, {}
    for name, model in models.items():
        model.to(args.device).train()
        views[name] = [v.to(args.device) for v in views[name]]
        optims[name] = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        elapsed[name] = 0.
    bar = ProgressBar(args.warmup + args.steps)
    for i in range(args.warmup + args.steps):
        for name, model in models.items():
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(model, optims[name], views[name], args.amp)
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            if i >= args.warmup:
                elapsed[name] += time.perf_counter() - t0
        bar.update()
    rate = {n: args.steps * batch / t for n, t in elapsed.items()}
    print(f'\nconfig {args.config}, batch {batch}, {args.steps} timed steps after '
          f'{args.warmup} warm-up, device {args.device}, amp {args.amp}')
    for n in models:
        print(f'{n:7s} {significant(rate[n]):>8s} img/s   '
              f'{significant(elapsed[n] / args.steps):>8s} s/step')
    print(f'detco / mocov2 throughput ratio: {rate["detco"] / rate["mocov2"]:.3f}')


if __name__ == '__main__':
    main()
