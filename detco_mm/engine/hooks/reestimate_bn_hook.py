# Copyright (c) detco_mm contributors. All rights reserved.
"""Re-estimated backbone BN statistics for frozen-feature evaluations (linear, kNN)."""
from mmengine.hooks import Hook

from ...evaluation.knn import reestimate_bn
from ..utils import unwrap_model


class ReestimateBNHook(Hook):
    """Before training a classifier on a frozen backbone, replace the backbone's BN running
    statistics by their average over ``num_batches`` training batches (PreciseBN).

    A DetCo checkpoint's statistics are about half those of the 64 px local patches (global
    and local views go through the same BN in separate passes, the patches last; momentum
    0.1), and a frozen backbone (``frozen_stages=4, norm_eval=True``) keeps them for the whole
    evaluation. docs/evaluation.md "Batch-norm statistics of frozen features" has the data. The
    statistics are recomputed once; the backbone then stays frozen, so they hold for training,
    validation and the saved checkpoints. DDP: each rank runs its own batches, and all end
    with the statistics of all ranks' batches (``precise_bn_stats``, all-reduced).

    Args:
        num_batches (int): Training batches to average over. Defaults to 200 (PreciseBN's
            default number of iterations).
    """

    priority = 'VERY_HIGH'  # before anything looks at the model

    def __init__(self, num_batches: int = 200) -> None:
        if num_batches < 1:
            raise ValueError(f'ReestimateBNHook: num_batches={num_batches} must be >= 1')
        self.num_batches = num_batches

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        reestimate_bn(model.backbone, model.data_preprocessor, runner.train_dataloader,
                      self.num_batches, inplace=True)
        runner.logger.info(f'ReestimateBNHook: backbone BN statistics re-estimated on '
                           f'{min(self.num_batches, len(runner.train_dataloader))} batches')
