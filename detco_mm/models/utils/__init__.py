# Copyright (c) detco_mm contributors. All rights reserved.
from .batch_augment import BatchViewAugment, jigsaw_cut, jigsaw_params

__all__ = ['BatchViewAugment', 'jigsaw_cut', 'jigsaw_params']
