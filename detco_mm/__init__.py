# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo (ICCV 2021) for OpenMMLab.

``import detco_mm`` (or ``custom_imports=dict(imports=['detco_mm'])`` in a config) registers
``DetCo``, ``DetCoNeck``, ``DetCoHead`` into mmselfsup's MODELS, ``JigsawPatches`` into its
TRANSFORMS, ``QueueBatchCheckHook`` and ``WeightsOnlyCheckpointHook`` into its HOOKS, and
repairs the mmselfsup 1.0.0 registry bug below.
"""
from mmselfsup.registry import LOOPS, RUNNER_CONSTRUCTORS, RUNNERS

from .datasets import JigsawPatches
from .engine import QueueBatchCheckHook, WeightsOnlyCheckpointHook
from .models import DetCo, DetCoHead, DetCoNeck

__version__ = '0.1.0'


def _repair_mmselfsup_registries() -> None:
    """mmselfsup 1.0.0 (the PyPI wheel) names a module ``mmselfsup.engine.runner`` that it
    does not ship as the location of these registries, so ``Runner.build_train_loop`` fails
    with ModuleNotFoundError (upstream issue #745, fixed only on its git main). Dropping the
    location lets the lookup fall back to the parent mmengine registries, as upstream does."""
    for registry in (RUNNERS, RUNNER_CONSTRUCTORS, LOOPS):
        locations = getattr(registry, '_locations', None)
        if locations and 'mmselfsup.engine.runner' in locations:
            locations.remove('mmselfsup.engine.runner')


_repair_mmselfsup_registries()

__all__ = [
    'DetCo', 'DetCoHead', 'DetCoNeck', 'JigsawPatches', 'QueueBatchCheckHook',
    'WeightsOnlyCheckpointHook'
]
