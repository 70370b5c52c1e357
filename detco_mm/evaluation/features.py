# Copyright (c) detco_mm contributors. All rights reserved.
"""Backbone features for the paper's figures: attention maps (Fig. 5), retrieval (Fig. 7)."""
from typing import List, Optional, Tuple

import mmcv
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS

import detco_ckpt

from .scope import build


def preprocessed_views(data_preprocessor: nn.Module, batch: dict) -> List[torch.Tensor]:
    """The normalised views of a collated batch, one (N, C, H, W) tensor each, through
    mmselfsup's ``SelfSupDataPreprocessor`` (a tuple: inputs, samples) or mmpretrain's and
    mmcls's data preprocessors (a dict), so the readouts take configs of either face."""
    out = data_preprocessor(batch, False)
    inputs = out['inputs'] if isinstance(out, dict) else out[0]
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def load_query_backbone(cfg: Config, checkpoint: Optional[str] = None
                        ) -> Tuple[nn.Module, nn.Module]:
    """The config's backbone with a DetCo training checkpoint's query backbone, in eval mode.

    Args:
        cfg (Config): A pretraining config (its ``model``).
        checkpoint (str, optional): DetCo training checkpoint; None: a random init, by
            ``init_weights()`` as pretraining starts (mmcls ResNet: Kaiming convolutions, not
            PyTorch's default init).

    Returns:
        tuple[nn.Module, nn.Module]: The backbone and the model's data preprocessor.

    Raises:
        detco_ckpt.CheckpointError: Not a readable DetCo training checkpoint.
        RuntimeError: Its backbone does not fit the config's (``load_state_dict``).
    """
    model = build(MODELS, cfg.model, cfg.get('default_scope'))
    if checkpoint is None:
        model.backbone.init_weights()
    else:
        model.backbone.load_state_dict(detco_ckpt.load_backbone(checkpoint)[0])
    model.backbone.eval()  # mmcls ResNet.train() returns None, not the module
    return model.backbone, model.data_preprocessor


def load_image(path: str, short_side: int) -> torch.Tensor:
    """A BGR uint8 (3, H, W) image with its short side resized to ``short_side``, as
    ``LoadImageFromFile`` + a short-edge resize give it to ``SelfSupDataPreprocessor``."""
    img = mmcv.imread(path)
    if img is None:
        raise ValueError(f'{path}: not an image file mmcv can read')
    h, w = img.shape[:2]
    scale = short_side / min(h, w)
    img = mmcv.imresize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                        backend='pillow')
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


@torch.no_grad()
def attention_map(backbone: nn.Module, data_preprocessor: nn.Module, image: torch.Tensor,
                  stage: int = -1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fig. 5: the channel mean of one stage's feature map, min-max normalised.

    Args:
        backbone (nn.Module): In eval mode, one output per stage.
        data_preprocessor (nn.Module): The model's ``SelfSupDataPreprocessor``.
        image (Tensor): BGR uint8 (3, H, W), see ``load_image``.
        stage (int): Index into the backbone outputs; -1 = res5.

    Returns:
        tuple[Tensor, Tensor]: The map at feature resolution (h, w) and bilinearly upsampled
        to the image (H, W), both in [0, 1].
    """
    inputs = preprocessed_views(data_preprocessor, dict(inputs=[image[None]], data_samples=None))
    fmap = backbone(inputs[0])[stage][0].mean(dim=0)  # (h, w)
    fmap = (fmap - fmap.min()) / (fmap.max() - fmap.min()).clamp(min=1e-12)
    full = F.interpolate(fmap[None, None], size=image.shape[1:], mode='bilinear',
                         align_corners=False)[0, 0]
    return fmap, full


def nearest_neighbours(bank: torch.Tensor, queries: List[int], k: int
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Fig. 7: the ``k`` most similar bank items of each query item, the item itself excluded.

    Args:
        bank (Tensor): L2-normalised features, (N, C) (``extract_stage_features``).
        queries (list[int]): Indices into the bank.
        k (int): Neighbours per query.

    Returns:
        tuple[Tensor, Tensor]: Indices and cosine similarities, each (len(queries), k).
    """
    sim = bank[queries] @ bank.t()  # (Q, N)
    sim[torch.arange(len(queries)), torch.as_tensor(queries)] = -float('inf')
    top_sim, top_idx = sim.topk(min(k, bank.shape[0] - 1), dim=1)
    return top_idx, top_sim
