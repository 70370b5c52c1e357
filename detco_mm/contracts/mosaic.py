# Copyright (c) detco_mm contributors. All rights reserved.
"""The jigsaw mosaic: one contract for the code that writes it and the code that reads it.

A local view of DetCo is a set of ``grid x grid`` square patches [P 3.3]. It travels through
the data pipeline, ``PackSelfSupInputs`` and the data preprocessor as ONE image, the mosaic:
the patches tiled row-major, patch ``s`` at row ``s // grid``, column ``s % grid``.
``cell_crop_boxes`` draws the patch of each cell (CPU and device jigsaw alike),
``patches_to_mosaic`` writes that layout (``JigsawPatches``), ``mosaic_to_patches`` reads it
back (``DetCo``); they are inverses of each other. Both work on numpy arrays and torch
tensors, channels first (N, C, H, W) or channels last (N, H, W, C).

A mosaic does not say how many patches it holds (a 72 px mosaic is 3 x 24 px or 2 x 36 px),
so the grid of every jigsaw is compared with the grid the model cuts before step 1
(``check_jigsaw_grid``): the device jigsaw's when the model is built, the train pipeline's
``JigsawPatches`` by ``JigsawCheckHook``, which also checks the size of the first batch's
mosaics. The transform also records ``grid`` in the sample's metainfo under
``MOSAIC_GRID_KEY``, which ``check_mosaic_grid`` compares at every step where it survives.
"""
from typing import Optional, Sequence, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

# Metainfo key of the grid a mosaic was tiled with (one value per input view; None for views
# that are not mosaics). Listed in the configs' PackSelfSupInputs meta_keys.
MOSAIC_GRID_KEY = 'jigsaw_grid'


def cell_crop_boxes(grid: int, cell_size: int, patch_size: int, num: Optional[int] = None,
                    rng: Optional[np.random.RandomState] = None) -> np.ndarray:
    """One random patch box fully inside each cell of a grid, row-major.

    Args:
        num (int, optional): Draw for ``num`` images at once (the device jigsaw of
            ``DetCoGPUAugDataPreprocessor``). Defaults to None: one image.
        rng (np.random.RandomState, optional): Where to draw from. Defaults to None: numpy's
            global generator (``JigsawPatches``, seeded per data worker by mmengine).

    Returns:
        np.ndarray: ([num,] grid * grid, 4) int boxes (x1, y1, x2, y2), x2/y2 exclusive.
    """
    rows, cols = np.divmod(np.arange(grid * grid), grid)
    size = (grid * grid, 2) if num is None else (num, grid * grid, 2)
    offsets = (np.random if rng is None else rng).randint(0, cell_size - patch_size + 1,
                                                          size=size)
    x1 = cols * cell_size + offsets[..., 0]
    y1 = rows * cell_size + offsets[..., 1]
    return np.stack([x1, y1, x1 + patch_size, y1 + patch_size], axis=-1)


def _permute(x: Array, dims: Sequence[int]) -> Array:
    return x.permute(*dims) if isinstance(x, torch.Tensor) else x.transpose(dims)


def patches_to_mosaic(patches: Array, grid: int, channels_last: bool = False) -> Array:
    """Tile patches row-major into mosaics.

    Args:
        patches (ndarray | Tensor): (N * grid**2, C, p, p), or (N * grid**2, p, p, C) with
            ``channels_last``; the patches of mosaic n are rows n * grid**2 ... in slot order.
        grid (int): Patches per side.
        channels_last (bool): Layout of patches and mosaics. Defaults to False.

    Returns:
        ndarray | Tensor: (N, C, grid * p, grid * p), or (N, grid * p, grid * p, C).
    """
    cells = grid * grid
    if patches.ndim != 4 or patches.shape[0] % cells != 0:
        raise ValueError(f'patches of shape {tuple(patches.shape)} are not N x {cells} '
                         f'patches of a {grid}x{grid} grid')
    n = patches.shape[0] // cells
    if channels_last:
        _, p, _, c = patches.shape
        x = _permute(patches.reshape(n, grid, grid, p, p, c), (0, 1, 3, 2, 4, 5))
        return x.reshape(n, grid * p, grid * p, c)
    _, c, p, _ = patches.shape
    x = _permute(patches.reshape(n, grid, grid, c, p, p), (0, 3, 1, 4, 2, 5))
    return x.reshape(n, c, grid * p, grid * p)


