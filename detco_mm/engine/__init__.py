# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (
    CrashSafeCheckpointHook,
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
    check_pretrained_inits,
)
from .log_processor import DetCoLogProcessor

__all__ = [
    'CrashSafeCheckpointHook', 'DetCoLogProcessor', 'JigsawCheckHook', 'NonFiniteCheckHook',
    'PerStageKNNHook', 'PreciseBNHook', 'PretrainedCheckHook', 'QueueBatchCheckHook',
    'ReestimateBNHook', 'SkippedImagesHook', 'ViewRetrievalHook', 'WeightsOnlyCheckpointHook',
    'check_pretrained_inits'
]
