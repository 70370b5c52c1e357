# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import (
    CrashSafeCheckpointHook,
    JigsawCheckHook,
    NonFiniteCheckHook,
    PerStageKNNHook,
    PreciseBNHook,
    PretrainedCheckHook,
    QueueBatchCheckHook,
    ReestimateBNHook,
    SkippedImagesHook,
    ViewRetrievalHook,
    WeightsOnlyCheckpointHook,
    check_pretrained_inits,
)
from .log_processor import DetCoLogProcessor

# The hooks every face registers into its toolbox. PreciseBNHook is not among them: it is for
# the mmdet fine-tuning configs (as ``mmselfsup.PreciseBNHook``), and mmpretrain has a hook of
# that name which its own configs use.
PRETRAINING_HOOKS = (CrashSafeCheckpointHook, JigsawCheckHook, NonFiniteCheckHook,
                     PerStageKNNHook, PretrainedCheckHook, QueueBatchCheckHook, ReestimateBNHook,
                     SkippedImagesHook, ViewRetrievalHook, WeightsOnlyCheckpointHook)

__all__ = [
    'CrashSafeCheckpointHook', 'DetCoLogProcessor', 'JigsawCheckHook', 'NonFiniteCheckHook',
    'PRETRAINING_HOOKS', 'PerStageKNNHook', 'PreciseBNHook', 'PretrainedCheckHook',
    'QueueBatchCheckHook', 'ReestimateBNHook', 'SkippedImagesHook', 'ViewRetrievalHook',
    'WeightsOnlyCheckpointHook', 'check_pretrained_inits'
]
