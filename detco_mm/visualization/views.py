# Copyright (c) detco_mm contributors. All rights reserved.
"""The views a DetCo config's train pipeline makes of an image, for looking at them."""
import copy
from typing import Dict, List, Tuple

from mmcv.transforms import Compose
from mmengine.config import ConfigDict
from mmengine.registry import DATASETS, TRANSFORMS

from ..contracts import VIEW_NAMES
from ..datasets import MULTI_VIEW_TYPES, find_step
from ..datasets.transforms import JigsawPatches
from ..evaluation.scope import build


def build_view_sampler(dataset_cfg: ConfigDict) -> Tuple[object, List[Compose]]:
    """The dataset with the pipeline up to ``MultiView``, and one pipeline per view.

    Args:
        dataset_cfg (ConfigDict): ``train_dataloader.dataset`` of a DetCo config.

    Returns:
        tuple: (dataset whose items are loaded images, the ``MultiView``'s per-view
        pipelines in input order [global q, global k, local q, local k]).
    """
    pipeline = dataset_cfg.pipeline
    cut = find_step(pipeline, MULTI_VIEW_TYPES)
    if cut is None:
        raise ValueError(f'train_dataloader.dataset.pipeline has no MultiView (types: '
                         f'{[t.get("type") for t in pipeline]}): not a DetCo/MoCo-style config')
    # in the scope the dataset builds its pipeline in (mmselfsup for the mmpretrain configs)
    scope = dataset_cfg.get('_scope_')
    dataset = build(DATASETS, {**copy.deepcopy(dataset_cfg), 'pipeline': pipeline[:cut]}, scope)
    views = build(TRANSFORMS, pipeline[cut], scope)
    return dataset, views.transforms


def make_views(results: dict, view_pipelines: List[Compose]) -> List[Dict]:
    """Run every view pipeline on a copy of one loaded image.

    For a view that ends in ``JigsawPatches`` the crop it cuts is kept too, with the patch
    boxes scaled to that crop (``JigsawPatches`` resizes it to ``grid * cell_size`` first).

    Returns:
        list[dict]: Per view, ``name`` and ``img`` (the network input: the jigsaw mosaic for
        a local view), and for local views ``crop`` (H, W, 3), ``boxes`` ((grid**2, 4) x1,
        y1, x2, y2 in ``crop`` px) and ``perm`` (mosaic slot s holds the patch of box
        ``perm[s]``).
    """
    views = []
    for i, pipeline in enumerate(view_pipelines):
        out = copy.deepcopy(results)
        transforms = pipeline.transforms
        view = dict(name=VIEW_NAMES.get(i, f'view {i}'))
        if transforms and isinstance(transforms[-1], JigsawPatches):
            jigsaw = transforms[-1]
            out = Compose(transforms[:-1])(out)
            crop = out['img']
            out = jigsaw(out)
            side = jigsaw.grid * jigsaw.cell_size
            scale = [crop.shape[1] / side, crop.shape[0] / side] * 2
            view.update(crop=crop, boxes=out['jigsaw_boxes'] * scale, perm=out['jigsaw_perm'])
        else:
            out = pipeline(out)
        view['img'] = out['img']
        views.append(view)
    return views
