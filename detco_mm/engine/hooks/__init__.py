# Copyright (c) detco_mm contributors. All rights reserved.
from .pretrained_check_hook import PretrainedCheckHook, check_pretrained_inits
from .queue_batch_check_hook import QueueBatchCheckHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'PretrainedCheckHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook',
    'check_pretrained_inits'
]
