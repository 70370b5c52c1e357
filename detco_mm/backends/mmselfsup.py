# Copyright (c) detco_mm contributors. All rights reserved.
"""The mmselfsup face of DetCo: ``import detco_mm`` (``custom_imports=dict(imports=
['detco_mm'])`` in a config, ``configs/detco/``) imports this module, which lets
``mim train mmselfsup`` build it.

It builds mmselfsup's classes from the one implementation in ``detco_mm.models``,
``detco_mm.datasets`` and ``detco_mm.engine`` and registers every name into mmselfsup's
registries. What it takes from mmselfsup (the same places as ``detco_mm.backends.mmpretrain``):

- the algorithm: ``DetCoMixin`` on mmselfsup's ``BaseModel``, with mmselfsup's
  ``batch_shuffle_ddp``; mmselfsup's ResNet numbers its outputs from the stem
  (``out_indices=(1, 2, 3, 4)`` for res2..res5);
- the head: ``DetCoHeadMixin`` with mmselfsup's ``ContrastiveHead``, which computes InfoNCE in
  ``forward()``, with mmcls's ``CrossEntropyLoss`` (mean over the batch);
- the data: ``CheckedImageList`` on mmselfsup's ``ImageList``, ``UnlabeledImages`` on it,
  ``ContiguousRandomResizedCrop`` on mmselfsup's ``RandomResizedCrop``. The pipeline of both
  faces is this one: the mmpretrain configs build their datasets in mmselfsup's scope, and
  ``detco_mm.backends.mmpretrain`` registers these classes as they are;
- everything else (neck, gpu-aug data preprocessor, transforms, hooks, log processor) is the
  core's class, registered as it is.
"""
from typing import Optional

import torch
from mmengine.model import BaseModule
from mmselfsup.datasets import ImageList
from mmselfsup.datasets.transforms import RandomResizedCrop
from mmselfsup.models.algorithms.base import BaseModel
from mmselfsup.registry import DATASETS, HOOKS, LOG_PROCESSORS, MODELS, TRANSFORMS
from mmselfsup.utils import batch_shuffle_ddp, batch_unshuffle_ddp

from .. import datasets, engine, models


class DetCo(models.DetCoMixin, BaseModel):
    """DetCo (``detco_mm.models.DetCoMixin``) as an mmselfsup algorithm.

    Args:
        backbone (dict): Backbone config; must return one map per stage of ``head.stages``
            (mmselfsup ResNet: ``out_indices=(1, 2, 3, 4)`` for res2..res5).
        neck (dict): ``DetCoNeck`` config.
        head (dict): ``DetCoHead`` config.
        momentum (float): Momentum of the key encoder, m. Defaults to 0.999 [M].
        pretrained (str, optional): Pretrained checkpoint. Defaults to None.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialization config. Defaults to None.
    """

    RES2_OUT_INDEX = 1
    batch_shuffle_ddp = staticmethod(batch_shuffle_ddp)
    batch_unshuffle_ddp = staticmethod(batch_unshuffle_ddp)


class DetCoHead(models.DetCoHeadMixin, BaseModule):
    """``detco_mm.models.DetCoHeadMixin`` with mmselfsup's ``ContrastiveHead``."""

    def build_contrastive(self, loss: Optional[dict], temperature: float) -> torch.nn.Module:
        return MODELS.build(dict(type='mmselfsup.ContrastiveHead',
                                 loss=loss or dict(type='mmcls.CrossEntropyLoss'),
                                 temperature=temperature))

    def infonce(self, l_pos: torch.Tensor, l_neg: torch.Tensor) -> torch.Tensor:
        """mmselfsup's ``ContrastiveHead`` computes InfoNCE in ``forward``."""
        return self.contrastive(l_pos, l_neg)


class CheckedImageList(datasets.CheckedImageListMixin, ImageList):
    __doc__ = datasets.CheckedImageListMixin.__doc__


class UnlabeledImages(datasets.UnlabeledImagesMixin, CheckedImageList):
    __doc__ = datasets.UnlabeledImagesMixin.__doc__


class ContiguousRandomResizedCrop(datasets.ContiguousCropMixin, RandomResizedCrop):
    __doc__ = datasets.ContiguousCropMixin.__doc__


# The registered names, one list per registry (detco_mm.backends.mmpretrain has the same
# structure).
REGISTERED = {
    MODELS: (DetCo, DetCoHead, models.DetCoNeck, models.DetCoGPUAugDataPreprocessor),
    DATASETS: (CheckedImageList, UnlabeledImages),
    TRANSFORMS: (ContiguousRandomResizedCrop, datasets.JigsawPatches, datasets.LoadImageChecked,
                 datasets.MultiViewWithMeta),
    HOOKS: engine.PRETRAINING_HOOKS + (engine.PreciseBNHook, ),
    LOG_PROCESSORS: (engine.DetCoLogProcessor, ),
}
for registry, classes in REGISTERED.items():
    for cls in classes:
        registry.register_module(module=cls)

__all__ = ['CheckedImageList', 'ContiguousRandomResizedCrop', 'DetCo', 'DetCoHead',
           'UnlabeledImages']
