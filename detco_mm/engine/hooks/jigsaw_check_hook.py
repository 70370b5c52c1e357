# Copyright (c) detco_mm contributors. All rights reserved.
from typing import Iterator, List

import torch
from mmengine.hooks import Hook

from ...contracts import VIEW_INPUTS, check_jigsaw_grid
from ...datasets.transforms.jigsaw_patches import JigsawPatches
from ..utils import unwrap_model

# Attributes under which datasets, dataset wrappers and transforms hold what they run:
# BaseDataset.pipeline, Compose.transforms (mmengine, mmcv), MultiView.pipelines (mmselfsup,
# mmpretrain), MultiViewWithMeta.transforms, RepeatDataset.dataset, ConcatDataset.datasets.
CHILDREN = ('dataset', 'datasets', 'pipeline', 'pipelines', 'transforms')


def find_jigsaws(node) -> Iterator[JigsawPatches]:
    """Every ``JigsawPatches`` in a (wrapped) dataset's pipeline, at any nesting depth."""
    if isinstance(node, JigsawPatches):
        yield node
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from find_jigsaws(item)
    else:
        for name in CHILDREN:
            child = getattr(node, name, None)
            if child is not None and not isinstance(child, (str, dict)):
                yield from find_jigsaws(child)


class JigsawCheckHook(Hook):
    """Check, before the first step, that the local views are jigsaws the model cuts right.

    A mosaic does not say how many patches it holds: a 2x2 jigsaw of 36 px patches and a 3x3
    one of 24 px are both 72 px, and the model would silently cut the former into 9 pieces
    of other patches. The grid recorded in the samples' metainfo (``check_mosaic_grid``) is
    lost where a pipeline does not pass it on (mmpretrain's ``MultiView`` and ``PackInputs``),
    so this hook reads the jigsaws themselves, wherever the local views get them:

    - before training: every ``JigsawPatches`` of the train dataset's pipeline must tile the
      grid of ``model.neck.num_patches`` (the device jigsaw of ``DetCoGPUAugDataPreprocessor``
      is checked when the model is built), and local contrasts need a jigsaw somewhere;
    - before the first step: the first batch's local views must be the mosaics those
      jigsaws write (``grid * patch_size`` px), i.e. no transform after ``JigsawPatches``
      resized or cropped them into another patch layout.

    Models without local views are left alone.
    """

    def __init__(self) -> None:
        # Sides of the mosaics the pipeline's jigsaws write, until the first batch is checked.
        self.mosaic_sides: List[int] = []

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        self.mosaic_sides = []
        if 'l' not in getattr(getattr(model, 'head', None), 'views', ()):
            return
        jigsaws = list(find_jigsaws(runner.train_dataloader.dataset))
        for jigsaw in jigsaws:
            check_jigsaw_grid(jigsaw.grid, model.grid,
                              f'{jigsaw!r} in train_dataloader.dataset.pipeline',
                              'JigsawPatches(grid={grid})')
        if not jigsaws and getattr(model.data_preprocessor, 'jigsaw', None) is None:
            raise ValueError(
                f'DetCo: model.head.contrasts={model.head.contrasts} use local views, but '
                f'neither train_dataloader.dataset.pipeline has a JigsawPatches nor '
                f'model.data_preprocessor a jigsaw, so the model would cut plain crops into '
                f'patches; end the local views\' pipeline with JigsawPatches(grid='
                f'{model.grid})')
        self.mosaic_sides = sorted({j.grid * j.patch_size for j in jigsaws})

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.mosaic_sides or not isinstance(data_batch, dict):
            return
        sides, self.mosaic_sides = self.mosaic_sides, []  # the first batch only
        inputs = data_batch.get('inputs', ())
        for view in VIEW_INPUTS['l']:
            if view >= len(inputs):
                continue
            x = inputs[view] if isinstance(inputs[view], torch.Tensor) else inputs[view][0]
            if tuple(x.shape[-2:]) not in [(s, s) for s in sides]:
                raise ValueError(
                    f'DetCo: local view {view} reaches the model as {tuple(x.shape[-2:])} px, '
                    f'but the JigsawPatches of train_dataloader.dataset.pipeline write '
                    f'{" or ".join(f"{s}x{s}" for s in sides)} px mosaics (grid * '
                    f'patch_size): a transform after JigsawPatches changed the patches; put '
                    f'JigsawPatches last in the local views\' pipeline')
