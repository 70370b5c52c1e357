# Copyright (c) detco_mm contributors. All rights reserved.
import torch


def mosaic_to_patches(x: torch.Tensor, grid: int) -> torch.Tensor:
    """Split jigsaw mosaics (the layout written by ``JigsawPatches``) into patches.

    Args:
        x (Tensor): (N, C, grid * p, grid * p) mosaics, patches in row-major order.
        grid (int): Patches per side.

    Returns:
        Tensor: (N * grid * grid, C, p, p); the patches of image n are rows
        n * grid**2 ... (n + 1) * grid**2 - 1, in mosaic order.
    """
    n, c, h, w = x.shape
    if h != w or h % grid != 0:
        raise ValueError(f'local view of shape {tuple(x.shape)} is not a square mosaic of '
                         f'{grid}x{grid} equal patches; put JigsawPatches at the end of the '
                         f'local view pipeline')
    p = h // grid
    x = x.reshape(n, c, grid, p, grid, p).permute(0, 2, 4, 1, 3, 5)  # N x gy x gx x C x p x p
    return x.reshape(n * grid * grid, c, p, p)


def patches_to_mosaic(patches: torch.Tensor, grid: int) -> torch.Tensor:
    """Tile patches into jigsaw mosaics, the inverse of ``mosaic_to_patches``.

    Args:
        patches (Tensor): (N * grid * grid, C, p, p), the patches of image n in rows
            n * grid**2 ... (n + 1) * grid**2 - 1, in mosaic (row-major) order.
        grid (int): Patches per side.

    Returns:
        Tensor: (N, C, grid * p, grid * p).
    """
    m, c, p, _ = patches.shape
    n = m // (grid * grid)
    x = patches.reshape(n, grid, grid, c, p, p).permute(0, 3, 1, 4, 2, 5)  # N x C x gy x p x gx x p
    return x.reshape(n, c, grid * p, grid * p)
