# Copyright (c) detco_mm contributors. All rights reserved.
from .transforms import JigsawPatches, MultiViewWithMeta

__all__ = ['JigsawPatches', 'MultiViewWithMeta']
