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
(exp is monotonic, the ordering of g2g and l2g is the same).

Example:
    python tools/analysis/similarity_stats.py \
        configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py \
        work_dirs/detco_demo/epoch_2.pth --data-root data/detco_demo/ --out stats.json
"""
import argparse
import json
import os
import os.path as osp
import re
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from torch.utils.data import DataLoader

import detco_mm  # noqa: F401  registers DetCo, repairs mmselfsup's registries
from detco_mm.models.algorithms.detco import VIEW_INPUTS, DetCo
from detco_mm.models.heads.detco_head import CONTRASTS, negative_logits, positive_logits
from mmselfsup.registry import DATASETS, MODELS

# The buffers only DetCoHead has: one queue per key view ('g', 'l').
QUEUE_KEYS = ('head.queue_g', 'head.queue_l')


class StatsError(Exception):
    """A wrong input (checkpoint, config or data root); its message is one line."""


def similarity_moments(q: torch.Tensor, k: torch.Tensor,
                       queue: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Sums of the similarities of one batch, which add up over batches.

    A queue holds up to 65536 keys, so the (N, K) negatives of all batches cannot be kept;
    counts, sums and sums of squares (float64, values lie in [-1, 1]) can.

    Args:
        q (Tensor): Queries, (N, D), not necessarily normalised.
        k (Tensor): The key of each query, (N, D), not necessarily normalised.
        queue (Tensor): Negative keys, (D, K), L2-normalised along D as ``DetCoHead``
            stores them; used as is, like the loss does.

    Returns:
        dict[str, Tensor]: float64 scalars ``num_pos``, ``pos_sum``, ``pos_sq_sum``,
        ``num_neg``, ``neg_sum``, ``neg_sq_sum`` and ``margin_sum`` (sum over queries of
        pos - max(neg)).
    """
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    # The functions the loss uses, so the numbers are those behind each InfoNCE term.
    pos = positive_logits(q, k).squeeze(1).double()  # (N,)
    neg = negative_logits(q, queue).double()  # (N, K)
    return dict(
        num_pos=pos.new_tensor(pos.numel()),
        pos_sum=pos.sum(),
        pos_sq_sum=pos.square().sum(),
        num_neg=neg.new_tensor(neg.numel()),
        neg_sum=neg.sum(),
        neg_sq_sum=neg.square().sum(),
        margin_sum=(pos - neg.max(dim=1).values).sum())


