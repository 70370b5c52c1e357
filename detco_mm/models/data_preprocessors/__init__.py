# Copyright (c) detco_mm contributors. All rights reserved.
from .gpu_aug_data_preprocessor import DetCoGPUAugDataPreprocessor

__all__ = ['DetCoGPUAugDataPreprocessor']
