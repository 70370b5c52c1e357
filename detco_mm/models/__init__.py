# Copyright (c) detco_mm contributors. All rights reserved.
from .algorithms import DetCo
from .data_preprocessors import DetCoGPUAugDataPreprocessor
from .heads import DetCoHead
from .necks import DetCoNeck

__all__ = ['DetCo', 'DetCoGPUAugDataPreprocessor', 'DetCoHead', 'DetCoNeck']
