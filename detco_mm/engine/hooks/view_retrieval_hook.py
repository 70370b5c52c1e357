# Copyright (c) detco_mm contributors. All rights reserved.
"""Same-image view retrieval during pretraining: a readout that moves within a few epochs."""
from typing import Optional

from mmengine.registry import DATASETS

from ...evaluation.readouts import binomial_se, fixed_views, per_stage_retrieval
from ...evaluation.scope import build
from ..utils import unwrap_model
from .stage_readout_hook import StageReadoutHook


class ViewRetrievalHook(StageReadoutHook):
    """Before training and every ``interval`` epochs, per-stage same-image view retrieval on
    held-out images (``detco_mm.evaluation.readouts``).

    The dataset gives two augmented views of each image (``MultiView`` with ``num_views=2``,
    e.g. the pretraining's global view); they are drawn once, from ``seed``, so every
    evaluation and every run with the same ``seed`` compares the same views. The accuracies go
    to the log (with chance 100 / N and the binomial standard error) and, as
    ``retrieval/{stage}_top1`` at the current iteration, to every visualizer backend. DDP: each
    rank extracts a shard, gathered on every rank.

    Example (``custom_hooks`` of a config)::

        dict(type='ViewRetrievalHook', interval=4, dataset=dict(
            type='mmcls.ImageNet', data_root='data/imagenette/', ann_file='meta/val.txt',
            data_prefix='', pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='MultiView', num_views=2, transforms=[global_view]),
                dict(type='PackSelfSupInputs', meta_keys=['img_path'])]))

    Args:
        dataset (dict): Config of the held-out images, two views each.
        seed (int): Seed of the views. Defaults to 0.
        interval (int): Epochs between evaluations; also after the last epoch. Defaults to 1.
        at_start (bool): Also before the first step (the random init). Defaults to True.
        batch_size (int): Images per forward pass. Defaults to 64.
        bn_stats (str): 'reestimate' (on the views, on a copy; default) or 'running'.
        bn_batches (int): At most this many batches for the re-estimation. Defaults to 200.
        stages (Sequence[str], optional): Names of the backbone outputs. Defaults to
            ``model.head.stages``, else res2..res5.
    """

    def __init__(self,
                 dataset: dict,
                 seed: int = 0,
                 interval: int = 1,
                 at_start: bool = True,
                 batch_size: int = 64,
                 bn_stats: str = 'reestimate',
                 bn_batches: int = 200,
                 stages: Optional[list] = None) -> None:
        super().__init__(interval, bn_stats, bn_batches, stages, batch_size=batch_size)
        self.dataset_cfg = dataset
        self.seed = seed
        self.at_start = at_start
        self.batch_size = batch_size
        self.views = None

    def before_train(self, runner) -> None:
        """Draw the views once; a wrong dataset fails before the first step."""
        # in the runner's scope (the config's default_scope), or the dataset's _scope_
        self.views = fixed_views(build(DATASETS, self.dataset_cfg), self.seed)
        if self.views.shape[1] != 2:
            raise ValueError(f'ViewRetrievalHook: the dataset gives {self.views.shape[1]} '
                             'views per image; use MultiView with num_views=2')
        if self.at_start:
            self._evaluate(runner)

    def after_train_epoch(self, runner) -> None:
        if self.due(runner):
            self._evaluate(runner)

    def _evaluate(self, runner) -> None:
        model = unwrap_model(runner.model)
        top1 = per_stage_retrieval(model.backbone, model.data_preprocessor, self.stages_of(model),
                                   self.views, self.batch_size, self.bn_stats, self.bn_batches)
        num = len(self.views)
        scalars = {f'retrieval/{name}': value for name, value in top1.items()}
        runner.logger.info(
            f'Iter {runner.iter} same-image view retrieval top-1 of {num} held-out images '
            f'(chance {100 / num:.2f}, BN {self.bn_stats}): ' +
            ', '.join(f'{k} {v:.2f} ± {binomial_se(v, num):.2f}' for k, v in top1.items()))
        self.publish(runner, scalars)
