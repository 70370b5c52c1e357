# Copyright (c) detco_mm contributors. All rights reserved.
from .detco import DetCoMixin

__all__ = ['DetCoMixin']
