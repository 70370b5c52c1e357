# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo (ICCV 2021) for OpenMMLab.

``import detco_mm`` (or ``custom_imports=dict(imports=['detco_mm'])`` in a config) registers
``DetCo``, ``DetCoNeck``, ``DetCoHead`` into mmselfsup's MODELS, ``JigsawPatches`` into its
TRANSFORMS, ``PerStageKNNHook``, ``QueueBatchCheckHook``, ``ReestimateBNHook`` and
``WeightsOnlyCheckpointHook`` into its HOOKS, and applies the repairs of the pinned stack in
``detco_mm.stack_repairs``.
"""
from . import stack_repairs

# Before the modules below import the toolboxes: a repair may have to precede their imports.
stack_repairs.apply_all()

from .datasets import JigsawPatches  # noqa: E402
from .engine import (PerStageKNNHook, QueueBatchCheckHook,  # noqa: E402
                     ReestimateBNHook, WeightsOnlyCheckpointHook)
from .models import DetCo, DetCoHead, DetCoNeck  # noqa: E402

__version__ = '0.1.0'

__all__ = [
    'DetCo', 'DetCoHead', 'DetCoNeck', 'JigsawPatches', 'PerStageKNNHook',
    'QueueBatchCheckHook', 'ReestimateBNHook', 'WeightsOnlyCheckpointHook'
]
