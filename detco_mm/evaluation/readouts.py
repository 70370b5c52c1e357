# Copyright (c) detco_mm contributors. All rights reserved.
"""Readouts of frozen per-stage features that can move in a short run, with their chance level
and standard error.

- **Same-image view retrieval**: two augmented views of each held-out image (drawn once from
  a seed, so every checkpoint sees the same views); for each first view, is the nearest second
  view (cosine, per stage) the one of the same image? Chance 1 / N. This is the pretext task
  itself on unseen images, so it moves long before class labels do.
- **Class kNN** (leave-one-out on a labelled bank, ``knn.weighted_knn_top1``) and a **linear
  probe** (train split -> val split) on the same frozen features. Chance: the largest class's
  share.

All extract through ``knn.frozen_stage_features`` (BN statistics of the evaluated images,
see ``knn``). Standard errors are binomial, sqrt(p (1 - p) / n): the spread
of one measurement over the draw of its n images, not over training seeds.
"""
import itertools
import math
import random
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from .knn import frozen_stage_features, weighted_knn_top1


def binomial_se(percent: float, num: int) -> float:
    """Standard error (in points) of an accuracy of ``percent`` % measured on ``num`` items."""
    p = percent / 100.
    return 100. * math.sqrt(p * (1. - p) / num)


def class_chance(labels: torch.Tensor) -> float:
    """Accuracy (%) of always answering the most frequent class."""
    return 100. * torch.bincount(labels).max().item() / len(labels)


def view_retrieval_top1(queries: torch.Tensor, gallery: torch.Tensor) -> float:
    """Top-1 (%) of finding item i of ``gallery`` as the nearest neighbour of item i of
    ``queries``; both (N, C), L2-normalised. Chance: 100 / N."""
    if queries.shape != gallery.shape:
        raise ValueError(f'view retrieval: queries {tuple(queries.shape)} and gallery '
                         f'{tuple(gallery.shape)} must have the same shape (one view each)')
    nearest = (queries @ gallery.t()).argmax(dim=1)  # (N,)
    return 100. * (nearest == torch.arange(len(queries))).float().mean().item()


def fixed_views(dataset: Sequence, seed: int) -> torch.Tensor:
    """Every item's views, each item drawn with its own seed (``seed * N + index``), so the
    views do not depend on what ran before; the caller's random states are restored.

    Args:
        dataset (Sequence): Items whose ``inputs`` are a list of equally sized uint8 (3, H, W)
            views (``MultiView`` + ``PackSelfSupInputs``).
        seed (int): Seed of the draw.

    Returns:
        Tensor: (N, views, 3, H, W) uint8.
    """
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        items = []
        for index in range(len(dataset)):
            item_seed = seed * len(dataset) + index
            random.seed(item_seed)
            np.random.seed(item_seed % 2**32)
            torch.manual_seed(item_seed)
            items.append(torch.stack(list(dataset[index]['inputs'])))
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
    return torch.stack(items)


def _view_loader(views: torch.Tensor, view: int, batch_size: int) -> DataLoader:
    """Batches of one view, in order; DDP: a ``DefaultSampler`` shard per rank, as
    ``extract_stage_features`` expects."""
    images = views[:, view]
    return DataLoader(images, batch_size=batch_size,
                      sampler=DefaultSampler(images, shuffle=False),
                      collate_fn=lambda batch: dict(inputs=[torch.stack(batch)],
                                                    data_samples=None))


def per_stage_retrieval(backbone: nn.Module, data_preprocessor: nn.Module,
                        stages: Sequence[str], views: torch.Tensor, batch_size: int = 64,
                        bn_stats: str = 'reestimate', bn_batches: int = 200
                        ) -> Dict[str, float]:
    """Same-image view retrieval top-1 (%) of every stage.

    Args:
        backbone (nn.Module): Returns one map per stage; not modified.
        data_preprocessor (nn.Module): The model's data preprocessor.
        stages (Sequence[str]): Names of the backbone outputs.
        views (Tensor): (N, 2, 3, H, W) uint8, see ``fixed_views``.
        batch_size (int): Images per forward pass.
        bn_stats (str): 'reestimate' (on both views of these images, on a copy) or 'running'.
        bn_batches (int): At most this many batches for the re-estimation.

    Returns:
        dict[str, float]: ``{stage}_top1`` per stage.
    """
    if views.dim() != 5 or views.shape[1] != 2:
        raise ValueError(f'view retrieval needs (N, 2, 3, H, W) views, got {tuple(views.shape)}')
    loaders = [_view_loader(views, v, batch_size) for v in (0, 1)]
    first, second = frozen_stage_features(backbone, data_preprocessor, stages, loaders,
                                          [len(views)] * 2, itertools.chain(*loaders),
                                          bn_stats, bn_batches)
    return {f'{stage}_top1': view_retrieval_top1(q, g)
            for stage, q, g in zip(stages, first, second)}


