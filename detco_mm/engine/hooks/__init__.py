# Copyright (c) detco_mm contributors. All rights reserved.
from .per_stage_knn_hook import PerStageKNNHook
from .queue_batch_check_hook import QueueBatchCheckHook
from .reestimate_bn_hook import ReestimateBNHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['PerStageKNNHook', 'QueueBatchCheckHook', 'ReestimateBNHook',
           'WeightsOnlyCheckpointHook']
