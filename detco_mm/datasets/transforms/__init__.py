# Copyright (c) detco_mm contributors. All rights reserved.
from .contiguous_crop import ContiguousCropMixin
from .jigsaw_patches import JigsawPatches
from .loading import BadImageError, LoadImageChecked
from .multi_view import MultiViewWithMeta

__all__ = [
    'BadImageError', 'ContiguousCropMixin', 'JigsawPatches', 'LoadImageChecked',
    'MultiViewWithMeta'
]
