# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (CrashSafeCheckpointHook, NonFiniteCheckHook, PreciseBNHook,
                    QueueBatchCheckHook, SkippedImagesHook, WeightsOnlyCheckpointHook)
from .log_processor import DetCoLogProcessor

__all__ = [
    'CrashSafeCheckpointHook', 'DetCoLogProcessor', 'NonFiniteCheckHook', 'PreciseBNHook',
    'QueueBatchCheckHook', 'SkippedImagesHook', 'WeightsOnlyCheckpointHook'
]
