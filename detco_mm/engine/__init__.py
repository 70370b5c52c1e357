# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (NonFiniteCheckHook, QueueBatchCheckHook, SkippedImagesHook,
                    WeightsOnlyCheckpointHook)

__all__ = [
    'NonFiniteCheckHook', 'QueueBatchCheckHook', 'SkippedImagesHook', 'WeightsOnlyCheckpointHook'
]
