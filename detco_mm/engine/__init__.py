# Copyright (c) detco_mm contributors. All rights reserved.
from .hooks import WeightsOnlyCheckpointHook

__all__ = ['WeightsOnlyCheckpointHook']
