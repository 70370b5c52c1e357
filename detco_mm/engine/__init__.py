# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (PretrainedCheckHook, QueueBatchCheckHook, WeightsOnlyCheckpointHook,
                    check_pretrained_inits)

__all__ = [
    'PretrainedCheckHook', 'QueueBatchCheckHook', 'WeightsOnlyCheckpointHook',
    'check_pretrained_inits'
]
