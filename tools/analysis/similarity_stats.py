# Copyright (c) detco_mm contributors. All rights reserved.
"""Positive / negative similarity statistics of a DetCo checkpoint, per stage and contrast.

The statistics behind Fig. 9 of the paper (appendix): for every stage (res2..res5) and
every enabled contrast (g2g, l2l, l2g), the cosine similarity of each query with its own key
(positive) and with every key stored in the queue of the key's view and stage (negatives),
the negatives the InfoNCE of that loss term uses. The paper's argument for the l2g contrast
is that the positives of l2g are less similar than those of g2g (dP > 0) while the negatives
are about as similar (dN -> 0); the last table gives both per stage.

Views come from the config's training pipeline (global q, global k, local q, local k) on the
images under ``--data-root``; queries from the query encoder, keys from the momentum
encoder. The model is in eval mode, so batch norm uses its running statistics and the keys
need no shuffle-BN; nothing is enqueued, every batch sees the checkpoint's queues.
Fig. 9 plots exp(cos) of per-batch means; this reports cosine similarity over all samples
(exp is monotonic, the ordering of g2g and l2g is the same). ``--plot`` draws their
histograms per stage (g2g vs l2g, positives and negatives), ``--compare`` a second checkpoint
beside the first (e.g. an early and a late epoch, or DetCo vs HIC-only).

Example:
    python tools/analysis/similarity_stats.py \
        configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py \
        work_dirs/detco_demo/epoch_2.pth --data-root data/detco_demo/ --out stats.json \
        --compare work_dirs/detco_demo/epoch_1.pth --plot fig9.png
"""
import argparse
import itertools
import json
import os
import os.path as osp
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.runner import set_random_seed
from mmselfsup.registry import DATASETS
from torch.utils.data import DataLoader

import detco_mm  # noqa: F401  registers DetCo, repairs mmselfsup's registries
from detco_ckpt import CheckpointError
from detco_mm.backends import init_config_scope
from detco_mm.evaluation import collect_similarities, load_detco, summarize
from detco_mm.evaluation.similarity import NUM_BINS


class StatsError(Exception):
    """A wrong input (config or data root); its message is one line."""


def build_dataset(cfg: Config, data_root: str):
    """The config's training dataset and pipeline on the images under ``data_root``.

    Args:
        cfg (Config): The loaded config.
        data_root (str): Replaces ``train_dataloader.dataset.data_root``.

    Returns:
        Dataset: A non-empty dataset whose items hold the 4 views.

    Raises:
        StatsError: No such folder, or the dataset finds no image there.
    """
    if not osp.isdir(data_root):
        raise StatsError(f'{data_root}: no such data root folder')
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = data_root
    layout = (f'{dataset_cfg.type} with ann_file={dataset_cfg.get("ann_file")!r}, '
              f'data_prefix={dataset_cfg.get("data_prefix")}')
    try:
        dataset = DATASETS.build(dataset_cfg)
    except Exception as error:  # mmcls datasets fail in several ways on an empty folder
        raise StatsError(f'{data_root}: no images for {layout} ({type(error).__name__}: '
                         f'{" ".join(str(error).split())[:160]})') from None
    if len(dataset) == 0:
        raise StatsError(f'{data_root}: no images for {layout}')
    return dataset


def format_table(stats: Dict[str, Dict[str, Dict[str, float]]],
                 deltas: Dict[str, Dict[str, float]]) -> str:
    """The stage x contrast table, then dP and dN of g2g vs l2g when both are enabled."""
    lines = [f'{"stage":6s} {"contrast":8s} {"pos mean":>9s} {"pos std":>8s} '
             f'{"neg mean":>9s} {"neg std":>8s} {"margin":>8s}']
    for stage, by_contrast in stats.items():
        for contrast, s in by_contrast.items():
            lines.append(f'{stage:6s} {contrast:8s} {s["pos_mean"]:9.4f} {s["pos_std"]:8.4f} '
                         f'{s["neg_mean"]:9.4f} {s["neg_std"]:8.4f} {s["margin_mean"]:8.4f}')
    if deltas:
        lines += ['', 'g2g vs l2g (Fig. 9): dP = pos(g2g) - pos(l2g), '
                  'dN = neg(g2g) - neg(l2g)', f'{"stage":6s} {"dP":>8s} {"dN":>8s}']
        lines += [f'{stage:6s} {d["dP"]:8.4f} {d["dN"]:8.4f}' for stage, d in deltas.items()]
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='DetCo pretraining config')
    parser.add_argument('checkpoint', help='DetCo training checkpoint (epoch_N.pth)')
    parser.add_argument('--data-root', required=True,
                        help='replaces train_dataloader.dataset.data_root')
    parser.add_argument('--num-batches', type=int, default=1000,
                        help='at most this many batches (the paper: 1000 of 32)')
    parser.add_argument('--batch-size', type=int, default=None,
                        help='defaults to train_dataloader.batch_size')
    parser.add_argument('--num-workers', type=int, default=0, help='data loading processes')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='seeds the choice of images and their augmentations')
    parser.add_argument('--out', help='write the statistics to this JSON file')
    parser.add_argument('--compare', help='a second DetCo checkpoint, side by side')
    parser.add_argument('--plot', help='write the Fig. 9 histograms to this PNG')
    return parser


