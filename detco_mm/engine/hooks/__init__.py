# Copyright (c) detco_mm contributors. All rights reserved.
from .crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from .jigsaw_check_hook import JigsawCheckHook
from .non_finite_check_hook import NonFiniteCheckHook
from .per_stage_knn_hook import PerStageKNNHook
from .precise_bn_hook import PreciseBNHook
from .pretrained_check_hook import PretrainedCheckHook, check_pretrained_inits
from .queue_batch_check_hook import QueueBatchCheckHook
from .reestimate_bn_hook import ReestimateBNHook
from .skipped_images_hook import SkippedImagesHook
from .view_retrieval_hook import ViewRetrievalHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'CrashSafeCheckpointHook', 'JigsawCheckHook', 'NonFiniteCheckHook', 'PerStageKNNHook',
    'PreciseBNHook', 'PretrainedCheckHook', 'QueueBatchCheckHook', 'ReestimateBNHook',
    'SkippedImagesHook', 'ViewRetrievalHook', 'WeightsOnlyCheckpointHook',
    'check_pretrained_inits'
]
