# Copyright (c) detco_mm contributors. All rights reserved.
"""Stop a run at the first NaN/Inf, before a checkpoint of it is written."""
from itertools import chain
from typing import Dict, Iterable, Optional, Tuple

import torch
from mmengine.hooks import Hook

from ..utils import unwrap_model


def first_non_finite(named: Iterable[Tuple[str, torch.Tensor]]) -> Optional[Tuple[str, str]]:
    """Name and value (as text) of the first tensor in ``named`` holding a NaN or Inf.

    The common case, all finite, costs one reduction per tensor and ONE host sync: the max
    absolute value of each tensor (torch's fused ``_foreach_norm`` with ord=inf, which cannot
    overflow like a 2-norm) is NaN or Inf exactly when the tensor has a NaN or Inf.
    """
    named = [(name, t.detach()) for name, t in named if t.is_floating_point() and t.numel()]
    if not named:
        return None
    peaks = torch.stack([x.float() for x in torch._foreach_norm([t for _, t in named],
                                                                float('inf'))])
    finite = torch.isfinite(peaks)
    if bool(finite.all()):
        return None
    index = int((~finite).nonzero()[0])
    name, tensor = named[index]
    value = tensor if tensor.numel() == 1 else tensor[~torch.isfinite(tensor)][0]
    return name, str(float(value))


class NonFiniteCheckHook(Hook):
    """Stop training at the first non-finite loss term, weight or buffer.

    mmengine trains on when the loss turns NaN (rc 0, "Training finished successfully") and
    saves NaN checkpoints that convert without complaint. After every iteration this hook
    checks the loss terms of ``outputs``; every ``weights_interval`` iterations the model's
    parameters and buffers too (the optimizer or a batch-norm update can make them
    non-finite from a finite loss; the next step's loss then is non-finite as well), and
    before every save the whole ``state_dict``. It raises ``FloatingPointError`` naming the
    first non-finite term and the iteration. Priority 'BELOW_NORMAL' runs it after the
    LoggerHook (the NaN line is still logged) and before the CheckpointHook ('VERY_LOW'), so
    no checkpoint of a non-finite model is written.

    Args:
        weights_interval (int): Check the parameters and buffers every this many
            iterations. Default 50 (mmselfsup's log interval): the check reads every
            weight, ~50 ms per iteration for the tiny ResNet-18 config on one CPU core,
            i.e. 2 % of `make demo`'s training with ``weights_interval=1``.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, weights_interval: int = 50) -> None:
        if not (isinstance(weights_interval, int) and weights_interval > 0):
            raise ValueError(f'NonFiniteCheckHook: weights_interval={weights_interval!r}; use '
                             f'a positive number of iterations')
        self.weights_interval = weights_interval

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None) -> None:
        # runner.iter counts the iterations before this one; the log's numbers start at 1.
        where = f'epoch {runner.epoch + 1}, iteration {runner.iter + 1} of the run'
        if outputs:
            # 'loss' is the sum of the terms: name the term that made it non-finite.
            terms = [(k, torch.as_tensor(v)) for k, v in outputs.items() if k != 'loss']
            bad = first_non_finite(terms or [('loss', torch.as_tensor(outputs['loss']))])
            if bad is not None:
                raise FloatingPointError(
                    f'{bad[0]} is {bad[1]} at {where}; training stopped, no checkpoint of it '
                    f'written. Lower optim_wrapper.optimizer.lr (or check '
                    f'model.head.temperature) and resume from the last checkpoint')
        if not self.every_n_train_iters(runner, self.weights_interval):
            return
        model = unwrap_model(runner.model)
        bad = first_non_finite(chain(model.named_parameters(), model.named_buffers()))
        if bad is not None:
            raise FloatingPointError(
                f'{bad[0]} holds {bad[1]} after the step at {where}; training stopped, no '
                f'checkpoint of it written. Lower optim_wrapper.optimizer.lr and resume from '
                f'the last checkpoint')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = first_non_finite((checkpoint.get('state_dict') or {}).items())
        if bad is not None:
            raise FloatingPointError(
                f'{bad[0]} holds {bad[1]} in the checkpoint of epoch {runner.epoch + 1}; not '
                f'saving a non-finite checkpoint. Lower optim_wrapper.optimizer.lr and resume '
                f'from the last checkpoint')