def summarize(moments: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Means and (population) standard deviations from ``similarity_moments`` sums.

    Args:
        moments (dict[str, Tensor]): Output of ``similarity_moments``, or the sum of
            several.

    Returns:
        dict[str, float]: ``pos_mean``, ``pos_std``, ``neg_mean``, ``neg_std`` (over all
        query-negative pairs) and ``margin_mean`` (mean over queries of pos - max(neg)).
    """
    def mean_std(prefix: str, num: torch.Tensor) -> Tuple[float, float]:
        mean = moments[f'{prefix}_sum'] / num
        # Rounding can make E[x^2] - E[x]^2 slightly negative when all values are equal.
        var = (moments[f'{prefix}_sq_sum'] / num - mean.square()).clamp(min=0)
        return mean.item(), var.sqrt().item()

    pos_mean, pos_std = mean_std('pos', moments['num_pos'])
    neg_mean, neg_std = mean_std('neg', moments['num_neg'])
    return dict(pos_mean=pos_mean, pos_std=pos_std, neg_mean=neg_mean, neg_std=neg_std,
                margin_mean=(moments['margin_sum'] / moments['num_pos']).item())


def similarity_stats(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor) -> Dict[str, float]:
    """Similarity statistics of one set of queries, keys and a queue.

    Args:
        q (Tensor): Queries, (N, D), not necessarily normalised.
        k (Tensor): The key of each query, (N, D), not necessarily normalised.
        queue (Tensor): L2-normalised negative keys, (D, K).

    Returns:
        dict[str, float]: See ``summarize``.
    """
    return summarize(similarity_moments(q, k, queue))


def load_detco_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a DetCo training checkpoint, loaded with ``weights_only=True``.

    Only ``state_dict`` is read; it holds tensors, so ``decode_checkpoint`` (which restores
    the message hub of ``WeightsOnlyCheckpointHook`` checkpoints) has nothing to undo there.

    Args:
        path (str): Checkpoint file, e.g. ``work_dirs/.../epoch_200.pth``.

    Returns:
        dict[str, Tensor]: ``DetCo.state_dict()``.

    Raises:
        StatsError: Missing or unreadable file, no ``state_dict``, or not DetCo's.
    """
    if not osp.isfile(path):
        raise StatsError(f'{path}: no such checkpoint file')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch.load raises many types for foreign or damaged files
        # torch's refusal runs over many lines; the object it refused is what matters.
        unsafe = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
        cause = (f'it holds a {unsafe.group(1)} object' if unsafe else
                 f'{type(error).__name__}: {" ".join(str(error).split())[:160]}')
        raise StatsError(f'{path}: not a checkpoint torch.load(weights_only=True) reads '
                         f'({cause})') from None
    state_dict = checkpoint.get('state_dict') if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise StatsError(f'{path}: not an mmengine checkpoint, no state_dict entry')
    if not any(key in state_dict for key in QUEUE_KEYS):
        modules = sorted({key.split('.')[0] for key in state_dict})
        raise StatsError(f'{path}: not a DetCo checkpoint, no {QUEUE_KEYS[0]} in its '
                         f'state_dict (its modules: {", ".join(modules) or "none"})')
    return state_dict


def build_detco(cfg: Config, config: str, state_dict: Dict[str, torch.Tensor],
                checkpoint: str) -> DetCo:
    """The config's DetCo with the checkpoint's weights and queues.

    Args:
        cfg (Config): The loaded config.
        config (str): Its path, for the messages.
        state_dict (dict[str, Tensor]): From ``load_detco_state_dict``.
        checkpoint (str): Its path, for the messages.

    Returns:
        DetCo: The model, on the CPU, in training mode.

    Raises:
        StatsError: The config's model is not DetCo or does not fit the checkpoint.
    """
    model = MODELS.build(cfg.model)
    if not isinstance(model, DetCo):
        raise StatsError(f'{config}: model is {type(model).__name__}, not DetCo')
    # A one-line summary instead of load_state_dict's list of every mismatching tensor.
    own = model.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    resized = [key for key in own
               if key in state_dict and own[key].shape != state_dict[key].shape]
    if missing or unexpected or resized:
        first = (missing or unexpected or resized)[0]
        raise StatsError(f'{checkpoint} does not fit the model of {config}: {len(missing)} '
                         f'missing, {len(unexpected)} unexpected, {len(resized)} differently '
                         f'shaped tensors (first: {first})')
    model.load_state_dict(state_dict)
    return model


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


@torch.no_grad()
def batch_moments(model: DetCo, inputs: list) -> Dict[Tuple[str, str], Dict[str, torch.Tensor]]:
    """``similarity_moments`` of every stage and contrast for one preprocessed batch.

    Args:
        model (DetCo): In eval mode.
        inputs (list[Tensor]): [global q, global k, local q, local k], each (N, 3, H, W).

    Returns:
        dict[tuple[str, str], dict[str, Tensor]]: (stage, contrast) -> moments.
    """
    views = model.head.views
    queries = {v: model.encode(model, inputs[VIEW_INPUTS[v][0]], v) for v in views}
    keys = {v: model.encode(model.encoder_k.module, inputs[VIEW_INPUTS[v][1]], v)
            for v in views}
    moments = dict()
    for i, stage in enumerate(model.head.stages):
        for contrast in model.head.contrasts:
            q_view, k_view = CONTRASTS[contrast]
            moments[stage, contrast] = similarity_moments(
                queries[q_view][i], keys[k_view][i], model.head.queue(k_view, i))
    return moments


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
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_batches < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error('--num-batches and --batch-size must be positive')
    init_default_scope('mmselfsup')
    set_random_seed(args.seed)
    try:
        state_dict = load_detco_state_dict(args.checkpoint)
        cfg = Config.fromfile(args.config)
        dataset = build_dataset(cfg, args.data_root)
        model = build_detco(cfg, args.config, state_dict, args.checkpoint)
        needed = model.num_input_views
        num_views = len(dataset[0]['inputs'])
        if num_views < needed:
            raise StatsError(f'{args.config}: the train pipeline gives {num_views} views, '
                             f'contrasts {model.head.contrasts} need {needed}')
    except StatsError as error:
        parser.exit(1, f'{parser.prog}: error: {error}\n')

    model.to(args.device).eval()
    # A random (seeded) subset: ImageNet's ann_file is sorted by class.
    loader = DataLoader(dataset, batch_size=args.batch_size or cfg.train_dataloader.batch_size,
                        shuffle=True, num_workers=args.num_workers, collate_fn=default_collate,
                        generator=torch.Generator().manual_seed(args.seed))
    totals, num_samples = dict(), 0
    for step, batch in enumerate(loader):
        if step == args.num_batches:
            break
        inputs, _ = model.data_preprocessor(batch, False)
        for name, moments in batch_moments(model, inputs).items():
            total = totals.setdefault(name, dict.fromkeys(moments, 0))
            for key, value in moments.items():
                total[key] = total[key] + value
        num_samples += inputs[0].shape[0]

    stats = {stage: {c: summarize(totals[stage, c]) for c in model.head.contrasts}
             for stage in model.head.stages}
    deltas = dict()
    if {'g2g', 'l2g'} <= set(model.head.contrasts):
        deltas = {stage: dict(dP=s['g2g']['pos_mean'] - s['l2g']['pos_mean'],
                              dN=s['g2g']['neg_mean'] - s['l2g']['neg_mean'])
                  for stage, s in stats.items()}
    print(f'{args.checkpoint}: {num_samples} images of {args.data_root}, queue length '
          f'{model.head.queue_len}, cosine similarity; margin = mean of pos - max(neg)')
    print(format_table(stats, deltas))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as file:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                           data_root=args.data_root, num_samples=num_samples,
                           queue_len=model.head.queue_len, stats=stats,
                           g2g_vs_l2g=deltas), file, indent=2)
        print(f'Wrote {args.out}')


if __name__ == '__main__':
    main()
