# Copyright (c) detco_mm contributors. All rights reserved.
"""The model of DetCo on mmengine alone: the algorithm and the head as mixins that each
backend face (``detco_mm/backends/``) combines with its toolbox's classes, the neck and the
device-augmenting data preprocessor as they are."""
from .algorithms import DetCoMixin
from .data_preprocessors import DetCoGPUAugDataPreprocessor
from .heads import DetCoHeadMixin
from .necks import DetCoNeck

__all__ = ['DetCoGPUAugDataPreprocessor', 'DetCoHeadMixin', 'DetCoMixin', 'DetCoNeck']
