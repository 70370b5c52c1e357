# Copyright (c) detco_mm contributors. All rights reserved.
from .contiguous_crop import ContiguousRandomResizedCrop
from .jigsaw_patches import JigsawPatches

__all__ = ['ContiguousRandomResizedCrop', 'JigsawPatches']
