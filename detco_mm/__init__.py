# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo (ICCV 2021) for OpenMMLab.

``import detco_mm`` (or ``custom_imports=dict(imports=['detco_mm'])`` in a config) applies the
repairs of the pinned stack in ``detco_mm.stack_repairs``, makes a refused checkpoint end the
process with its one-line reason (``detco_mm.excepthook``), and imports the mmselfsup face,
``detco_mm.backends.mmselfsup``, which registers ``DetCo``, ``DetCoNeck``, ``DetCoHead``,
``DetCoGPUAugDataPreprocessor`` into mmselfsup's MODELS, ``CheckedImageList`` and
``UnlabeledImages`` into its DATASETS, ``JigsawPatches``, ``ContiguousRandomResizedCrop``,
``LoadImageChecked`` and ``MultiViewWithMeta`` into its TRANSFORMS,
``CrashSafeCheckpointHook``, ``JigsawCheckHook``, ``NonFiniteCheckHook``, ``PerStageKNNHook``,
``PreciseBNHook``, ``PretrainedCheckHook``, ``ReestimateBNHook``, ``QueueBatchCheckHook``,
``SkippedImagesHook``, ``ViewRetrievalHook`` and ``WeightsOnlyCheckpointHook`` into its HOOKS,
and ``DetCoLogProcessor`` into its LOG_PROCESSORS. The mmpretrain face is
``detco_mm.backends.mmpretrain``; the layers are described in docs/design.md, which also
explains the tags of the docstrings: [P] the paper, [M] MoCo v2 (and mmselfsup's MoCo v2
config), [C] this implementation's choice where the paper is silent.
"""
from . import stack_repairs
from .excepthook import install_checkpoint_error_hook

# Before the modules below import the toolboxes: a repair may have to precede their imports.
stack_repairs.apply_all()
install_checkpoint_error_hook()

from .backends.mmselfsup import (
    CheckedImageList,
    ContiguousRandomResizedCrop,
    DetCo,
    DetCoHead,
    UnlabeledImages,
)
from .datasets import JigsawPatches, LoadImageChecked, MultiViewWithMeta
from .engine import (
    CrashSafeCheckpointHook,
    DetCoLogProcessor,
    JigsawCheckHook,
    NonFiniteCheckHook,
    PerStageKNNHook,
    PreciseBNHook,
    PretrainedCheckHook,
    QueueBatchCheckHook,
    ReestimateBNHook,
    SkippedImagesHook,
    ViewRetrievalHook,
    WeightsOnlyCheckpointHook,
)
from .models import DetCoGPUAugDataPreprocessor, DetCoNeck

__version__ = '0.1.0'

__all__ = [
    'CheckedImageList', 'ContiguousRandomResizedCrop', 'CrashSafeCheckpointHook', 'DetCo',
    'DetCoGPUAugDataPreprocessor', 'DetCoHead', 'DetCoLogProcessor', 'DetCoNeck',
    'JigsawCheckHook', 'JigsawPatches', 'LoadImageChecked', 'MultiViewWithMeta',
    'NonFiniteCheckHook', 'PerStageKNNHook', 'PreciseBNHook', 'PretrainedCheckHook',
    'QueueBatchCheckHook', 'ReestimateBNHook', 'SkippedImagesHook', 'UnlabeledImages',
    'ViewRetrievalHook', 'WeightsOnlyCheckpointHook'
]
