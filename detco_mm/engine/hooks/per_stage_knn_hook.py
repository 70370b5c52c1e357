# Copyright (c) detco_mm contributors. All rights reserved.
"""Per-stage kNN accuracy during pretraining: watch res2..res5 features improve."""
from typing import Optional

from ...evaluation.knn import build_knn_loader, per_stage_knn
from ..utils import unwrap_model
from .stage_readout_hook import StageReadoutHook


class PerStageKNNHook(StageReadoutHook):
    """Every ``interval`` epochs, weighted kNN top-1 of every backbone stage.

    The query backbone's outputs (res2..res5 by default) are global-average-pooled and
    L2-normalised; a weighted kNN (k=20, T=0.07, InstDisc / solo-learn) classifies the
    ``val_dataloader`` images by the ``train_dataloader`` images, or, without
    ``val_dataloader``, each train image by the others (leave-one-out). The accuracies go to
    the log and, as ``knn/{stage}_top1`` at the current iteration, to every visualizer
    backend (scalars.json, TensorBoard). DDP: each rank extracts a shard, gathered on every
    rank. The datasets must give class labels (``get_gt_labels()``, e.g.
    ``mmcls.ImageNet`` with a labelled ``meta/train.txt``).

    Example (``custom_hooks`` of a config)::

        dict(type='PerStageKNNHook', interval=1,
             train_dataloader=dict(batch_size=64, num_workers=2, dataset=dict(
                 type='mmcls.ImageNet', data_root='data/imagenet/',
                 ann_file='meta/train.txt', data_prefix='train/', pipeline=knn_pipeline)))

    Args:
        train_dataloader (dict): Dataloader config of the labelled bank. ``sampler``
            defaults to ``DefaultSampler(shuffle=False)``, ``collate_fn`` to
            ``default_collate``.
        val_dataloader (dict, optional): The images to classify; None = leave-one-out.
        interval (int): Epochs between evaluations; also after the last epoch.
            Defaults to 1.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        bn_stats (str): 'reestimate' (PreciseBN on the bank's images, on a copy of the
            backbone; default) or 'running' (the stored statistics, half of them from the
            local patches). See ``detco_mm.evaluation.knn``.
        bn_batches (int): At most this many bank batches for the re-estimation.
            Defaults to 200.
        stages (Sequence[str], optional): Names of the backbone outputs. Defaults to
            ``model.head.stages``, else res2..res5.
    """

    def __init__(self,
                 train_dataloader: dict,
                 val_dataloader: Optional[dict] = None,
                 interval: int = 1,
                 k: int = 20,
                 temperature: float = 0.07,
                 bn_stats: str = 'reestimate',
                 bn_batches: int = 200,
                 stages: Optional[list] = None) -> None:
        super().__init__(interval, bn_stats, bn_batches, stages, k=k)
        if temperature <= 0:
            raise ValueError(f'PerStageKNNHook: temperature={temperature} must be > 0')
        self.loader_cfgs = dict(train=train_dataloader, val=val_dataloader)
        self.k = k
        self.temperature = temperature
        self.loaders = dict()

    def before_train(self, runner) -> None:
        """Build the dataloaders once; a wrong dataset fails before the first step."""
        for split, cfg in self.loader_cfgs.items():
            if cfg is not None:
                self.loaders[split] = build_knn_loader(cfg, seed=runner.seed)

    def after_train_epoch(self, runner) -> None:
        if not self.due(runner):
            return
        model = unwrap_model(runner.model)
        train_loader, train_labels = self.loaders['train']
        val_loader, val_labels = self.loaders.get('val', (None, None))
        top1 = per_stage_knn(model.backbone, model.data_preprocessor, self.stages_of(model),
                             train_loader,
                             train_labels, val_loader, val_labels, k=self.k,
                             temperature=self.temperature, bn_stats=self.bn_stats,
                             bn_batches=self.bn_batches)
        scalars = {f'knn/{name}': value for name, value in top1.items()}
        runner.logger.info(f'Epoch {runner.epoch + 1} per-stage kNN top-1 (k={self.k}, '
                           f'T={self.temperature}, BN {self.bn_stats}): ' +
                           ', '.join(f'{k} {v:.2f}' for k, v in scalars.items()))
        self.publish(runner, scalars)
