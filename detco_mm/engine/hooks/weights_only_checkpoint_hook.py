# Copyright (c) detco_mm contributors. All rights reserved.
"""Training checkpoints that ``torch.load(weights_only=True)`` can resume from."""
import warnings
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer

# Tags of the plain dicts that stand in for the non-tensor objects mmengine 0.10.7 puts into
# a checkpoint (see ``encode_checkpoint``).
NDARRAY_TAG = '__detco_ndarray__'
HISTORY_TAG = '__detco_history_buffer__'


def encode_checkpoint(obj: Any, path: str = 'checkpoint') -> Any:
    """Rewrite ``obj`` with only the types ``torch.load(weights_only=True)`` accepts.

    mmengine stores ``HistoryBuffer`` objects (numpy arrays inside, and its statistics
    methods pickled via ``getattr``), numpy arrays and numpy scalars in the message hub.
    They become tagged dicts of tensors and plain python numbers; ``decode_checkpoint``
    reverses it. Containers are rebuilt, ``obj`` is not modified.

    Args:
        obj: A checkpoint, or any value inside one.
        path (str): Where ``obj`` sits, for the warning about unknown types.

    Returns:
        The encoded value.
    """
    if isinstance(obj, HistoryBuffer):
        logs, counts = obj.data
        return {HISTORY_TAG: True, 'log_history': torch.from_numpy(np.array(logs)),
                'count_history': torch.from_numpy(np.array(counts)),
                'max_length': int(obj.max_length)}
    if isinstance(obj, np.ndarray):
        return {NDARRAY_TAG: torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        encoded = {k: encode_checkpoint(v, f'{path}[{k!r}]') for k, v in obj.items()}
        return type(obj)(encoded) if type(obj) is not dict else encoded
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(encode_checkpoint(v, f'{path}[{i}]') for i, v in enumerate(obj))
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, torch.Tensor,
                                       torch.Size, torch.dtype, torch.device)):
        return obj
    warnings.warn(f'WeightsOnlyCheckpointHook: {path} is a {type(obj).__qualname__}, which '
                  f'torch.load(weights_only=True) may refuse; --resume from this checkpoint '
                  f'can fail')
    return obj


def decode_checkpoint(obj: Any) -> Any:
    """Inverse of ``encode_checkpoint``: tagged dicts back to numpy / ``HistoryBuffer``."""
    if isinstance(obj, dict):
        if obj.get(HISTORY_TAG) is True:
            return HistoryBuffer(obj['log_history'].numpy(), obj['count_history'].numpy(),
                                 obj['max_length'])
        if set(obj) == {NDARRAY_TAG}:
            return obj[NDARRAY_TAG].numpy()
        decoded = {k: decode_checkpoint(v) for k, v in obj.items()}
        return type(obj)(decoded) if type(obj) is not dict else decoded
    if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
        return type(obj)(decode_checkpoint(v) for v in obj)
    return obj


class WeightsOnlyCheckpointHook(Hook):
    """Make ``--resume`` work while torch keeps ``weights_only=True`` for every load.

    Since torch 2.6, ``torch.load`` refuses anything but tensors, containers and plain
    numbers unless told otherwise, and mmengine 0.10.7 loads with torch's default. Its
    training checkpoints hold numpy objects and ``HistoryBuffer`` (whose pickle needs the
    builtin ``getattr``), so resuming fails. Allow-listing those globals would re-open
    ``getattr`` -- arbitrary attribute access -- for every file any process loads, and
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` re-opens arbitrary code execution.

    Design: nothing is loosened on load. Before a checkpoint is saved, this hook rewrites it
    with safe types only (``encode_checkpoint``); after one is loaded, it restores the
    originals (``decode_checkpoint``) before the runner reads the message hub. So no file is
    ever fully unpickled, whoever wrote it. Priority 'LOWEST' runs it after hooks that add to
    the checkpoint.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = encode_checkpoint(checkpoint[key], f'checkpoint[{key!r}]')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in list(checkpoint):
            checkpoint[key] = decode_checkpoint(checkpoint[key])
