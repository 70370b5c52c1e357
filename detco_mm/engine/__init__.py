# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import PreciseBNHook, QueueBatchCheckHook, WeightsOnlyCheckpointHook

__all__ = ['PreciseBNHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
