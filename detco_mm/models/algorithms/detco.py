# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo: MoCo v2 + hierarchical intermediate contrast + cross global/local contrast."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage

from ...contracts import VIEW_INPUTS, check_jigsaw_grid, check_mosaic_grid, mosaic_to_patches
from ..utils.checks import check_backbone_channels, check_embedding_dims, check_grid, check_momentum


class DetCoMixin:
    """DetCo, `Unsupervised Contrastive Learning for Object Detection
    <https://arxiv.org/abs/2102.04803>`_ (ICCV 2021), shared by every toolbox.

    The query encoder is ``backbone`` (returning res2..res5) + ``neck`` (``DetCoNeck``); the
    key encoder is their momentum copy (mmengine ``ExponentialMovingAverage``, as mmselfsup's
    ``MoCo``). Global images and local patch sets go through the backbone in separate passes
    ([C] 64 px patches and 224 px crops do not share batch-norm statistics). Keys use
    shuffle-BN (the toolbox's ``batch_shuffle_ddp``); for a local view whole images are
    shuffled, so the 9 patches of an image stay together ([C]). ``head`` (``DetCoHead``) turns
    queries and keys into the loss terms of eq. 1 and owns the queues.

    A backend face (``detco_mm/backends/``) combines it with its toolbox's
    self-supervised base model (which builds ``backbone``, ``neck``, ``head`` and the data
    preprocessor, and dispatches ``forward``; both toolboxes' bases take the same arguments)
    and sets the class attributes below. The Args are documented on the faces.

    Attributes (set by a face):
        RES2_OUT_INDEX (int): Out index of res2 in the backbone's ``out_indices``: 1 for
            mmselfsup's ResNet (0 is its stem), 0 for mmcls/mmpretrain's.
        batch_shuffle_ddp, batch_unshuffle_ddp (staticmethod): The toolbox's shuffle-BN
            helpers (mmselfsup's and mmpretrain's do the same).
    """

    RES2_OUT_INDEX: int

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 momentum: float = 0.999,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        # the toolbox's base model, next in the MRO of a face
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self._init_detco(momentum)

    def _init_detco(self, momentum: float) -> None:
        """Check the built parts against each other and create the key encoder."""
        self._check_stages()
        check_backbone_channels(self.backbone, self.neck.in_channels)
        check_embedding_dims(self.neck.out_channels, self.head.feat_dim)
        check_momentum(momentum)
        if 'l' in self.head.views and not self.neck.with_local:
            raise ValueError(f'DetCo: head.contrasts={self.head.contrasts} need local views '
                             f'but neck.with_local=False')
        self.grid = check_grid(self.neck.num_patches)
        # The device jigsaw (detco-gpuaug configs) is part of the model, so it is checked
        # here; the train pipeline's JigsawPatches by JigsawCheckHook, before step 1.
        jigsaw = getattr(self.data_preprocessor, 'jigsaw', None)
        if 'l' in self.head.views and jigsaw is not None:
            check_jigsaw_grid(jigsaw.grid, self.grid, 'model.data_preprocessor.jigsaw',
                              'model.data_preprocessor.jigsaw.grid={grid}')
        # The key encoder: backbone + all neck heads, momentum-updated [M].
        self.encoder_k = ExponentialMovingAverage(self._query_encoder(), 1 - momentum)

    def _check_stages(self) -> None:
        """Backbone outputs, neck heads and head stages must describe the same stages."""
        stages = self.head.stages
        if len(self.neck.in_channels) != len(stages):
            raise ValueError(f'DetCo: neck.in_channels={self.neck.in_channels} has '
                             f'{len(self.neck.in_channels)} entries, head.stages={stages} '
                             f'has {len(stages)}')
        out_indices = getattr(self.backbone, 'out_indices', None)
        if out_indices is not None:
            names = tuple(f'res{i + 2 - self.RES2_OUT_INDEX}' for i in out_indices)
            if names != stages:
                raise ValueError(f'DetCo: backbone.out_indices={tuple(out_indices)} gives '
                                 f'{names}, but head.stages={stages}')

    @property
    def num_input_views(self) -> int:
        """Views ``loss`` reads: 2 (global q, k), or 4 when a contrast uses local views."""
        return max(VIEW_INPUTS[v][1] for v in self.head.views) + 1

    def _query_encoder(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck))

    def encode(self, encoder: nn.Module, img: torch.Tensor, view: str) -> List[torch.Tensor]:
        """Per-stage embeddings of one view, without shuffle-BN.

        Args:
            encoder (nn.Module): ``self`` (query encoder) or ``self.encoder_k.module`` (key
                encoder); anything with ``backbone`` and ``neck``.
            img (Tensor): (N, C, H, W) global images, or (N, C, g*p, g*p) jigsaw mosaics for
                ``view='l'``.
            view (str): 'g' or 'l'.

        Returns:
            list[Tensor]: S x (N, D), not normalised.
        """
        if view == 'l':
            img = mosaic_to_patches(img, self.grid)  # (N * 9, C, p, p)
        return encoder.neck(encoder.backbone(img), view)

    @torch.no_grad()
    def _encode_key(self, img: torch.Tensor, view: str) -> List[torch.Tensor]:
        """Keys with shuffle-BN: shuffle images across GPUs, encode, undo the shuffle."""
        img, idx_unshuffle = self.batch_shuffle_ddp(img)
        keys = self.encode(self.encoder_k.module, img, view)
        return [self.batch_unshuffle_ddp(k, idx_unshuffle) for k in keys]

    def extract_feat(self, inputs: List[torch.Tensor], **kwargs) -> Tuple[torch.Tensor]:
        """Backbone features of the first view.

        Args:
            inputs (list[Tensor]): Views; the first is (N, C, H, W).

        Returns:
            tuple[Tensor]: One map per stage (res2..res5 by default).
        """
        return self.backbone(inputs[0])

    def loss(self, inputs: List[torch.Tensor], data_samples: list,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Loss terms of eq. 1.

        Args:
            inputs (list[Tensor]): [global q, global k] (N, 3, 224, 224) and, when local
                contrasts are on, [local q, local k] mosaics (N, 3, 192, 192) from
                ``JigsawPatches``.
            data_samples (list): mmselfsup ``SelfSupDataSample`` or mmpretrain
                ``DataSample``; their ``jigsaw_grid`` metainfo, when present, must match
                ``model.neck.num_patches``.

        Returns:
            dict[str, Tensor]: ``loss_{g2g,l2l,l2g}_{res2..res5}`` and unweighted ``nce_*``.
        """
        views = self.head.views
        needed = self.num_input_views
        if len(inputs) < needed:
            raise ValueError(
                f'DetCo: head.contrasts={self.head.contrasts} need {needed} input views '
                f'(global q, global k, local q, local k), got {len(inputs)}; check the '
                f'MultiView of the train pipeline')
        # The queues' batch check runs once per step, in ``head`` on the gathered keys.
        if 'l' in views:
            check_mosaic_grid(data_samples, VIEW_INPUTS['l'], self.grid)

        queries = {v: self.encode(self, inputs[VIEW_INPUTS[v][0]], v) for v in views}
        with torch.no_grad():
            self.encoder_k.update_parameters(self._query_encoder())
            keys = {v: self._encode_key(inputs[VIEW_INPUTS[v][1]], v) for v in views}
        return self.head(queries, keys)

