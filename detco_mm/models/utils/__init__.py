# Copyright (c) detco_mm contributors. All rights reserved.
from .mosaic import (MOSAIC_GRID_KEY, check_mosaic_grid, mosaic_to_patches,
                     patches_to_mosaic)

__all__ = ['MOSAIC_GRID_KEY', 'check_mosaic_grid', 'mosaic_to_patches', 'patches_to_mosaic']
