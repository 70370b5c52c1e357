# Copyright (c) detco_mm contributors. All rights reserved.
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['WeightsOnlyCheckpointHook']