def analyse(args, cfg: Config, checkpoint: str, dataset) -> dict:
    """Statistics, g2g vs l2g deltas and histograms of one checkpoint."""
    model = load_detco(cfg, args.config, checkpoint)
    needed, num_views = model.num_input_views, len(dataset[0]['inputs'])
    if num_views < needed:
        raise StatsError(f'{args.config}: the train pipeline gives {num_views} views, '
                         f'contrasts {model.head.contrasts} need {needed}')
    model.to(args.device).eval()
    # A random (seeded) subset: ImageNet's ann_file is sorted by class.
    loader = DataLoader(dataset, batch_size=args.batch_size or cfg.train_dataloader.batch_size,
                        shuffle=True, num_workers=args.num_workers, collate_fn=default_collate,
                        generator=torch.Generator().manual_seed(args.seed))
    totals, num_samples = collect_similarities(model, itertools.islice(loader,
                                                                       args.num_batches))
    stats = {stage: {c: summarize(totals[stage, c]) for c in model.head.contrasts}
             for stage in model.head.stages}
    deltas = dict()
    if {'g2g', 'l2g'} <= set(model.head.contrasts):
        deltas = {stage: dict(dP=s['g2g']['pos_mean'] - s['l2g']['pos_mean'],
                              dN=s['g2g']['neg_mean'] - s['l2g']['neg_mean'])
                  for stage, s in stats.items()}
    histograms = {stage: {c: {part: totals[stage, c][f'{part}_hist'].tolist()
                              for part in ('pos', 'neg')} for c in model.head.contrasts}
                  for stage in model.head.stages}
    print(f'{checkpoint}: {num_samples} images of {args.data_root}, queue length '
          f'{model.head.queue_len}, cosine similarity; margin = mean of pos - max(neg)')
    print(format_table(stats, deltas))
    return dict(checkpoint=checkpoint, num_samples=num_samples,
                queue_len=model.head.queue_len, stats=stats, g2g_vs_l2g=deltas,
                histograms=histograms)


def plot(results: list, out: str) -> None:
    """Fig. 9: per stage (rows) and checkpoint (columns), densities of the positive (solid)
    and negative (dashed) similarities of g2g and l2g (or of whatever contrasts ran)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    stages = list(results[0]['stats'])
    fig, axes = plt.subplots(len(stages), len(results), squeeze=False, sharex=True,
                             figsize=(5 * len(results), 2.2 * len(stages)))
    centres = [-1 + (i + 0.5) * 2 / NUM_BINS for i in range(NUM_BINS)]
    for col, result in enumerate(results):
        for row, stage in enumerate(stages):
            ax = axes[row, col]
            for i, (contrast, hists) in enumerate(result['histograms'][stage].items()):
                if contrast not in ('g2g', 'l2g') and {'g2g', 'l2g'} <= set(
                        result['histograms'][stage]):
                    continue
                for part, style in (('pos', '-'), ('neg', '--')):
                    total = sum(hists[part]) or 1
                    ax.plot(centres, [c / total for c in hists[part]], style, color=f'C{i}',
                            label=f'{contrast} {part}')
            ax.set_title(f'{osp.basename(result["checkpoint"])} {stage}', fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel('cosine similarity (query vs own key: pos, vs queue: neg)')
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    print(f'Wrote {out}')


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_batches < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error('--num-batches and --batch-size must be positive')
    results = []
    try:
        cfg = Config.fromfile(args.config)
        init_config_scope(cfg)
        dataset = build_dataset(cfg, args.data_root)
        for checkpoint in [args.checkpoint] + ([args.compare] if args.compare else []):
            set_random_seed(args.seed)  # the same images and views for both checkpoints
            results.append(analyse(args, cfg, checkpoint, dataset))
    except (CheckpointError, StatsError, ValueError) as error:
        parser.exit(1, f'{parser.prog}: error: {error}\n')

    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as file:
            json.dump(dict(config=args.config, data_root=args.data_root, **results[0],
                           compare=results[1] if args.compare else None), file, indent=2)
        print(f'Wrote {args.out}')
    if args.plot:
        os.makedirs(osp.dirname(osp.abspath(args.plot)), exist_ok=True)
        plot(results, args.plot)


if __name__ == '__main__':
    main()
