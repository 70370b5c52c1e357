# Copyright (c) detco_mm contributors. All rights reserved.
from .precise_bn_hook import PreciseBNHook
from .queue_batch_check_hook import QueueBatchCheckHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['PreciseBNHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook']
