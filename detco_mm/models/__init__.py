# Copyright (c) detco_mm contributors. All rights reserved.
from .algorithms import DetCo
from .heads import DetCoHead
from .necks import DetCoNeck

__all__ = ['DetCo', 'DetCoHead', 'DetCoNeck']
