# Copyright (c) detco_mm contributors. All rights reserved.
"""Read the backbone out of a DetCo training checkpoint, for the converters in this folder.

This module needs torch (and torchvision for ``torchvision_resnet``), not ``detco_mm``:
importing the package pulls in mmselfsup, mmcls and mmcv (about 9 s on a CPU machine, and
their warnings on stderr), and a converter should also run where only torch is installed
(e.g. next to detectron2).

Every way a file can fail to be a DetCo checkpoint raises ``ConversionError`` with a
one-line message, so the scripts can print it instead of a traceback.
"""
import argparse
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
# The ResNets whose key names mmselfsup/mmcls and torchvision share (conv1, bn1, layer1..4,
# downsample.0/1); deep stems (ResNetV1c/V1d) and ``avg_down`` have no torchvision twin.
TORCHVISION_RESNETS = ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152')


class ConversionError(Exception):
    """The input is not a convertible DetCo checkpoint, or the output cannot be written."""


def converter_parser(description: str, output_help: str) -> argparse.ArgumentParser:
    """The command line all converters share.

    Args:
        description (str): What the converter writes.
        output_help (str): Help of the output argument.

    Returns:
        argparse.ArgumentParser: Positional ``checkpoint``, ``output`` and the
        ``--momentum-encoder`` flag.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('checkpoint', help='DetCo training checkpoint, e.g. '
                        'work_dirs/detco_resnet50_8xb32-coslr-200e_in1k/epoch_200.pth')
    parser.add_argument('output', help=output_help)
    parser.add_argument('--momentum-encoder', action='store_true',
                        help=f'convert the momentum (key) encoder {MOMENTUM_PREFIX}* instead '
                        f'of the query encoder {QUERY_PREFIX}*')
    return parser


def _first_sentence(error: BaseException) -> str:
    """torch's load errors run over several lines; the first sentence names the cause."""
    text = ' '.join(str(error).split())
    return text.split('. ')[0].rstrip('.') or type(error).__name__


def load_checkpoint(path: str) -> dict:
    """Load ``path`` with ``torch.load(weights_only=True)``.

    Never ``weights_only=False``: that runs whatever code the pickle names, and DetCo
    checkpoints written by ``WeightsOnlyCheckpointHook`` do not need it.

    Args:
        path (str): Checkpoint file.

    Returns:
        The loaded object (not yet checked to be a DetCo checkpoint).

    Raises:
        ConversionError: Missing, unreadable, corrupt, or holding non-tensor objects.
    """
    if not os.path.isfile(path):
        raise ConversionError(f'{path}: no such file')
    try:
        with warnings.catch_warnings():
            # For non-torch pickles torch first warns about the pickle protocol, then
            # refuses the file; the error below says what matters.
            warnings.simplefilter('ignore')
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = re.search(r'Unsupported global: GLOBAL (\S+)', str(error))
        if unsafe:
            raise ConversionError(
                f'{path}: torch.load(weights_only=True) refused it, it holds a '
                f'{unsafe.group(1)} object (an mmengine checkpoint saved without detco_mm\'s '
                f'WeightsOnlyCheckpointHook?)') from None
        raise ConversionError(f'{path}: not a file written by torch.save, or a corrupt one '
                              f'({_first_sentence(error)})') from None
    except Exception as error:  # torch.load raises many types for damaged files
        raise ConversionError(f'{path}: unreadable, truncated or corrupt checkpoint '
                              f'({type(error).__name__}: {_first_sentence(error)})') from None


