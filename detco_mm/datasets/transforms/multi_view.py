# Copyright (c) detco_mm contributors. All rights reserved.
import copy
from typing import List, Sequence, Union

from mmcv.transforms import BaseTransform, Compose

from ...contracts import MOSAIC_GRID_KEY


class MultiViewWithMeta(BaseTransform):
    """mmselfsup's ``MultiView`` that also keeps what the views record about themselves.

    mmselfsup 1.0.0's ``MultiView`` keeps only each view's ``img`` and drops every other key a
    view's pipeline wrote, so ``JigsawPatches`` could not tell the model which grid it tiled.
    This wrapper also gathers ``keys`` as one list per key, one entry per view (None where a
    view did not write it), e.g. ``jigsaw_grid=[None, None, 3, 3]``; list them in
    ``PackSelfSupInputs(meta_keys=...)`` to put them into the sample's metainfo.

    Built on mmcv's ``BaseTransform``, as ``MultiView`` is, with its arguments and its
    ``transforms`` (one composed pipeline per view, in input order); ``transform`` is this
    class's own.

    Args:
        transforms (list[list[dict | callable]]): One pipeline per group of views.
        num_views (int | list[int]): Views per pipeline.
        keys (Sequence[str]): Per-view keys to keep. Defaults to ('jigsaw_grid',).
    """

    def __init__(self,
                 transforms: List[list],
                 num_views: Union[int, List[int]],
                 keys: Sequence[str] = (MOSAIC_GRID_KEY, )) -> None:
        if isinstance(num_views, int):
            num_views = [num_views]
        if len(num_views) != len(transforms):
            raise ValueError(f'MultiViewWithMeta: num_views={num_views} must give one count '
                             f'per pipeline of transforms ({len(transforms)} given)')
        self.num_views = num_views
        pipelines = [Compose(views) for views in transforms]
        # one entry per view, in input order (as MultiView)
        self.transforms = [p for p, n in zip(pipelines, num_views) for _ in range(n)]
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        """Run every view's pipeline on a copy of ``results``.

        Returns:
            dict: ``img`` as the list of views, and each of ``keys`` as a list per view.
        """
        views = [pipeline(copy.deepcopy(results)) for pipeline in self.transforms]
        results['img'] = [view['img'] for view in views]
        for key in self.keys:
            results[key] = [view.get(key) for view in views]
        return results
