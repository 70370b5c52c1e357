# Copyright (c) detco_mm contributors. All rights reserved.
"""The mmpretrain face of DetCo: ``custom_imports=dict(imports=['detco_mm.backends.mmpretrain'])``
in a config (``configs/detco_mmpretrain/``) lets ``mim train mmpretrain`` build it.

It registers into mmpretrain's registries the one implementation in ``detco_mm.models``,
``detco_mm.datasets`` and ``detco_mm.engine``, swapping only what the two toolboxes name or
do differently:

- the algorithm derives from mmpretrain's ``BaseSelfSupervisor`` (mmselfsup: ``BaseModel``)
  and uses mmpretrain's ``batch_shuffle_ddp``; mmpretrain's ResNet numbers its outputs from
  res2 (``out_indices=(0, 1, 2, 3)``), mmselfsup's from the stem (``(1, 2, 3, 4)``);
- the head uses mmpretrain's ``ContrastiveHead``, which computes InfoNCE in ``loss()``
  (mmselfsup's in ``forward()``), with mmpretrain's ``CrossEntropyLoss`` (mean over the
  batch in both);
- everything else (neck, gpu-aug data preprocessor, datasets, transforms, hooks, log
  processor) is registered as it is, under the same names as into mmselfsup.

The configs of this face (``configs/detco_mmpretrain/``) inherit the mmselfsup configs and
build their data pipeline in mmselfsup's scope (``train_dataloader.dataset._scope_``), so both
faces read the same views and metadata (``jigsaw_grid``, skipped images) from one pipeline;
the data preprocessors of both toolboxes pass mmselfsup's data samples through unread.
"""

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import DATASETS, HOOKS, LOG_PROCESSORS, MODELS, TRANSFORMS

from .. import datasets, engine, models
from ..models.algorithms.detco import DetCoMixin


@MODELS.register_module()
class DetCo(DetCoMixin, BaseSelfSupervisor):
    """DetCo (``detco_mm.models.DetCo``) as an mmpretrain self-supervised algorithm.

    Args:
        backbone (dict): Backbone config; must return one map per stage of ``head.stages``
            (mmpretrain ResNet: ``out_indices=(0, 1, 2, 3)`` for res2..res5).
        neck (dict): ``DetCoNeck`` config.
        head (dict): ``DetCoHead`` config.
        momentum (float): Momentum of the key encoder, m. Defaults to 0.999 [M].
        pretrained (str, optional): Pretrained checkpoint. Defaults to None.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    RES2_OUT_INDEX = 0
    batch_shuffle_ddp = staticmethod(batch_shuffle_ddp)
    batch_unshuffle_ddp = staticmethod(batch_unshuffle_ddp)


@MODELS.register_module()
class DetCoHead(models.DetCoHead):
    """``detco_mm.models.DetCoHead`` with mmpretrain's ``ContrastiveHead``."""

    CONTRASTIVE_HEAD = 'mmpretrain.ContrastiveHead'
    DEFAULT_LOSS = dict(type='mmpretrain.CrossEntropyLoss')

    def infonce(self, l_pos: torch.Tensor, l_neg: torch.Tensor) -> torch.Tensor:
        """mmpretrain's ``ContrastiveHead`` computes InfoNCE in ``loss``."""
        return self.contrastive.loss(l_pos, l_neg)


# Everything else is the one implementation of detco_mm, registered under the same names as
# into mmselfsup's registries by `import detco_mm` (its module docstring lists them), except
# PreciseBNHook: it is for the mmdet fine-tuning configs (as `mmselfsup.PreciseBNHook`), and
# mmpretrain has a hook of that name which its own configs use.
for module in (models.DetCoNeck, models.DetCoGPUAugDataPreprocessor):
    MODELS.register_module(module=module)
for module in (datasets.CheckedImageList, datasets.UnlabeledImages):
    DATASETS.register_module(module=module)
for module in (datasets.ContiguousRandomResizedCrop, datasets.JigsawPatches,
               datasets.LoadImageChecked, datasets.MultiViewWithMeta):
    TRANSFORMS.register_module(module=module)
for module in (engine.CrashSafeCheckpointHook, engine.JigsawCheckHook,
               engine.NonFiniteCheckHook, engine.PerStageKNNHook, engine.PretrainedCheckHook,
               engine.QueueBatchCheckHook, engine.ReestimateBNHook, engine.SkippedImagesHook,
               engine.ViewRetrievalHook, engine.WeightsOnlyCheckpointHook):
    HOOKS.register_module(module=module)
LOG_PROCESSORS.register_module(module=engine.DetCoLogProcessor)

__all__ = ['DetCo', 'DetCoHead']
