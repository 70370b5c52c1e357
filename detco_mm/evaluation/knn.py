# Copyright (c) detco_mm contributors. All rights reserved.
"""Per-stage weighted kNN accuracy of frozen backbone features (the Table 2 question).

DetCo's claim (Table 2) is that hierarchical contrast makes res2..res4 better features. The
cheapest probe of that without labels in training is a weighted kNN on global-average-pooled,
L2-normalised features of each stage (InstDisc, Wu et al. 2018; solo-learn's ``WeightedKNN``):
k = 20 neighbours by cosine similarity, each voting for its class with weight exp(s / T),
T = 0.07.

Batch-norm statistics: DetCo encodes global images and 64 px patches through the same
backbone in separate passes, the patches last, so with momentum 0.1 the stored running
statistics are about half patch statistics. ``bn_stats='reestimate'`` (the default of the
hook and the benchmark) replaces them, on a copy of the backbone, by their average over
batches of the kNN bank's global views, as PreciseBN does (Wu & Johnson, 2021; detectron2's
``TEST.PRECISE_BN``; ``models.utils.precise_bn_stats``); ``'running'`` keeps the stored
ones. docs/evaluation.md "Batch-norm statistics of frozen features" has the measurement
behind the default.
"""
import copy
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dist import all_gather_object, get_world_size
from mmengine.runner import Runner

from ..contracts import STAGES
from ..models.utils.precise_bn import precise_bn_stats
from .features import load_query_backbone, preprocessed_views

BN_STATS = ('reestimate', 'running')


