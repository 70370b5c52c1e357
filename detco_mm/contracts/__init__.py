# Copyright (c) detco_mm contributors. All rights reserved.
"""The lowest layer of detco_mm: the contracts that data, models, evaluation and tools share.

Nothing here imports a toolbox or another part of detco_mm: the view names and their order
(``views``), the stage names (``stages``), the contrast names (``contrasts``) and the jigsaw
mosaic (``mosaic``: how patches are tiled, cut and the grid recorded).
"""
from .contrasts import CONTRASTS, DEFAULT_CONTRASTS
from .mosaic import (
    MOSAIC_GRID_KEY,
    cell_crop_boxes,
    check_jigsaw_grid,
    check_mosaic_grid,
    mosaic_to_patches,
    patches_to_mosaic,
)
from .stages import STAGE_LOSS_WEIGHTS, STAGES
from .views import VIEW_INPUTS, VIEW_NAMES

__all__ = [
    'CONTRASTS', 'DEFAULT_CONTRASTS', 'MOSAIC_GRID_KEY', 'STAGES', 'STAGE_LOSS_WEIGHTS',
    'VIEW_INPUTS', 'VIEW_NAMES', 'cell_crop_boxes', 'check_jigsaw_grid', 'check_mosaic_grid',
    'mosaic_to_patches', 'patches_to_mosaic'
]
