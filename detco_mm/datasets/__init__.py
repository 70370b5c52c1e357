# Copyright (c) detco_mm contributors. All rights reserved.
from .checked_image_list import SKIPPED_KEY, CheckedImageList
from .transforms import (BadImageError, ContiguousRandomResizedCrop, JigsawPatches,
                         LoadImageChecked, MultiViewWithMeta)
from .unlabeled_images import UnlabeledImages

__all__ = [
    'SKIPPED_KEY', 'BadImageError', 'CheckedImageList', 'ContiguousRandomResizedCrop',
    'JigsawPatches', 'LoadImageChecked', 'MultiViewWithMeta', 'UnlabeledImages'
]
