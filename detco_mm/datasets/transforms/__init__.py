# Copyright (c) detco_mm contributors. All rights reserved.
from .jigsaw_patches import JigsawPatches

__all__ = ['JigsawPatches']
