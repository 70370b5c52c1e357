# Copyright (c) detco_mm contributors. All rights reserved.
"""PreciseBN (Wu & Johnson, 2021, "Rethinking 'Batch' in BatchNorm"; detectron2's
``TEST.PRECISE_BN``): BN statistics recomputed with fixed weights over many batches.

The one re-estimation of the project: ``PreciseBNHook`` (mmdet fine-tuning) and
``evaluation.reestimate_bn`` (kNN, retrieval and readouts, ``ReestimateBNHook``) both call
``precise_bn_stats``.
"""
from itertools import islice
from typing import Any, Callable, Iterable, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def precise_bn_stats(norms: Sequence[_BatchNorm], forward: Callable[[Any], Any],
                     batches: Iterable, num_batches: int) -> int:
    """Replace the running mean and variance of ``norms`` by their average over the inputs
    they get while ``forward`` runs on ``num_batches`` batches, over every rank.

    The layers must be in training mode: each batch is normalised with its own statistics,
    as in training. Every call of a layer counts (a layer called twice per forward adds both
    inputs), weighted by its values per channel: the mean is that of all the inputs, the
    variance the average of the calls' unbiased variances (torch's ``running_var``).
    ``num_batches_tracked`` counts this rank's calls from 0; a layer that no rank called
    keeps the reset statistics (mean 0, variance 1).

    Every rank must call this (it all-reduces once when the world size is > 1), each with
    its own ``batches``; afterwards all ranks hold the same statistics, those that one
    process would compute over all the ranks' batches.

    Args:
        norms (Sequence[_BatchNorm]): The BN layers to re-estimate, in training mode.
        forward (Callable): Runs the model on one batch; its output is not used.
        batches (Iterable): Batches for ``forward``; an iterator keeps its position for the
            next call (``PreciseBNHook``).
        num_batches (int): At most this many batches (fewer if ``batches`` ends first).

    Returns:
        int: The batches this rank ran.
    """
    norms = [norm for norm in norms if norm.track_running_stats]
    if not norms:
        return 0
    device = norms[0].running_mean.device
    # per layer: values per channel, and the sums of the calls' means and variances, each
    # weighted by its values per channel (float64: 200 batches of a large model)
    counts = torch.zeros(len(norms), dtype=torch.float64, device=device)
    means = [torch.zeros(n.num_features, dtype=torch.float64, device=device) for n in norms]
    variances = [torch.zeros_like(m) for m in means]

    def accumulate(i: int):
        def hook(module, args):
            x = args[0]
            dims = [0, *range(2, x.dim())]  # all but the channels: (N,), (N, L), (N, H, W)
            var, mean = torch.var_mean(x.float(), dim=dims, unbiased=True)
            n = x.numel() // x.shape[1]
            counts[i] += n
            means[i] += n * mean.to(device, torch.float64)
            variances[i] += n * var.to(device, torch.float64)
        return hook

    for norm in norms:
        norm.reset_running_stats()
    handles = [norm.register_forward_pre_hook(accumulate(i)) for i, norm in enumerate(norms)]
    try:
        ran = 0
        for batch in islice(batches, num_batches):
            forward(batch)
            ran += 1
    finally:
        for handle in handles:
            handle.remove()
    # [C] The estimator stays detectron2's PreciseBN: the average of the batches' means and
    # unbiased variances (torch's cumulative average, momentum=None, which both callers used
    # before), so one process gives what it gave: the fine-tuning recipe and the evaluation page's
    # kNN numbers hold. It leaves out the spread of the batch means, whose variance is small
    # next to the within-batch variance of batches of many images.
    # Ranks are combined by summing these count-weighted sums and counts, not by averaging
    # each rank's finished statistics (what the kNN path did; PreciseBNHook kept each rank's
    # own): a rank with fewer inputs (a shorter shard, a short last batch) weighs what its
    # inputs weigh, and every rank ends with exactly what one process computes over all the
    # ranks' batches. One all-reduce carries every layer.
    if get_world_size() > 1:
        flat = torch.cat([counts, *means, *variances])
        all_reduce(flat, op='sum')
        counts, *rest = flat.split([len(norms)] + [n.num_features for n in norms] * 2)
        means, variances = rest[:len(norms)], rest[len(norms):]
    for norm, n, mean, var in zip(norms, counts.tolist(), means, variances):
        if n > 0:
            norm.running_mean.copy_(mean / n)
            norm.running_var.copy_(var / n)
    return ran
