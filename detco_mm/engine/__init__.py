# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (PerStageKNNHook, QueueBatchCheckHook, ReestimateBNHook,
                    WeightsOnlyCheckpointHook)

__all__ = [
    'PerStageKNNHook', 'QueueBatchCheckHook', 'ReestimateBNHook', 'WeightsOnlyCheckpointHook'
]
