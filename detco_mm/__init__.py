# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo (ICCV 2021) for OpenMMLab.

``import detco_mm`` (or ``custom_imports=dict(imports=['detco_mm'])`` in a config) registers
``DetCo``, ``DetCoNeck``, ``DetCoHead``, ``DetCoGPUAugDataPreprocessor`` into mmselfsup's
MODELS, ``CheckedImageList`` and ``UnlabeledImages`` into its DATASETS, ``JigsawPatches``,
``ContiguousRandomResizedCrop``, ``LoadImageChecked`` and ``MultiViewWithMeta`` into its
TRANSFORMS, ``CrashSafeCheckpointHook``, ``JigsawCheckHook``, ``NonFiniteCheckHook``,
``PerStageKNNHook``, ``PreciseBNHook``, ``PretrainedCheckHook``, ``ReestimateBNHook``,
``QueueBatchCheckHook``, ``SkippedImagesHook``, ``ViewRetrievalHook`` and
``WeightsOnlyCheckpointHook`` into its HOOKS,
``DetCoLogProcessor`` into its LOG_PROCESSORS, applies the repairs of the pinned stack in
``detco_mm.stack_repairs``, and makes a refused checkpoint end the process with its one-line
reason (``detco_mm.excepthook``).
"""
from . import stack_repairs
from .excepthook import install_checkpoint_error_hook

# Before the modules below import the toolboxes: a repair may have to precede their imports.
stack_repairs.apply_all()
install_checkpoint_error_hook()

from .datasets import (CheckedImageList, ContiguousRandomResizedCrop,  # noqa: E402
                       JigsawPatches, LoadImageChecked, MultiViewWithMeta, UnlabeledImages)
from .engine import (CrashSafeCheckpointHook, DetCoLogProcessor,  # noqa: E402
                     JigsawCheckHook, NonFiniteCheckHook, PerStageKNNHook, PreciseBNHook,
                     PretrainedCheckHook, QueueBatchCheckHook, ReestimateBNHook,
                     SkippedImagesHook, ViewRetrievalHook, WeightsOnlyCheckpointHook)
from .models import DetCo, DetCoGPUAugDataPreprocessor, DetCoHead, DetCoNeck  # noqa: E402

__version__ = '0.1.0'

__all__ = [
    'CheckedImageList', 'ContiguousRandomResizedCrop', 'CrashSafeCheckpointHook', 'DetCo',
    'DetCoGPUAugDataPreprocessor', 'DetCoHead', 'DetCoLogProcessor', 'DetCoNeck',
    'JigsawCheckHook', 'JigsawPatches', 'LoadImageChecked', 'MultiViewWithMeta',
    'NonFiniteCheckHook', 'PerStageKNNHook', 'PreciseBNHook', 'PretrainedCheckHook',
    'QueueBatchCheckHook', 'ReestimateBNHook', 'SkippedImagesHook', 'UnlabeledImages',
    'ViewRetrievalHook', 'WeightsOnlyCheckpointHook'
]
