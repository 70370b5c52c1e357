# Copyright (c) detco_mm contributors. All rights reserved.
from .transforms import JigsawPatches
from .unlabeled_images import UnlabeledImages

__all__ = ['JigsawPatches', 'UnlabeledImages']
