# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import CrashSafeCheckpointHook, QueueBatchCheckHook, WeightsOnlyCheckpointHook

__all__ = ['CrashSafeCheckpointHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