def detco_state_dict(checkpoint: object, path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a DetCo training checkpoint, after checking it is one.

    Args:
        checkpoint: What ``load_checkpoint`` returned.
        path (str): The file it came from, for the messages.

    Returns:
        dict[str, Tensor]: ``DetCo.state_dict()`` as saved by mmengine's CheckpointHook.

    Raises:
        ConversionError: A bare state_dict, a non-mmengine file or another algorithm.
    """
    if not isinstance(checkpoint, dict):
        raise ConversionError(f'{path}: holds a {type(checkpoint).__name__}, not an mmengine '
                              f'checkpoint dict')
    state_dict = checkpoint.get('state_dict')
    if not isinstance(state_dict, dict):
        if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise ConversionError(
                f'{path}: a bare state_dict (first key {next(iter(checkpoint))!r}), not a '
                f'DetCo training checkpoint with meta and state_dict')
        raise ConversionError(f'{path}: no state_dict entry (top-level keys: '
                              f'{", ".join(map(str, list(checkpoint)[:6]))})')
    if not any(key.startswith(DETCO_NECK_PREFIX) for key in state_dict):
        modules = sorted({key.split('.')[0] for key in state_dict})
        raise ConversionError(f'{path}: not a DetCo checkpoint, no {DETCO_NECK_PREFIX}* keys '
                              f'of DetCoNeck (its modules: {", ".join(modules)})')
    return state_dict


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     prefix: str) -> Dict[str, torch.Tensor]:
    """The tensors under ``prefix``, with the prefix removed.

    Args:
        state_dict (dict[str, Tensor]): A DetCo state_dict.
        prefix (str): ``QUERY_PREFIX`` or ``MOMENTUM_PREFIX``.

    Returns:
        dict[str, Tensor]: Backbone state_dict in mmselfsup/mmcls/mmdet ResNet naming.
    """
    return {key[len(prefix):]: value for key, value in state_dict.items()
            if key.startswith(prefix)}


def load_backbone(path: str, momentum_encoder: bool = False
                  ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Backbone of the query encoder (default) or of the momentum encoder of a DetCo file.

    Args:
        path (str): DetCo training checkpoint (``work_dirs/.../epoch_N.pth``).
        momentum_encoder (bool): Take ``encoder_k`` instead of ``backbone``.
            Defaults to False.

    Returns:
        tuple[dict, dict]: The backbone state_dict, and a small ``meta`` (source file,
        encoder prefix, epoch and iter of the checkpoint) for the converted file.

    Raises:
        ConversionError: See ``load_checkpoint`` and ``detco_state_dict``; or no tensors
        under the chosen prefix.
    """
    checkpoint = load_checkpoint(path)
    state_dict = detco_state_dict(checkpoint, path)
    prefix = MOMENTUM_PREFIX if momentum_encoder else QUERY_PREFIX
    backbone = extract_backbone(state_dict, prefix)
    if not backbone:
        raise ConversionError(f'{path}: no {prefix}* tensors in its state_dict')
    source_meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    meta = dict(source=os.path.abspath(path), encoder=prefix,
                **{k: source_meta[k] for k in ('epoch', 'iter') if k in source_meta})
    return backbone, meta


def torchvision_resnet(backbone: Dict[str, torch.Tensor]) -> str:
    """Name of the torchvision ResNet whose keys and shapes (``fc`` aside) ``backbone`` has.

    Args:
        backbone (dict[str, Tensor]): Backbone state_dict in mmselfsup ResNet naming.

    Returns:
        str: One of ``TORCHVISION_RESNETS``.

    Raises:
        ConversionError: No torchvision ResNet has exactly these tensors.
    """
    # Imported here: torchvision adds ~2 s to the start of every converter, and failing
    # fast on a wrong file should not wait for it.
    import torchvision

    shapes = {key: tuple(value.shape) for key, value in backbone.items()}
    for name in TORCHVISION_RESNETS:
        # The meta device gives the names and shapes without allocating weights.
        with torch.device('meta'):
            model = getattr(torchvision.models, name)()
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()
                    if not key.startswith('fc.')}
        if shapes == expected:
            return name
    raise ConversionError(
        f'the backbone is not a torchvision {"/".join(TORCHVISION_RESNETS)} without fc '
        f'(a deep stem, avg_down or another layout has no torchvision equivalent)')


def save(obj: object, path: str, saver) -> None:
    """Write ``obj`` to ``path`` with ``saver(obj, file)``, creating the folder.

    Args:
        obj: What to write.
        path (str): Output file.
        saver (callable): ``torch.save`` or ``pickle.dump``.
    """
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'wb') as file:
            saver(obj, file)
    except OSError as error:
        raise ConversionError(f'{path}: cannot write ({error.strerror})') from None
