# Copyright (c) detco_mm contributors. All rights reserved.
from .transforms import JigsawPatches

__all__ = ['JigsawPatches']
