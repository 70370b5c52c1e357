# Copyright (c) detco_mm contributors. All rights reserved.
from .detco import DetCo

__all__ = ['DetCo']
