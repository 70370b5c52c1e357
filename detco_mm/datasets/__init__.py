# Copyright (c) detco_mm contributors. All rights reserved.
"""The data of DetCo on mmengine/mmcv alone: transforms, and the image lists as mixins that
``detco_mm.backends.mmselfsup`` combines with mmselfsup's ``ImageList`` and
``RandomResizedCrop`` (the pipeline of both faces)."""
from .checked_image_list import SKIPPED_KEY, CheckedImageListMixin
from .pipeline import MULTI_VIEW_TYPES, find_step, transform_type
from .transforms import (
    BadImageError,
    ContiguousCropMixin,
    JigsawPatches,
    LoadImageChecked,
    MultiViewWithMeta,
)
from .unlabeled_images import UnlabeledImagesMixin

__all__ = [
    'MULTI_VIEW_TYPES', 'SKIPPED_KEY', 'BadImageError', 'CheckedImageListMixin',
    'ContiguousCropMixin', 'JigsawPatches', 'LoadImageChecked', 'MultiViewWithMeta',
    'UnlabeledImagesMixin', 'find_step', 'transform_type'
]
