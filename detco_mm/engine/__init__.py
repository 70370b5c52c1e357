# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import NonFiniteCheckHook, QueueBatchCheckHook, WeightsOnlyCheckpointHook

__all__ = ['NonFiniteCheckHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
