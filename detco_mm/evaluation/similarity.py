# Copyright (c) detco_mm contributors. All rights reserved.
"""Positive / negative similarities of every loss term (paper Fig. 9, appendix).

For every stage and enabled contrast, the cosine similarity of each query with its own key
(positive) and with every key in the queue of the key's view and stage (negatives): the
numbers ``DetCoHead.similarities`` gives the InfoNCE of that term. The paper's argument for
l2g is that its positives are less similar than those of g2g (dP > 0) while the negatives are
about as similar (dN -> 0). A queue holds up to 65536 keys, so the (N, K) negatives of all
batches cannot be kept: counts, sums, sums of squares and fixed-bin histograms add up over
batches.
"""
from typing import Dict, Iterable, Tuple

import torch
from mmengine.registry import MODELS

import detco_ckpt

from ..contracts import VIEW_INPUTS
from ..models.algorithms.detco import DetCoMixin
from .features import preprocessed_views
from .scope import build

# Histogram bins of cosine similarity, [-1, 1].
NUM_BINS = 50


def similarity_moments(l_pos: torch.Tensor, l_neg: torch.Tensor,
                       bins: int = NUM_BINS) -> Dict[str, torch.Tensor]:
    """Sums over one batch of a term's similarities, which add up over batches.

    Args:
        l_pos (Tensor): Positive similarities, (N, 1) or (N,).
        l_neg (Tensor): Negative similarities, (N, K).
        bins (int): Histogram bins over [-1, 1].

    Returns:
        dict[str, Tensor]: float64 ``num_pos``, ``pos_sum``, ``pos_sq_sum``, ``num_neg``,
        ``neg_sum``, ``neg_sq_sum``, ``margin_sum`` (sum over queries of pos - max(neg)), and
        ``pos_hist`` / ``neg_hist`` counts.
    """
    pos, neg = l_pos.reshape(-1).double(), l_neg.double()
    return dict(
        num_pos=pos.new_tensor(pos.numel()),
        pos_sum=pos.sum(),
        pos_sq_sum=pos.square().sum(),
        num_neg=neg.new_tensor(neg.numel()),
        neg_sum=neg.sum(),
        neg_sq_sum=neg.square().sum(),
        margin_sum=(pos - neg.max(dim=1).values).sum(),
        pos_hist=torch.histc(pos, bins=bins, min=-1, max=1),
        neg_hist=torch.histc(neg, bins=bins, min=-1, max=1))


def summarize(moments: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """Means and (population) standard deviations from ``similarity_moments`` sums.

    Returns:
        dict[str, float]: ``pos_mean``, ``pos_std``, ``neg_mean``, ``neg_std`` (over all
        query-negative pairs) and ``margin_mean`` (mean over queries of pos - max(neg)).
    """
    def mean_std(prefix: str, num: torch.Tensor) -> Tuple[float, float]:
        mean = moments[f'{prefix}_sum'] / num
        # Rounding can make E[x^2] - E[x]^2 slightly negative when all values are equal.
        var = (moments[f'{prefix}_sq_sum'] / num - mean.square()).clamp(min=0)
        return mean.item(), var.sqrt().item()

    pos_mean, pos_std = mean_std('pos', moments['num_pos'])
    neg_mean, neg_std = mean_std('neg', moments['num_neg'])
    return dict(pos_mean=pos_mean, pos_std=pos_std, neg_mean=neg_mean, neg_std=neg_std,
                margin_mean=(moments['margin_sum'] / moments['num_pos']).item())


@torch.no_grad()
def batch_similarities(model, inputs: list
                       ) -> Dict[Tuple[str, str], Tuple[torch.Tensor, torch.Tensor]]:
    """``DetCoHead.similarities`` of one preprocessed batch, queues untouched.

    Queries from the query encoder, keys from the momentum encoder, without shuffle-BN (the
    model should be in eval mode, where batch norm does not look at the batch).

    Args:
        model (DetCo): The model.
        inputs (list[Tensor]): [global q, global k, local q, local k], each (N, 3, H, W).
    """
    views = model.head.views
    queries = {v: model.encode(model, inputs[VIEW_INPUTS[v][0]], v) for v in views}
    keys = {v: model.encode(model.encoder_k.module, inputs[VIEW_INPUTS[v][1]], v)
            for v in views}
    return model.head.similarities(queries, keys)


def collect_similarities(model, batches: Iterable, bins: int = NUM_BINS
                         ) -> Tuple[Dict[Tuple[str, str], Dict[str, torch.Tensor]], int]:
    """``similarity_moments`` of every (stage, contrast), summed over ``batches``.

    Args:
        model (DetCo): In eval mode.
        batches (Iterable): Collated batches of the training pipeline (4 views).
        bins (int): Histogram bins.

    Returns:
        tuple: (stage, contrast) -> summed moments, and the number of images.
    """
    totals, num_samples = dict(), 0
    for batch in batches:
        inputs = preprocessed_views(model.data_preprocessor, batch)
        for name, (l_pos, l_neg) in batch_similarities(model, inputs).items():
            moments = similarity_moments(l_pos, l_neg, bins)
            total = totals.setdefault(name, dict.fromkeys(moments, 0))
            for key, value in moments.items():
                total[key] = total[key] + value
        num_samples += inputs[0].shape[0]
    return totals, num_samples


def load_detco(cfg, config: str, checkpoint: str):
    """The config's DetCo with a training checkpoint's weights and queues.

    Args:
        cfg (Config): The loaded config.
        config (str): Its path, for the messages.
        checkpoint (str): A DetCo training checkpoint (``epoch_N.pth``).

    Returns:
        DetCo: On the CPU, in training mode.

    Raises:
        detco_ckpt.CheckpointError: Not a readable DetCo training checkpoint.
        ValueError: The config's model is not DetCo, or does not fit the checkpoint.
    """
    state_dict = detco_ckpt.detco_state_dict(checkpoint)
    model = build(MODELS, cfg.model, cfg.get('default_scope'))
    if not isinstance(model, DetCoMixin):  # the DetCo of either face
        raise ValueError(f'{config}: model is {type(model).__name__}, not DetCo')
    # A one-line summary instead of load_state_dict's list of every mismatching tensor.
    own = model.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    resized = [key for key in own
               if key in state_dict and own[key].shape != state_dict[key].shape]
    if missing or unexpected or resized:
        first = (missing or unexpected or resized)[0]
        raise ValueError(f'{checkpoint} does not fit the model of {config}: {len(missing)} '
                         f'missing, {len(unexpected)} unexpected, {len(resized)} differently '
                         f'shaped tensors (first: {first})')
    model.load_state_dict(state_dict)
    return model
