# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import QueueBatchCheckHook, WeightsOnlyCheckpointHook
from .log_processor import DetCoLogProcessor

__all__ = ['DetCoLogProcessor', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
