# Copyright (c) detco_mm contributors. All rights reserved.
"""Finding a step of a data pipeline config by its type, wherever it stands in the list."""
from typing import Optional, Sequence

# The multi-view steps of the pretraining pipelines: mmselfsup's (or mmpretrain's)
# ``MultiView``, and ``MultiViewWithMeta``, which also keeps each view's jigsaw grid.
MULTI_VIEW_TYPES = ('MultiView', 'MultiViewWithMeta')


def transform_type(step: dict) -> str:
    """The type of a transform config without its scope: ``mmcls.ResizeEdge`` -> ``ResizeEdge``."""
    return str(step.get('type', '')).split('.')[-1]


def find_step(steps: Sequence[dict], types: Sequence[str]) -> Optional[int]:
    """The index of the first of ``steps`` whose type (without its scope) is one of ``types``;
    None if there is none."""
    return next((i for i, step in enumerate(steps) if transform_type(step) in types), None)
