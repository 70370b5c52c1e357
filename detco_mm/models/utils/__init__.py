# Copyright (c) detco_mm contributors. All rights reserved.
from .batch_augment import BatchViewAugment, jigsaw_cut, jigsaw_params
from .mosaic import mosaic_to_patches, patches_to_mosaic

__all__ = [
    'BatchViewAugment', 'jigsaw_cut', 'jigsaw_params', 'mosaic_to_patches', 'patches_to_mosaic'
]
