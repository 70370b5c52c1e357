# Copyright (c) detco_mm contributors. All rights reserved.
"""Per-stage global and local MLP heads of DetCo (paper 3.2.1, 3.2.2, 6.5)."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from ..utils.checks import check_width


def mlp(in_channels: int, hid_channels: int, out_channels: int) -> nn.Sequential:
    """MoCo v2's projection: fc-relu-fc [P 6.5: "the same as MoCo v2 except for the input
    channel"]. Same layer layout as ``MoCoV2Neck.mlp``, so its weights map 1:1."""
    return nn.Sequential(
        nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
        nn.Linear(hid_channels, out_channels))


def pool(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling, (N, C, H, W) -> (N, C)."""
    return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


class DetCoNeck(BaseModule):
    """One global and one local MLP per stage, no weights shared.

    Global head of stage i: avg pool, Linear(C_i, hid), ReLU, Linear(hid, out).
    Local head of stage i: each of the P patch maps is avg-pooled, the P vectors of an image
    are concatenated in patch order [P 3.2.2] ([C] pooling first, so the input is P * C_i),
    then Linear(P * C_i, hid), ReLU, Linear(hid, out).

    Args:
        in_channels (Sequence[int]): C_i per stage. Defaults to ResNet-50's
            (256, 512, 1024, 2048) for res2..res5.
        hid_channels (int): Hidden width. Defaults to 2048 ([C] MoCo v2's).
        out_channels (int): Embedding size. Defaults to 128 [P 6.5].
        num_patches (int): Patches per local view, P. Defaults to 9 (3x3 jigsaw).
        with_local (bool): Build the local heads. Defaults to True.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024, 2048),
                 hid_channels: int = 2048,
                 out_channels: int = 128,
                 num_patches: int = 9,
                 with_local: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        for i, c in enumerate(in_channels):
            check_width('DetCoNeck', f'model.neck.in_channels[{i}]', c)
        check_width('DetCoNeck', 'model.neck.hid_channels', hid_channels)
        check_width('DetCoNeck', 'model.neck.out_channels', out_channels)
        check_width('DetCoNeck', 'model.neck.num_patches', num_patches)
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.num_patches = num_patches
        self.with_local = with_local
        self.global_mlps = nn.ModuleList(
            mlp(c, hid_channels, out_channels) for c in self.in_channels)
        if with_local:
            self.local_mlps = nn.ModuleList(
                mlp(num_patches * c, hid_channels, out_channels) for c in self.in_channels)

    def forward(self, x: Sequence[torch.Tensor], view: str = 'g') -> List[torch.Tensor]:
        """Project backbone features of one view.

        Args:
            x (Sequence[Tensor]): One map per stage; (N, C_i, H_i, W_i) for the global view,
                (N * P, C_i, h_i, w_i) for the local view, the P patches of an image adjacent.
            view (str): 'g' (global) or 'l' (local).

        Returns:
            list[Tensor]: One (N, out_channels) embedding per stage (not normalised).
        """
        if len(x) != len(self.in_channels):
            raise ValueError(f'DetCoNeck: got {len(x)} feature maps, expected one per stage '
                             f'({len(self.in_channels)}, in_channels={self.in_channels})')
        if view == 'g':
            return [head(pool(f)) for head, f in zip(self.global_mlps, x)]
        if view == 'l':
            if not self.with_local:
                raise ValueError('DetCoNeck: local view requested but with_local=False')
            return [head(pool(f).reshape(-1, self.num_patches * f.shape[1]))
                    for head, f in zip(self.local_mlps, x)]
        raise ValueError(f"DetCoNeck: view must be 'g' or 'l', got {view!r}")
