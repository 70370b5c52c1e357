# Copyright (c) detco_mm contributors. All rights reserved.
"""detectron2's PreciseBN for mmdet fine-tuning (``TEST.PRECISE_BN`` of DetCo's configs)."""
from typing import Iterator, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from torch.nn.modules.batchnorm import _BatchNorm

from ...models.utils.precise_bn import precise_bn_stats
from ..utils import unwrap_model


class PreciseBNHook(Hook):
    """Replace the running BN statistics by their true average over ``num_iter`` batches.

    Every DetCo (and MoCo) fine-tuning config sets ``TEST.PRECISE_BN.ENABLED: True``, so
    detectron2's ``hooks.PreciseBN`` recomputes the statistics of every BN layer in training
    mode with the final weights, over ``TEST.PRECISE_BN.NUM_ITER`` = 200 training batches,
    "at the same freq as (but before) evaluation" and after the last iteration. This hook does
    the same in an mmengine ``IterBasedTrainLoop``: after the iteration that precedes each
    validation of the loop and after the last one, before ``CheckpointHook`` saves (priority
    ``ABOVE_NORMAL``), so the checkpoint and the evaluation both carry the precise statistics.

    mmcls 1.0.0rc6's ``PreciseBNHook`` cannot serve here: it unpacks the data preprocessor's
    output as a tuple (mmengine 0.10.7 returns a dict), runs the model in ``'tensor'`` mode
    (the C4 res5 head would see test proposals, not the sampled training RoIs detectron2 runs)
    and iterates the training loop's own dataloader. As detectron2 (``update_bn_stats`` of
    fvcore), this hook runs the training forward (``mode='loss'``, no backward) on a dataloader
    of its own, which keeps its position from one call to the next, and averages the
    per-batch means and variances (``precise_bn_stats``). With several ranks each runs
    ``num_iter`` batches of its own loader, and all end with the statistics of all those
    batches (all-reduced), so the checkpoint (rank 0's) and every rank's evaluation agree.

    Args:
        num_iter (int): Batches to average over (detectron2: 200).
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, num_iter: int = 200) -> None:
        if num_iter <= 0:
            raise ValueError(f'PreciseBNHook: num_iter={num_iter}; give a positive number of '
                             'batches (detectron2 uses 200)')
        self.num_iter = num_iter
        self._batches: Optional[Iterator] = None

    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            raise TypeError(f'PreciseBNHook: train_cfg.type={type(runner.train_loop).__name__}; '
                            'it runs in iteration-based training (IterBasedTrainLoop), as '
                            'the detection benchmarks do')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        next_iter = runner.iter + 1
        loop = runner.train_loop
        validates = runner.val_loop is not None and next_iter >= loop.val_begin and (
            next_iter % loop.val_interval == 0)
        if validates or next_iter == runner.max_iters:
            self.update_stats(runner)

    def update_stats(self, runner) -> None:
        """Average the BN statistics of the model in training mode over ``num_iter`` batches."""
        model = unwrap_model(runner.model)
        bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.training]
        if not bns:
            return
        if self._batches is None:
            # A loader of its own, built from the config, as detectron2 builds one "to not
            # affect training"; another seed than the training sampler's [C].
            if 'train_dataloader' not in runner.cfg:
                raise ValueError('PreciseBNHook: runner.cfg has no train_dataloader; build '
                                 'the runner from a config (Runner.from_cfg, mim train)')
            loader = runner.build_dataloader(runner.cfg.train_dataloader, seed=runner.seed + 1)
            self._batches = iter(loader)
        print_log(f'PreciseBN: BN statistics of {len(bns)} layers over {self.num_iter} '
                  'training batches', logger='current')
        ran = precise_bn_stats(
            bns, lambda data: model(**model.data_preprocessor(data, True), mode='loss'),
            self._batches, self.num_iter)
        if ran < self.num_iter:
            raise ValueError(f'PreciseBNHook: train_dataloader gave {ran} of num_iter='
                             f'{self.num_iter} batches; use an InfiniteSampler (as the '
                             'iteration-based configs do) or a smaller num_iter')
