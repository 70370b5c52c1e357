# Copyright (c) detco_mm contributors. All rights reserved.
"""The 3x3 jigsaw patch set of DetCo's local views (paper 3.3, following PIRL)."""
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from ...contracts.mosaic import MOSAIC_GRID_KEY, cell_crop_boxes, patches_to_mosaic


def to_three_channels(img: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1) or (H, W, 4) -> (H, W, 3); gray is repeated, alpha dropped."""
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f'JigsawPatches: expected an (H, W), (H, W, 1), (H, W, 3) or '
                         f'(H, W, 4) image, got shape {img.shape}')
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img[..., :3]


class JigsawPatches(BaseTransform):
    """Cut a local crop into a jigsaw of ``grid x grid`` patches [P 3.3].

    The image (the 255 px local crop) is divided into ``grid x grid`` cells of
    ``cell_size`` px; a random ``patch_size`` px square is cropped fully inside each cell
    ("to avoid continuity between patches"), and the patches are put in a random order
    ([C] a new permutation per call, so independently for the query and key views).

    Output layout: the patches are tiled, in their (permuted) order, into one
    ``(grid * patch_size, grid * patch_size, 3)`` mosaic stored in ``results['img']``
    (``patches_to_mosaic``; the layout is defined in ``detco_mm.models.utils.mosaic``). A
    mosaic is an ordinary 3-channel image, so it passes ``MultiView``,
    ``PackSelfSupInputs`` (which rejects nested lists and 4-D arrays) and the data
    preprocessor unchanged; ``DetCo`` splits it back into patches with
    ``mosaic_to_patches`` and checks the recorded ``jigsaw_grid`` against its neck. Put this
    transform last in the local view's pipeline, after the photometric augmentations (they
    are shared by the 9 patches [P 3.3]).

    Images whose size is not ``grid * cell_size`` (e.g. smaller than 255 px) are first resized
    to it; gray images are repeated to 3 channels and an alpha channel is dropped.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``. Added keys:
    ``jigsaw_perm`` ((grid**2,) int: mosaic slot s holds the patch of cell ``perm[s]``) and
    ``jigsaw_boxes`` ((grid**2, 4) int boxes of each cell's patch in the resized crop) and
    ``jigsaw_grid`` (``grid``; ``MultiViewWithMeta`` passes it on to the metainfo).

    Args:
        grid (int): Cells per side. Defaults to 3 [P 3.3].
        cell_size (int): Cell side in px; the crop is resized to ``grid * cell_size``.
            Defaults to 85 [P 3.3] (255 / 3).
        patch_size (int): Patch side in px, at most ``cell_size``. Defaults to 64 [P 3.3].
        shuffle (bool): Randomly permute the patches [C, PIRL-style jigsaw]; False keeps
            grid order. Defaults to True.
        interpolation (str): Resize interpolation when the size differs. Defaults to
            'bilinear'.
    """

    def __init__(self,
                 grid: int = 3,
                 cell_size: int = 85,
                 patch_size: int = 64,
                 shuffle: bool = True,
                 interpolation: str = 'bilinear') -> None:
        if grid < 1:
            raise ValueError(f'JigsawPatches: grid must be >= 1, got {grid}')
        if not 0 < patch_size <= cell_size:
            raise ValueError(f'JigsawPatches: need 0 < patch_size <= cell_size, got '
                             f'patch_size={patch_size}, cell_size={cell_size}')
        self.grid = grid
        self.cell_size = cell_size
        self.patch_size = patch_size
        self.shuffle = shuffle
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Replace ``results['img']`` with the jigsaw mosaic.

        Randomness comes from numpy's global generator, like mmcv's and mmselfsup's
        transforms, so mmengine's per-worker seeding makes it reproducible.

        Args:
            results (dict): Needs ``img``, (H, W[, C]) uint8.

        Returns:
            dict: ``img`` (grid * patch_size, grid * patch_size, 3) and the added keys.
        """
        img = to_three_channels(results['img'])
        side = self.grid * self.cell_size
        if img.shape[:2] != (side, side):
            img = mmcv.imresize(img, (side, side), interpolation=self.interpolation)
        boxes = cell_crop_boxes(self.grid, self.cell_size, self.patch_size)
        n = self.grid * self.grid
        perm = np.random.permutation(n) if self.shuffle else np.arange(n)
        patches = np.stack([img[y1:y2, x1:x2] for x1, y1, x2, y2 in boxes[perm]])
        mosaic = patches_to_mosaic(patches, self.grid, channels_last=True)[0]
        results['img'] = mosaic
        results['img_shape'] = mosaic.shape[:2]
        results['jigsaw_perm'] = perm
        results['jigsaw_boxes'] = boxes
        results[MOSAIC_GRID_KEY] = self.grid
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(grid={self.grid}, cell_size={self.cell_size}, '
                f'patch_size={self.patch_size}, shuffle={self.shuffle}, '
                f'interpolation={self.interpolation!r})')
