# Copyright (c) detco_mm contributors. All rights reserved.
"""What the benchmark scripts beside this module share (each imports it as ``_bench``: a
script's folder is the first entry of ``sys.path``): the ``mim train`` command line and the
mean, spread and confidence interval of repeated runs."""
import importlib
import math
import os.path as osp
import shutil
import sys
from typing import List, Optional, Sequence, Tuple

from scipy import stats


def mim_train(package: str, *args: str) -> List[str]:
    """The command line of ``mim train PACKAGE ARGS`` (the mim of this Python first).

    Without mim (the GPU image of gpu_evidence.sh), the package's own ``.mim/tools/train.py``,
    which is what mim runs for one process; several processes (``--gpus``) need mim.
    """
    found = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    if found:
        return [found, 'train', package, *args]
    if '--gpus' in args:
        raise SystemExit(f'mim not found: `mim train {package} ... --gpus` starts the '
                         f'processes; `pip install openmim`')
    script = osp.join(importlib.import_module(package).__path__[0], '.mim', 'tools', 'train.py')
    return [sys.executable, script, *args]


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.
    return mean, math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))


def format_mean_std(mean: float, std: Optional[float], digits: int = 1) -> str:
    """``'mean ± std'`` with ``digits`` decimals; the mean alone where ``std`` is None."""
    return f'{mean:.{digits}f}' + ('' if std is None else f' ± {std:.{digits}f}')


def mean_std_cell(values: Sequence[float], digits: int = 1) -> str:
    """A table cell of repeated runs: ``'mean ± std'``, the value of a single run, ``'-'``
    for none."""
    if not values:
        return '-'
    mean, std = mean_std(values)
    return format_mean_std(mean, std if len(values) > 1 else None, digits)


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
