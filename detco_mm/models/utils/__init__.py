# Copyright (c) detco_mm contributors. All rights reserved.
from .mosaic import mosaic_to_patches

__all__ = ['mosaic_to_patches']
