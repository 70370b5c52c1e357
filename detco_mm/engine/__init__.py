# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (CrashSafeCheckpointHook, NonFiniteCheckHook, QueueBatchCheckHook,
                    SkippedImagesHook, WeightsOnlyCheckpointHook)

__all__ = [
    'CrashSafeCheckpointHook', 'NonFiniteCheckHook', 'QueueBatchCheckHook', 'SkippedImagesHook',
    'WeightsOnlyCheckpointHook'
]
