# Copyright (c) detco_mm contributors. All rights reserved.
from .detco_head import DetCoHeadMixin

__all__ = ['DetCoHeadMixin']
