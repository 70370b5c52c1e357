# Copyright (c) detco_mm contributors. All rights reserved.
"""PNG plots of a pretraining run's curves from its scalars.json (no TensorBoard needed).

Writes into OUT (default WORK_DIR/curves/):
    loss.png   total loss with its per-contrast and per-stage sums (weighted terms, eq. 1)
    terms.png  every unweighted InfoNCE term (nce_{contrast}_{stage}) against its chance
               level ln(queue_len + 1) (the queue length is read from the run's saved config)
    knn.png    kNN accuracies (knn/...), when the run logged them

Example:
    python tools/analysis/plot_curves.py work_dirs/detco_demo
"""
import argparse
import glob
import inspect
import math
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

from detco_mm.engine.log_processor import TERM_KEY  # noqa: E402
from detco_mm.models.heads.detco_head import DetCoHeadMixin, stage_weights  # noqa: E402
from detco_mm.visualization import load_curves, scalar_files  # noqa: E402


def chance_levels(work_dir: str):
    """(ln(K + 1) per term, the total loss at that level) from the run's saved config, or
    (None, None) without a saved DetCo config."""
    configs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'config.py')))
    if not configs:
        return None, None
    head = Config.fromfile(configs[-1]).model.get('head', {})
    if head.get('type') != 'DetCoHead':
        return None, None
    defaults = {n: p.default for n, p in inspect.signature(DetCoHeadMixin).parameters.items()}
    head = {**defaults, **head}
    per_term = math.log(head['queue_len'] + 1)
    weights = stage_weights(head['loss_weights'], head['normalize_weights'])
    return per_term, per_term * sum(weights) * len(head['contrasts'])


def plot_loss(curves, total_chance, out):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, group in zip(axes, ('contrast', 'stage')):
        ax.plot(*curves['loss'], color='k', lw=2, label='total')
        for key in sorted(k for k in curves if k.startswith(f'{group}/')):
            ax.plot(*curves[key], label=key.split('/', 1)[1])
        if total_chance is not None:
            ax.axhline(total_chance, color='gray', ls='--', label='total at chance')
        ax.set(title=f'weighted loss by {group}', xlabel='iteration')
        ax.legend()
    axes[0].set_ylabel('loss')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_terms(curves, chance, out):
    terms = [TERM_KEY.match(k) for k in curves]
    terms = [m for m in terms if m and m.group(1) == 'nce']
    contrasts = list(dict.fromkeys(m.group(2) for m in terms))
    stages = sorted({m.group(3) for m in terms})
    fig, axes = plt.subplots(len(stages), len(contrasts), squeeze=False, sharex=True,
                             figsize=(3.5 * len(contrasts), 2.5 * len(stages)))
    for m in terms:
        ax = axes[stages.index(m.group(3)), contrasts.index(m.group(2))]
        ax.plot(*curves[m.group(0)])
        if chance is not None:
            ax.axhline(chance, color='gray', ls='--')
        ax.set_title(m.group(0), fontsize=9)
    fig.suptitle('unweighted InfoNCE per term' +
                 ('' if chance is None else f'; dashed: chance ln(K+1) = {chance:.2f}'))
    fig.supxlabel('iteration')
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_knn(curves, out):
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for key in sorted(k for k in curves if k.startswith('knn/')):
        ax.plot(*curves[key], marker='o', label=key.split('/', 1)[1])
    ax.set(title='kNN accuracy', xlabel='iteration')
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='--work-dir of a training run')
    parser.add_argument('--out', help='output folder (default WORK_DIR/curves)')
    args = parser.parse_args(argv)

    print(f'reading {", ".join(scalar_files(args.work_dir))}')
    curves = load_curves(args.work_dir)
    if 'loss' not in curves:
        raise SystemExit(f'no "loss" in the scalars.json of {args.work_dir}: not a training run')
    chance, total_chance = chance_levels(args.work_dir)
    out = args.out or osp.join(args.work_dir, 'curves')
    os.makedirs(out, exist_ok=True)
    plots = [('loss.png', lambda f: plot_loss(curves, total_chance, f))]
    if any(k.startswith('nce_') for k in curves):
        plots.append(('terms.png', lambda f: plot_terms(curves, chance, f)))
    if any(k.startswith('knn/') for k in curves):
        plots.append(('knn.png', lambda f: plot_knn(curves, f)))
    bar = ProgressBar(len(plots))
    for name, plot in plots:
        plot(osp.join(out, name))
        bar.update()
    print()
    for name, _ in plots:
        print(osp.join(out, name))


if __name__ == '__main__':
    main()
