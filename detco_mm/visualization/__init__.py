# Copyright (c) detco_mm contributors. All rights reserved.
"""Looking at a run: its training curves and the views its pipeline makes."""
from .curves import last_values, load_curves, scalar_files
from .views import VIEW_NAMES, build_view_sampler, make_views

__all__ = [
    'VIEW_NAMES', 'build_view_sampler', 'last_values', 'load_curves', 'make_views',
    'scalar_files'
]
