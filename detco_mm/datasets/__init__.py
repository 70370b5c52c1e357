# Copyright (c) detco_mm contributors. All rights reserved.
from .transforms import ContiguousRandomResizedCrop, JigsawPatches

__all__ = ['ContiguousRandomResizedCrop', 'JigsawPatches']
