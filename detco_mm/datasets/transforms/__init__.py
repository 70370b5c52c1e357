# Copyright (c) detco_mm contributors. All rights reserved.
from .jigsaw_patches import JigsawPatches
from .multi_view import MultiViewWithMeta

__all__ = ['JigsawPatches', 'MultiViewWithMeta']