def weighted_knn_top1(bank: torch.Tensor, bank_labels: torch.Tensor,
                      queries: Optional[torch.Tensor] = None,
                      query_labels: Optional[torch.Tensor] = None,
                      k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> float:
    """Top-1 accuracy (%) of a weighted kNN classifier.

    Args:
        bank (Tensor): L2-normalised features of the labelled set, (N, C).
        bank_labels (Tensor): Their class indices, (N,).
        queries (Tensor, optional): L2-normalised features to classify, (M, C). None:
            leave-one-out on the bank (each bank item classified by the others).
        query_labels (Tensor, optional): Their class indices, (M,).
        k (int): Neighbours. Defaults to 20.
        temperature (float): T of the vote weights exp(s / T). Defaults to 0.07.
        chunk (int): Queries per similarity block (memory).

    Returns:
        float: Accuracy in percent.
    """
    leave_one_out = queries is None
    if leave_one_out:
        queries, query_labels = bank, bank_labels
    num_classes = int(bank_labels.max()) + 1
    k = min(k, bank.shape[0] - int(leave_one_out))
    correct = 0
    for start in range(0, queries.shape[0], chunk):
        sim = queries[start:start + chunk] @ bank.t()  # (m, N) cosine similarities
        if leave_one_out:
            rows = torch.arange(sim.shape[0])
            sim[rows, rows + start] = -float('inf')  # a sample is not its own neighbour
        top_sim, top_idx = sim.topk(k, dim=1)  # (m, k)
        votes = torch.zeros(sim.shape[0], num_classes, dtype=sim.dtype)
        votes.scatter_add_(1, bank_labels[top_idx], (top_sim / temperature).exp())
        correct += (votes.argmax(dim=1) == query_labels[start:start + chunk]).sum().item()
    return 100.0 * correct / queries.shape[0]


def _images(data_preprocessor: nn.Module, batch: dict) -> torch.Tensor:
    """The normalised (N, C, H, W) images of a single-view batch."""
    return preprocessed_views(data_preprocessor, batch)[0]


def reestimate_bn(backbone: nn.Module, data_preprocessor: nn.Module, loader: Iterable,
                  max_batches: int = 200, inplace: bool = False) -> nn.Module:
    """Replace the BN running statistics of ``backbone`` by those of its inputs over
    ``loader`` (PreciseBN, ``precise_bn_stats``), on a copy unless ``inplace``.

    DDP: each rank runs its own shard; the statistics are those of all shards together.

    Args:
        backbone (nn.Module): Returns one map per stage.
        data_preprocessor (nn.Module): The model's data preprocessor.
        loader (Iterable): Batches of global views.
        max_batches (int): At most this many batches (PreciseBN's default is 200).
        inplace (bool): Change ``backbone`` itself. Defaults to False.

    Returns:
        nn.Module: The backbone with new statistics, in eval mode.
    """
    target = backbone if inplace else copy.deepcopy(backbone)
    norms = [m for m in target.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.train()  # only the BN layers: a frozen backbone's train() would keep them eval
    precise_bn_stats(norms, lambda batch: target(_images(data_preprocessor, batch)), loader,
                     max_batches)
    target.eval()  # mmcls ResNet.train() returns None, not the module
    return target


@torch.no_grad()
def extract_stage_features(backbone: nn.Module, data_preprocessor: nn.Module,
                           loader: Iterable, size: int) -> List[torch.Tensor]:
    """Global-average-pooled, L2-normalised features of every backbone output.

    DDP: each rank extracts the shard its ``DefaultSampler`` (``shuffle=False``) gives it;
    the shards are gathered on every rank, in dataset order, without the sampler's padding.

    Args:
        backbone (nn.Module): In the mode wanted (eval for frozen features).
        data_preprocessor (nn.Module): The model's ``SelfSupDataPreprocessor``.
        loader (Iterable): Batches of the dataset, in order.
        size (int): Length of the dataset.

    Returns:
        list[Tensor]: One (size, C_i) tensor per stage, on the CPU.
    """
    rows = []
    for batch in loader:
        maps = backbone(_images(data_preprocessor, batch))
        feats = [F.normalize(torch.flatten(F.adaptive_avg_pool2d(m, 1), 1), dim=1).cpu()
                 for m in maps]
        rows.extend(zip(*feats))  # one tuple of per-stage vectors per image
    if get_world_size() > 1:
        # Every rank needs the whole set (each computes the kNN); DefaultSampler gave rank r
        # the items r, r + W, ... padded to equal lengths, so interleave, then drop the padding.
        parts = all_gather_object(rows)
        rows = [row for group in zip(*parts) for row in group]
    return [torch.stack(stage) for stage in zip(*rows[:size])]


def frozen_stage_features(backbone: nn.Module, data_preprocessor: nn.Module,
                          stages: Sequence[str], loaders: Sequence[Iterable],
                          sizes: Sequence[int], bn_loader: Iterable,
                          bn_stats: str = 'reestimate', bn_batches: int = 200
                          ) -> List[List[torch.Tensor]]:
    """The frozen per-stage features of each of ``loaders`` (``sizes`` images each), with BN
    statistics re-estimated on ``bn_loader`` (on a copy, ``reestimate_bn``) or the backbone's
    own (``bn_stats='running'``); ``backbone`` is left in its train/eval mode. The one
    extraction behind the kNN, retrieval and linear-probe readouts.

    Returns:
        list: Per loader, the (N, C) features of every stage.
    """
    if bn_stats not in BN_STATS:
        raise ValueError(f'bn_stats must be one of {BN_STATS}, got {bn_stats!r}')
    was_training = backbone.training
    if bn_stats == 'reestimate':
        encoder = reestimate_bn(backbone, data_preprocessor, bn_loader, bn_batches)
    else:
        encoder = backbone
        encoder.eval()
    try:
        features = [extract_stage_features(encoder, data_preprocessor, loader, size)
                    for loader, size in zip(loaders, sizes)]
    finally:
        backbone.train(was_training)
    if len(features[0]) != len(stages):
        raise ValueError(f'the backbone returns {len(features[0])} maps, stages names '
                         f'{len(stages)}: {tuple(stages)}')
    return features


def per_stage_knn(backbone: nn.Module, data_preprocessor: nn.Module, stages: Sequence[str],
                  bank_loader: Iterable, bank_labels: torch.Tensor,
                  query_loader: Optional[Iterable] = None,
                  query_labels: Optional[torch.Tensor] = None, k: int = 20,
                  temperature: float = 0.07, bn_stats: str = 'reestimate',
                  bn_batches: int = 200) -> Dict[str, float]:
    """kNN top-1 accuracy (%) of every stage's frozen features.

    Args:
        backbone (nn.Module): The query backbone (res2..res5 outputs); not modified.
        data_preprocessor (nn.Module): The model's ``SelfSupDataPreprocessor``.
        stages (Sequence[str]): Names of the backbone outputs, e.g. ('res2', ..., 'res5').
        bank_loader (Iterable): The labelled set, in dataset order.
        bank_labels (Tensor): Its class indices.
        query_loader (Iterable, optional): The set to classify; None = leave-one-out on
            the bank.
        query_labels (Tensor, optional): Its class indices.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        bn_stats (str): 'reestimate' (BN statistics recomputed on the bank's images) or
            'running' (the checkpoint's). Defaults to 'reestimate'.
        bn_batches (int): Batches of the bank for the re-estimation.

    Returns:
        dict[str, float]: ``{stage}_top1`` per stage.
    """
    loaders, sizes = [bank_loader], [len(bank_labels)]
    if query_loader is not None:
        loaders.append(query_loader)
        sizes.append(len(query_labels))
    bank, *rest = frozen_stage_features(backbone, data_preprocessor, stages, loaders, sizes,
                                        bank_loader, bn_stats, bn_batches)
    queries = rest[0] if rest else [None] * len(bank)
    return {f'{stage}_top1': weighted_knn_top1(b, bank_labels, q, query_labels, k, temperature)
            for stage, b, q in zip(stages, bank, queries)}


def build_knn_loader(dataloader: dict, seed: Optional[int] = None
                     ) -> Tuple[Iterable, torch.Tensor]:
    """A kNN dataloader (in dataset order) and the class index of every image.

    Args:
        dataloader (dict): Dataloader config; ``sampler`` defaults to
            ``DefaultSampler(shuffle=False)`` (a shard per rank), ``collate_fn`` to
            ``default_collate``.
        seed (int, optional): Seed of the workers.

    Raises:
        ValueError: The dataset has no class labels.
    """
    cfg = dict(dataloader)
    cfg.setdefault('sampler', dict(type='DefaultSampler', shuffle=False))
    cfg.setdefault('collate_fn', dict(type='default_collate'))
    loader = Runner.build_dataloader(cfg, seed=seed)
    labels = getattr(loader.dataset, 'get_gt_labels', None)
    if labels is None:
        raise ValueError(f'kNN: dataset {type(loader.dataset).__name__} has no class labels '
                         f'(get_gt_labels); use a labelled dataset such as mmcls.ImageNet '
                         f'with a meta/train.txt of "file label" lines')
    return loader, torch.as_tensor(labels(), dtype=torch.long)


def knn_of_config(cfg: Config, checkpoint: Optional[str] = None,
                  bn_stats: str = 'reestimate') -> Dict[str, float]:
    """Per-stage kNN of a checkpoint's query backbone with the data and settings of a
    config's ``PerStageKNNHook``, outside training (final checkpoints, random init).

    Args:
        cfg (Config): A pretraining config with a ``PerStageKNNHook`` in ``custom_hooks``.
        checkpoint (str, optional): DetCo training checkpoint; None: a random init
            (``load_query_backbone``).
        bn_stats (str): 'reestimate' or 'running'.

    Returns:
        dict[str, float]: ``{stage}_top1`` per stage.
    """
    hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') == 'PerStageKNNHook']
    if not hooks:
        raise ValueError(f'{cfg.filename}: no PerStageKNNHook in custom_hooks, nothing says '
                         f'which labelled images to use')
    hook = hooks[0]
    backbone, data_preprocessor = load_query_backbone(cfg, checkpoint)
    bank_loader, bank_labels = build_knn_loader(hook['train_dataloader'])
    query_loader, query_labels = (build_knn_loader(hook['val_dataloader'])
                                  if hook.get('val_dataloader') else (None, None))
    stages = hook.get('stages') or cfg.model.get('head', {}).get('stages') or STAGES
    return per_stage_knn(backbone, data_preprocessor, stages, bank_loader, bank_labels,
                         query_loader, query_labels, k=hook.get('k', 20),
                         temperature=hook.get('temperature', 0.07), bn_stats=bn_stats,
                         bn_batches=hook.get('bn_batches', 200))
