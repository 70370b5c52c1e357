# Copyright (c) detco_mm contributors. All rights reserved.
"""Repeated fine-tuning trials of a benchmark config and their mean and spread.

MoCo reports VOC detection as the mean of 5 trials: "Variation on Pascal VOC is large: the std
of AP50, AP, AP75 is expected to be 0.2, 0.2, 0.4 in most cases" (facebookresearch/moco,
detection/README.md). The semi-supervised COCO tables [P 6.1] depend on the drawn split as
well, so there each trial also draws its own split (``make_coco_semi_splits.py --seed``).
"""
import glob
import json
import math
import os.path as osp
import re
import shutil
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from scipy import stats

# ``{stem}.{seed}@{percent}.json``, the split files of tools/data/make_coco_semi_splits.py
SEMI_SPLIT = re.compile(r'^(?P<head>.*?)(?P<stem>[^/]+)\.(?P<seed>\d+)@(?P<percent>[\d.]+)\.json$')


def semi_split(ann_file: str, seed: int) -> Optional[Tuple[str, str, str]]:
    """Where the split of ``seed`` lies, for a semi-supervised split file ``ann_file``.

    Args:
        ann_file (str): A config's ``train_dataloader.dataset.ann_file``.
        seed (int): Seed of the draw.

    Returns:
        tuple | None: ``(ann_file of that draw, stem of the full file, percent)``, e.g.
        ``('semi_anns/instances_train2017.3@10.json', 'instances_train2017', '10')``; None
        when ``ann_file`` is not a split file.
    """
    match = SEMI_SPLIT.match(ann_file)
    if match is None:
        return None
    head, stem, percent = match.group('head', 'stem', 'percent')
    return f'{head}{stem}.{seed}@{percent}.json', stem, percent


def train_command(config: str, work_dir: str, seed: int, cfg_options: Sequence[str] = (),
                  gpus: int = 1) -> List[str]:
    """``mim train mmdet`` for one trial: single process unless ``gpus`` > 1 (torchrun)."""
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or 'mim'
    cmd = [mim, 'train', 'mmdet', config, '--work-dir', work_dir]
    if gpus > 1:
        cmd += ['--launcher', 'pytorch', '--gpus', str(gpus)]
    return cmd + ['--cfg-options', f'randomness.seed={seed}', *cfg_options]


def final_metrics(work_dir: str) -> Dict[str, float]:
    """The metrics of the last evaluation of the latest run in ``work_dir``.

    mmengine logs each evaluation as one line of ``<timestamp>/vis_data/scalars.json`` whose
    metric keys carry the evaluator's prefix (``coco/bbox_mAP``, ``pascal_voc/mAP``).
    """
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json; did the trial run?')
    with open(runs[-1]) as f:
        records = [json.loads(line) for line in f if line.strip()]
    evaluations = [r for r in records if any('/' in key for key in r)]
    if not evaluations:
        raise ValueError(f'{runs[-1]}: no evaluation logged; set train_cfg.val_interval so '
                         'the run evaluates at its end')
    return {key: value for key, value in evaluations[-1].items()
            if '/' in key and isinstance(value, (int, float))}


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.
    return mean, math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean over n >= 2 trials (e.g.
    paired per-seed differences of two methods): mean +/- t(n - 1) x std / sqrt(n).

    Returns:
        tuple[float, float, float]: (mean, low, high).
    """
    if len(values) < 2:
        raise ValueError(f't_interval needs at least 2 values, got {len(values)}')
    mean, std = mean_std(values)
    half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * std / math.sqrt(len(values))
    return mean, mean - half, mean + half


def summarize(trials: Sequence[Dict[str, float]],
              keys: Optional[Sequence[str]] = None) -> Dict[str, Tuple[float, float]]:
    """Mean and std over the trials of each metric (default: those every trial has)."""
    if keys is None:
        keys = [key for key in trials[0] if all(key in t for t in trials)]
    missing = [key for key in keys if any(key not in t for t in trials)]
    if missing:
        raise KeyError(f'metrics {missing} are missing from some trials; logged: '
                       f'{sorted(trials[0])}')
    return {key: mean_std([t[key] for t in trials]) for key in keys}


def markdown_header(keys: Sequence[str]) -> str:
    """Header of the table whose rows ``markdown_row`` writes."""
    return '\n'.join(['| config | trials | ' + ' | '.join(keys) + ' |',
                      '|---|---|' + '---|' * len(keys)])


def markdown_row(name: str, num_trials: int, summary: Dict[str, Tuple[float, float]]) -> str:
    """``| name | n | mean ± std | ... |`` with the metrics in percent, as the papers."""
    cells = [f'{100 * mean:.2f} ± {100 * std:.2f}' for mean, std in summary.values()]
    return f'| {name} | {num_trials} | ' + ' | '.join(cells) + ' |'