def mosaic_to_patches(x: Array, grid: int, channels_last: bool = False) -> Array:
    """Split mosaics (the layout of ``patches_to_mosaic``) back into patches.

    Args:
        x (ndarray | Tensor): (N, C, grid * p, grid * p) mosaics, or (N, grid * p,
            grid * p, C) with ``channels_last``.
        grid (int): Patches per side.
        channels_last (bool): Layout of mosaics and patches. Defaults to False.

    Returns:
        ndarray | Tensor: (N * grid * grid, C, p, p) (or (..., p, p, C)); the patches of
        image n are rows n * grid**2 ... (n + 1) * grid**2 - 1, in mosaic order.
    """
    h, w = (x.shape[1:3] if channels_last else x.shape[2:]) if x.ndim == 4 else (None, None)
    if h is None or h != w or h % grid != 0:
        raise ValueError(f'local view of shape {tuple(x.shape)} is not a square mosaic of '
                         f'{grid}x{grid} equal patches; put JigsawPatches at the end of the '
                         f'local view pipeline')
    n = x.shape[0]
    p = h // grid
    if channels_last:
        c = x.shape[3]
        x = _permute(x.reshape(n, grid, p, grid, p, c), (0, 1, 3, 2, 4, 5))
        return x.reshape(n * grid * grid, p, p, c)
    c = x.shape[1]
    x = _permute(x.reshape(n, c, grid, p, grid, p), (0, 2, 4, 1, 3, 5))  # N x gy x gx x C x p x p
    return x.reshape(n * grid * grid, c, p, p)


def check_jigsaw_grid(jigsaw_grid: int, grid: int, jigsaw: str, fix: str) -> None:
    """Fail when a jigsaw tiles another grid than the model cuts.

    Args:
        jigsaw_grid (int): Cells per side of the jigsaw.
        grid (int): Patches per side the model cuts (``model.neck.num_patches`` = grid**2).
        jigsaw (str): What tiles the mosaics, for the message.
        fix (str): The setting that would make the jigsaw agree, with ``{grid}`` for the
            value.
    """
    if jigsaw_grid != grid:
        raise ValueError(
            f'model.neck.num_patches={grid * grid} cuts each local view into {grid}x{grid} '
            f'patches, but {jigsaw} tiles it as a {jigsaw_grid}x{jigsaw_grid} grid; set '
            f'model.neck.num_patches={jigsaw_grid ** 2} or {fix.format(grid=grid)}')


def check_mosaic_grid(data_samples: Sequence, views: Sequence[int], grid: int) -> None:
    """Fail when the mosaics of ``views`` were tiled with another grid than the model cuts.

    Samples without the ``MOSAIC_GRID_KEY`` metainfo (hand-made batches, pipelines that do
    not record it) are not checked; ``mosaic_to_patches`` still checks the shape.

    Args:
        data_samples (Sequence, optional): The batch's data samples (``SelfSupDataSample``
            or mmpretrain ``DataSample``); None (a batch without samples) is not checked.
        views (Sequence[int]): Indices of the input views that are mosaics.
        grid (int): Patches per side the model cuts (``model.neck.num_patches`` = grid**2).
    """
    for sample in data_samples or ():
        recorded = sample.metainfo.get(MOSAIC_GRID_KEY) if hasattr(sample, 'metainfo') else None
        if recorded is None:
            continue
        for view in views:
            if view < len(recorded) and recorded[view] is not None:
                check_jigsaw_grid(recorded[view], grid, f'JigsawPatches (input view {view})',
                                  'JigsawPatches(grid={grid})')