def linear_probe_top1(train: torch.Tensor, train_labels: torch.Tensor, val: torch.Tensor,
                      val_labels: torch.Tensor, weight_decay: float = 1e-3,
                      max_iter: int = 200) -> float:
    """Val top-1 (%) of a softmax regression fitted on frozen train features.

    Features are standardised with the train split's mean and std; the fit is full-batch
    L-BFGS with an L2 penalty on the weights ([C] ``weight_decay``, not tuned per run). Why not
    mmpretrain's linear benchmark: it runs the frozen backbone at every epoch of an SGD
    schedule, minutes per stage on a CPU; on cached features this takes seconds (the protocol
    of CLIP's linear probes, L-BFGS logistic regression, without its sweep over the penalty).

    Args:
        train (Tensor): (N, C) features; ``train_labels`` (N,) class indices.
        val (Tensor): (M, C) features; ``val_labels`` (M,) class indices.
        weight_decay (float): L2 penalty on the weights.
        max_iter (int): L-BFGS iterations.
    """
    mean, std = train.mean(dim=0), train.std(dim=0).clamp(min=1e-6)
    x, x_val = (train - mean) / std, (val - mean) / std
    num_classes = int(max(train_labels.max(), val_labels.max())) + 1
    linear = nn.Linear(x.shape[1], num_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = (nn.functional.cross_entropy(linear(x), train_labels) +
                weight_decay * linear.weight.square().sum())
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        predicted = linear(x_val).argmax(dim=1)
    return 100. * (predicted == val_labels).float().mean().item()


def class_readouts(backbone: nn.Module, data_preprocessor: nn.Module, stages: Sequence[str],
                   train_loader: Iterable, train_labels: torch.Tensor,
                   val_loader: Optional[Iterable] = None,
                   val_labels: Optional[torch.Tensor] = None, k: int = 20,
                   temperature: float = 0.07, bn_batches: int = 200
                   ) -> Dict[str, Dict[str, float]]:
    """Per-stage class kNN (leave-one-out on the train split) and, given a val split, a linear
    probe (train -> val), on one extraction of BN-re-estimated frozen features.

    Args:
        backbone (nn.Module): Returns one map per stage; not modified.
        data_preprocessor (nn.Module): The model's data preprocessor.
        stages (Sequence[str]): Names of the backbone outputs.
        train_loader (Iterable): The labelled train split in order (``knn.build_knn_loader``);
            BN statistics are re-estimated on it.
        train_labels (Tensor): Its class indices.
        val_loader (Iterable, optional): The val split; None: kNN only.
        val_labels (Tensor, optional): Its class indices.
        k (int): kNN neighbours. Defaults to 20.
        temperature (float): kNN vote temperature. Defaults to 0.07.
        bn_batches (int): At most this many train batches for the re-estimation.

    Returns:
        dict: ``knn`` (and ``linear``): ``{stage}_top1`` per stage.
    """
    loaders, sizes = [train_loader], [len(train_labels)]
    if val_loader is not None:
        loaders.append(val_loader)
        sizes.append(len(val_labels))
    train, *rest = frozen_stage_features(backbone, data_preprocessor, stages, loaders, sizes,
                                         train_loader, bn_batches=bn_batches)
    val = rest[0] if rest else None
    out = dict(knn={f'{stage}_top1': weighted_knn_top1(feats, train_labels, k=k,
                                                       temperature=temperature)
                    for stage, feats in zip(stages, train)})
    if val is not None:
        out['linear'] = {f'{stage}_top1': linear_probe_top1(t, train_labels, v, val_labels)
                         for stage, t, v in zip(stages, train, val)}
    return out
