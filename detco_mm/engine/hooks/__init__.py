# Copyright (c) detco_mm contributors. All rights reserved.
from .crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from .queue_batch_check_hook import QueueBatchCheckHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['CrashSafeCheckpointHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
