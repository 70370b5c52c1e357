# Copyright (c) detco_mm contributors. All rights reserved.
"""The one reader of DetCo files: what a file is, and its backbone.

Every tool that takes a DetCo file (converters, transfer set-up, analysis tools) decides
through this module what the file is, so there is one rule. It needs torch only, not
``detco_mm``: importing that package pulls in mmselfsup, mmcls and mmcv (seconds of start-up
and their warnings), and the converters should also run where only torch is installed (e.g.
next to detectron2). Hence a top-level package of the same distribution, not a
``detco_mm`` submodule (whose import would run ``detco_mm/__init__``).

Files are only ever read with ``torch.load(weights_only=True)``: that never runs code named
by a pickle, and DetCo checkpoints written by ``WeightsOnlyCheckpointHook`` do not need
more. Every way a file can fail raises ``CheckpointError`` with a one-line message.

Kinds of DetCo file:
    ``'detco'``: a training checkpoint (mmengine ``{'meta', 'state_dict', ...}`` whose
        state_dict has the per-stage ``DetCoNeck`` MLPs); its backbone is under
        ``backbone.`` (query encoder) or ``encoder_k.module.backbone.`` (key encoder).
    ``'backbone'``: the output of ``tools/model_converters/detco_to_backbone.py``,
        ``{'state_dict': backbone, 'meta': {'source', 'encoder', ...}}``.
"""
import os
import pickle
import re
import warnings
from typing import Dict, Tuple

import torch

# Prefixes of the query encoder and of the momentum (key) encoder in ``DetCo.state_dict()``:
# ``DetCo.encoder_k`` is an mmengine ``ExponentialMovingAverage`` that wraps the
# ``ModuleDict(backbone=..., neck=...)`` in its ``module``.
QUERY_PREFIX = 'backbone.'
MOMENTUM_PREFIX = 'encoder_k.module.backbone.'
# Only ``DetCoNeck`` has per-stage global MLPs; MoCo, SimCLR & co. have a single ``neck``.
DETCO_NECK_PREFIX = 'neck.global_mlps.'
# ``meta`` keys that mark a file written by detco_to_backbone.py.
BACKBONE_META_KEYS = ('source', 'encoder')


class CheckpointError(Exception):
    """The file is not a usable DetCo file; the message is one line naming the file."""


def _first_sentence(error: BaseException) -> str:
    """torch's load errors run over several lines; the first sentence names the cause."""
    text = ' '.join(str(error).split())
    return text.split('. ')[0].rstrip('.') or type(error).__name__


def load(path: str, mmap: bool = False) -> object:
    """Load ``path`` with ``torch.load(weights_only=True)`` onto the CPU.

    Args:
        path (str): Checkpoint file.
        mmap (bool): Map the file instead of reading it (only what is used is read).

    Returns:
        The loaded object (not yet checked to be a DetCo file).

    Raises:
        CheckpointError: Missing, unreadable, corrupt, or holding non-tensor objects.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f'{path}: no such file')
    try:
        with warnings.catch_warnings():
            # For non-torch pickles torch first warns about the pickle protocol, then
            # refuses the file; the error below says what matters.
            warnings.simplefilter('ignore')
            return torch.load(path, map_location='cpu', weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        # torch words it "Unsupported global: GLOBAL x.y ..." or, for modules it blocks
        # outright (os, posix, subprocess, builtins...), "unsupported GLOBAL x.y whose module"
        unsafe = re.search(r'unsupported global:? (?:GLOBAL )?([\w.]+)', str(error), re.I)
        if unsafe:
            raise CheckpointError(
                f'{path}: torch.load(weights_only=True) refused it, it holds a '
                f'{unsafe.group(1)} object; nothing in it was run (an mmengine checkpoint saved '
                f'without detco_mm\'s WeightsOnlyCheckpointHook, or a file crafted to run code '
                f'when unpickled)') from None
        raise CheckpointError(f'{path}: not a file written by torch.save, or a corrupt one; '
                              f'refused by torch.load(weights_only=True), nothing in it was run '
                              f'({_first_sentence(error)})') from None
    except Exception as error:  # torch.load raises many types for damaged files
        raise CheckpointError(f'{path}: unreadable, truncated or corrupt checkpoint '
                              f'({type(error).__name__}: {_first_sentence(error)})') from None


def kind(checkpoint: object, path: str) -> str:
    """What a loaded file is: ``'detco'`` or ``'backbone'`` (see the module docstring).

    Args:
        checkpoint: What ``load`` returned.
        path (str): The file it came from, for the messages.

    Raises:
        CheckpointError: A bare state_dict, a non-mmengine file or another algorithm.
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{path}: holds a {type(checkpoint).__name__}, not an mmengine '
                              f'checkpoint dict')
    state_dict = checkpoint.get('state_dict')
    if not isinstance(state_dict, dict):
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise CheckpointError(
                f'{path}: a bare state_dict (first key {next(iter(checkpoint))!r}), not a '
                f'DetCo training checkpoint with meta and state_dict')
        raise CheckpointError(f'{path}: no state_dict entry (top-level keys: '
                              f'{", ".join(map(str, list(checkpoint)[:6]))})')
    if any(key.startswith(DETCO_NECK_PREFIX) for key in state_dict):
        return 'detco'
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and all(k in meta for k in BACKBONE_META_KEYS):
        return 'backbone'
    modules = sorted({key.split('.')[0] for key in state_dict})
    raise CheckpointError(f'{path}: not a DetCo checkpoint, no {DETCO_NECK_PREFIX}* keys '
                          f'of DetCoNeck (its modules: {", ".join(modules)})')


