# Copyright (c) detco_mm contributors. All rights reserved.
"""Training curves and last values from the scalars.json files mmengine's LocalVisBackend
writes (one JSON object per logged step or evaluation): the one reader of that format."""
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np

from ..engine.log_processor import term_sums

Curve = Tuple[np.ndarray, np.ndarray]


def scalar_files(path: str) -> List[str]:
    """The scalars.json of every run in a work dir, oldest first (a ``--resume`` adds one).

    Args:
        path (str): A work dir (``WORK_DIR/<timestamp>/vis_data/scalars.json``) or one file.
    """
    if osp.isfile(path):
        return [path]
    # Run folders are named YYYYmmdd_HHMMSS: sorting them sorts by start time.
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {path!r}: pass the work dir '
                                f'of a training run (its --work-dir) or a scalars.json')
    return files


def _scalar_lines(path: str) -> List[dict]:
    """Every logged line of every run in a work dir (or of one scalars.json), oldest first.

    Args:
        path (str): A work dir or a scalars.json (see ``scalar_files``).
    """
    lines = []
    for file in scalar_files(path):
        with open(file) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def last_values(path: str) -> Dict[str, float]:
    """The last logged value of every scalar of a work dir's runs, e.g. the metrics of the
    final evaluation (``coco/bbox_mAP``, ``pascal_voc/mAP``) or the final loss; a later run
    (``--resume``) wins over an earlier one.

    Args:
        path (str): A work dir or a scalars.json.

    Returns:
        dict[str, float]: name -> value; ``iter``, ``epoch`` and ``step`` are not scalars.
    """
    values = {}
    for line in _scalar_lines(path):
        values.update({key: value for key, value in line.items()
                       if key not in ('iter', 'epoch', 'step') and
                       isinstance(value, (int, float))})
    return values


def load_curves(path: str) -> Dict[str, Curve]:
    """Every logged scalar as a curve over training iterations.

    Training lines sit at their ``iter``. Lines without one (metrics logged after an epoch,
    e.g. kNN accuracy, whose ``step`` is the epoch) sit at the last logged iteration of that
    epoch. The per-contrast and per-stage sums of ``term_sums`` are added where a line has the
    per-term losses but not the sums (logs written without ``DetCoLogProcessor``). Where runs
    overlap (resumed from an earlier checkpoint) the later run's values win.

    Args:
        path (str): A work dir or a scalars.json.

    Returns:
        dict[str, tuple[ndarray, ndarray]]: name -> (iterations, values), sorted.
    """
    lines = _scalar_lines(path)
    last_iter_of_epoch = {}
    for line in lines:
        if 'iter' in line and 'epoch' in line:
            last_iter_of_epoch[line['epoch']] = line['iter']
    points: Dict[str, Dict[float, float]] = {}
    for line in lines:
        if 'iter' in line:
            x = line['iter']
            by_contrast, by_stage = term_sums(line)
            derived = {**{f'contrast/{c}': v for c, v in by_contrast.items()},
                       **{f'stage/{s}': v for s, v in by_stage.items()}}
            line = {**derived, **line}
        else:
            x = last_iter_of_epoch.get(line.get('step'), line.get('step'))
            # mmengine adds the evaluation's own timing to these lines; keep the training's.
            line = {k: v for k, v in line.items() if k not in ('time', 'data_time')}
        for key, value in line.items():
            if key not in ('iter', 'epoch', 'step') and isinstance(value, (int, float)):
                points.setdefault(key, {})[x] = value
    return {k: (np.array(sorted(p)), np.array([p[x] for x in sorted(p)]))
            for k, p in points.items()}
