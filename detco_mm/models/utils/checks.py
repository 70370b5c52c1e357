# Copyright (c) detco_mm contributors. All rights reserved.
"""Checks of a DetCo model config that can fail before the first step.

Each raises ValueError (TypeError for a value of the wrong type, e.g. a quoted number) with
one line naming the config key, its value and the fix, instead of a matmul or einsum error at
step 1 or, worse, a run that trains on silently.
"""
import math
import numbers
from typing import List, Optional, Sequence

import torch
import torch.nn as nn


def is_number(value, integer: bool = False) -> bool:
    """A number (an integer when ``integer``), not a string, a bool or None."""
    kind = numbers.Integral if integer else numbers.Real
    return isinstance(value, kind) and not isinstance(value, bool)


def check_number(owner: str, key: str, value, integer: bool = False) -> None:
    """Config ``key`` must be a number (an integer when ``integer``): ``'0.2' > 0`` would be
    a raw TypeError, or a string width a string repeated. Raises TypeError naming the key."""
    if not is_number(value, integer):
        raise TypeError(f'{owner}: {key}={value!r} is a {type(value).__name__}, but it must be '
                        f'{"an integer" if integer else "a number"}; write it without quotes')


def check_width(owner: str, key: str, value) -> None:
    """A layer width (channels, embedding size) must be an integer >= 1: a width of 0 builds
    empty layers that train and save checkpoints while learning nothing."""
    check_number(owner, key, value, integer=True)
    if value < 1:
        raise ValueError(f'{owner}: {key}={value} must be >= 1 (a layer of width {value} '
                         f'learns nothing)')


def check_loss_weights(weights: Sequence) -> None:
    """The per-stage weights w_i of eq. 1: numbers, none negative, not all zero."""
    key = f'model.head.loss_weights={tuple(weights)}'
    for w in weights:
        if not is_number(w):
            raise TypeError(f'DetCoHead: {key} holds {w!r}, a {type(w).__name__}, but the '
                            f'weights must be numbers; write them without quotes')
    if any(w < 0 for w in weights):
        raise ValueError(f'DetCoHead: {key} has a negative weight, which pushes that stage\'s '
                         f'queries away from their keys; use weights >= 0, the paper\'s are '
                         f'(0.1, 0.4, 0.7, 1.0)')
    if not any(weights):
        raise ValueError(f'DetCoHead: {key} are all 0, so the loss is 0 and nothing learns; '
                         f'the paper uses (0.1, 0.4, 0.7, 1.0)')


def check_momentum(momentum: float) -> None:
    """The key encoder keeps ``momentum`` of its weights per step [M], so 0 < m < 1."""
    check_number('DetCo', 'model.momentum', momentum)
    if not 0 < momentum < 1:
        raise ValueError(f'DetCo: model.momentum={momentum} must be in (0, 1) (the key '
                         f'encoder keeps this fraction of its weights per step); MoCo and '
                         f'DetCo use 0.999')


def check_grid(num_patches: int) -> int:
    """The local view is a square jigsaw: ``num_patches`` must be grid**2; returns grid."""
    grid = math.isqrt(num_patches) if num_patches > 0 else 0
    if grid * grid != num_patches or grid == 0:
        raise ValueError(f'DetCo: model.neck.num_patches={num_patches} is not the number of '
                         f'patches of a square jigsaw grid; use grid**2 of '
                         f'JigsawPatches(grid=...), 9 for the paper\'s 3x3')
    return grid


def check_embedding_dims(neck_out: int, feat_dim: int) -> None:
    """The neck's embeddings are what the head's queues store."""
    if neck_out != feat_dim:
        raise ValueError(f'DetCo: model.neck.out_channels={neck_out} but '
                         f'model.head.feat_dim={feat_dim} (the queues hold neck embeddings); '
                         f'set both to the same value, 128 in the paper')


def backbone_channels(backbone: nn.Module, size: int = 224) -> Optional[List[int]]:
    """Channels of each backbone output, from a forward on the meta device.

    Meta tensors carry shapes only, so this costs no compute or memory and leaves the real
    weights and batch-norm statistics untouched. Returns None for a backbone that cannot run
    on meta tensors (the check is then skipped, not guessed).
    """
    meta = {name: torch.empty_like(t, device='meta')
            for name, t in (*backbone.named_parameters(), *backbone.named_buffers())}
    img = torch.empty(2, getattr(backbone, 'in_channels', 3), size, size, device='meta')
    try:
        with torch.no_grad():
            outs = torch.func.functional_call(backbone, meta, (img, ))
    except (NotImplementedError, RuntimeError, TypeError):
        return None
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    return [int(x.shape[1]) for x in outs]


def check_backbone_channels(backbone: nn.Module, in_channels: tuple) -> None:
    """``neck.in_channels`` must be the channels the backbone really returns."""
    channels = backbone_channels(backbone)
    if channels is not None and tuple(channels) != tuple(in_channels):
        raise ValueError(f'DetCo: model.neck.in_channels={list(in_channels)} but the backbone '
                         f'returns {channels} channels (per entry of backbone.out_indices); '
                         f'set model.neck.in_channels={channels}')