def detco_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a DetCo training checkpoint (kind ``'detco'``).

    Raises:
        CheckpointError: See ``load`` and ``kind``; or a converted backbone file.
    """
    checkpoint = load(path)
    if kind(checkpoint, path) != 'detco':
        raise CheckpointError(f'{path}: a converted backbone ({checkpoint["meta"]["encoder"]}* '
                              f'of {checkpoint["meta"]["source"]}), not a DetCo training '
                              f'checkpoint')
    return checkpoint['state_dict']


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     prefix: str) -> Dict[str, torch.Tensor]:
    """The tensors under ``prefix``, with the prefix removed (mmselfsup/mmdet ResNet naming)."""
    return {key[len(prefix):]: value for key, value in state_dict.items()
            if key.startswith(prefix)}


def check_finite(tensors: Dict[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or Inf: a diverged run, not a backbone to fine-tune.

    Args:
        tensors (dict[str, Tensor]): The weights.
        where (str): Prefix of the message, e.g. ``'epoch_3.pth: backbone.'``.

    Raises:
        CheckpointError: Naming the first non-finite tensor and how many there are.
    """
    bad = [key for key, value in tensors.items()
           if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if bad:
        raise CheckpointError(f'{where}{bad[0]} and {len(bad) - 1} more of {len(tensors)} '
                              f'tensors hold NaN or Inf (the run diverged); convert an earlier '
                              f'checkpoint')


def load_backbone(path: str, momentum_encoder: bool = False
                  ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Backbone of the query encoder (default) or of the momentum encoder of a DetCo
    training checkpoint.

    Args:
        path (str): DetCo training checkpoint (``work_dirs/.../epoch_N.pth``).
        momentum_encoder (bool): Take ``encoder_k`` instead of ``backbone``.

    Returns:
        tuple[dict, dict]: The backbone state_dict, and a small ``meta`` (source file,
        encoder prefix, epoch and iter of the checkpoint) for a converted file.

    Raises:
        CheckpointError: See ``load`` and ``kind``; no tensors under the prefix, or
        non-finite ones (``check_finite``).
    """
    checkpoint = load(path)
    if kind(checkpoint, path) != 'detco':
        raise CheckpointError(f'{path}: already a converted backbone '
                              f'({checkpoint["meta"]["encoder"]}* of '
                              f'{checkpoint["meta"]["source"]}); convert the training '
                              f'checkpoint instead')
    prefix = MOMENTUM_PREFIX if momentum_encoder else QUERY_PREFIX
    backbone = extract_backbone(checkpoint['state_dict'], prefix)
    if not backbone:
        raise CheckpointError(f'{path}: no {prefix}* tensors in its state_dict')
    check_finite(backbone, f'{path}: {prefix}')
    source_meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    meta = dict(source=os.path.abspath(path), encoder=prefix,
                **{k: source_meta[k] for k in ('epoch', 'iter') if k in source_meta})
    return backbone, meta
