# Copyright (c) detco_mm contributors. All rights reserved.
from .batch_augment import BatchViewAugment, jigsaw_cut, jigsaw_params
from .mosaic import (MOSAIC_GRID_KEY, check_jigsaw_grid, check_mosaic_grid,
                     mosaic_to_patches, patches_to_mosaic)

__all__ = [
    'MOSAIC_GRID_KEY', 'BatchViewAugment', 'check_jigsaw_grid', 'check_mosaic_grid',
    'jigsaw_cut', 'jigsaw_params', 'mosaic_to_patches', 'patches_to_mosaic'
]
