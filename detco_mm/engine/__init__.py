# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import QueueBatchCheckHook, WeightsOnlyCheckpointHook

__all__ = ['QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
