# Copyright (c) detco_mm contributors. All rights reserved.
"""The mmpretrain face of DetCo: ``custom_imports=dict(imports=['detco_mm.backends.mmpretrain'])``
in a config (``configs/detco_mmpretrain/``) lets ``mim train mmpretrain`` build it.

It builds mmpretrain's classes from the one implementation in ``detco_mm.models``,
``detco_mm.datasets`` and ``detco_mm.engine`` and registers every name into mmpretrain's
registries. What it takes from mmpretrain (the same places as ``detco_mm.backends.mmselfsup``):

- the algorithm: ``DetCoMixin`` on mmpretrain's ``BaseSelfSupervisor`` (mmselfsup:
  ``BaseModel``), with mmpretrain's ``batch_shuffle_ddp``; mmpretrain's ResNet numbers its
  outputs from res2 (``out_indices=(0, 1, 2, 3)``), mmselfsup's from the stem
  (``(1, 2, 3, 4)``);
- the head: ``DetCoHeadMixin`` with mmpretrain's ``ContrastiveHead``, which computes InfoNCE
  in ``loss()`` (mmselfsup's in ``forward()``), with mmpretrain's ``CrossEntropyLoss`` (mean
  over the batch in both);
- the data: none. The configs of this face (``configs/detco_mmpretrain/``) inherit the
  mmselfsup configs and build their data pipeline in mmselfsup's scope
  (``train_dataloader.dataset._scope_``), so both faces read the same views and metadata
  (``jigsaw_grid``, skipped images) from one pipeline; the data preprocessors of both
  toolboxes pass mmselfsup's data samples through unread. The data classes of the mmselfsup
  face are registered here as they are, under the same names;
- everything else (neck, gpu-aug data preprocessor, transforms, hooks, log processor) is the
  core's class, registered as it is, except ``PreciseBNHook``: it is for the mmdet fine-tuning
  configs (as ``mmselfsup.PreciseBNHook``), and mmpretrain has a hook of that name which its
  own configs use.
"""
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.registry import DATASETS, HOOKS, LOG_PROCESSORS, MODELS, TRANSFORMS

from .. import datasets, engine, models
from .mmselfsup import CheckedImageList, ContiguousRandomResizedCrop, UnlabeledImages


class DetCo(models.DetCoMixin, BaseSelfSupervisor):
    """DetCo (``detco_mm.models.DetCoMixin``) as an mmpretrain self-supervised algorithm.

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


class DetCoHead(models.DetCoHeadMixin, BaseModule):
    """``detco_mm.models.DetCoHeadMixin`` with mmpretrain's ``ContrastiveHead``."""

    def build_contrastive(self, loss: Optional[dict], temperature: float) -> torch.nn.Module:
        return MODELS.build(dict(type='mmpretrain.ContrastiveHead',
                                 loss=loss or dict(type='mmpretrain.CrossEntropyLoss'),
                                 temperature=temperature))

    def infonce(self, l_pos: torch.Tensor, l_neg: torch.Tensor) -> torch.Tensor:
        """mmpretrain's ``ContrastiveHead`` computes InfoNCE in ``loss``."""
        return self.contrastive.loss(l_pos, l_neg)


# The registered names, one list per registry (as in detco_mm.backends.mmselfsup).
REGISTERED = {
    MODELS: (DetCo, DetCoHead, models.DetCoNeck, models.DetCoGPUAugDataPreprocessor),
    DATASETS: (CheckedImageList, UnlabeledImages),
    TRANSFORMS: (ContiguousRandomResizedCrop, datasets.JigsawPatches, datasets.LoadImageChecked,
                 datasets.MultiViewWithMeta),
    HOOKS: engine.PRETRAINING_HOOKS,
    LOG_PROCESSORS: (engine.DetCoLogProcessor, ),
}
for registry, classes in REGISTERED.items():
    for cls in classes:
        registry.register_module(module=cls)

__all__ = ['DetCo', 'DetCoHead']
