# Copyright (c) detco_mm contributors. All rights reserved.
"""Multi-queue InfoNCE of DetCo (paper eq. 1-5)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather

from ...contracts import CONTRASTS, DEFAULT_CONTRASTS, STAGE_LOSS_WEIGHTS, STAGES
from ..utils.checks import check_loss_weights, check_number, check_width


def positive_logits(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Similarity of each query with its own key.

    Args:
        q (Tensor): L2-normalised queries, (N, D).
        k (Tensor): L2-normalised keys, (N, D).

    Returns:
        Tensor: (N, 1).
    """
    return torch.einsum('nc,nc->n', q, k).unsqueeze(-1)


def negative_logits(q: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
    """Similarity of each query with every key in a queue.

    Args:
        q (Tensor): L2-normalised queries, (N, D).
        queue (Tensor): L2-normalised keys, (D, K).

    Returns:
        Tensor: (N, K).
    """
    return torch.einsum('nc,ck->nk', q, queue)


def stage_weights(weights: Sequence[float], normalize: bool) -> List[float]:
    """Per-stage loss weights w_i of eq. 1 (checked: numbers >= 0, not all 0); normalised to
    sum 1 ("Norm", Table 15)."""
    check_loss_weights(weights)
    weights = [float(w) for w in weights]
    if normalize:
        total = sum(weights)
        weights = [w / total for w in weights]
    return weights


class DetCoHeadMixin:
    """Hierarchical, cross global/local InfoNCE of DetCo; owns the queues.

    Shared by every toolbox: a backend face (``detco_mm/backends/``) combines it with
    mmengine's ``BaseModule`` and provides the two methods that differ between toolboxes:
    ``build_contrastive(loss, temperature)`` builds the toolbox's ``ContrastiveHead``
    (logits -> loss; the default loss is the face's) and ``infonce(l_pos, l_neg)`` calls it.

    For every stage i (res2..res5) and every enabled contrast c, the loss term is
    ``w_i * InfoNCE(q_c, k_c, queue_c[i])`` (eq. 1), where the queue is the one of the key's
    view (global queue for g2g and l2g, local queue for l2l). The twelve default terms are
    returned as ``loss_{c}_{stage}``; mmengine sums every key containing "loss", which is
    eq. 1. Unweighted values are returned as ``nce_{c}_{stage}`` for logging only.

    Buffers: ``queue_g`` and ``queue_l`` of shape (Q, D, K) with pointers ``queue_g_ptr``
    and ``queue_l_ptr`` of shape (Q,), Q = number of stages, or 1 when ``share_queue``.

    Args:
        stages (Sequence[str]): Stage names, in backbone output order.
            Defaults to ('res2', 'res3', 'res4', 'res5').
        loss_weights (Sequence[float]): w_i, one per stage. Defaults to
            (0.1, 0.4, 0.7, 1.0) [P 6.5, Table 15(e)], not normalised.
        normalize_weights (bool): Divide the weights by their sum ("Norm" in Table 15).
            Defaults to False.
        contrasts (Sequence[str]): Enabled contrasts, a subset of 'g2g', 'l2l', 'l2g',
            'g2l'. Defaults to ('g2g', 'l2l', 'l2g') [P eq. 1].
        share_queue (bool): One queue (per view) shared by all stages, every stage's keys
            enqueued into it [P Table 16, "share queue"]. Defaults to False: one queue per
            stage [P 3.2.1, 6.5].
        queue_len (int): K, keys per queue. Defaults to 65536 [M].
        feat_dim (int): D, embedding size. Defaults to 128 [P 6.5].
        temperature (float): tau. Defaults to 0.2 [M].
        loss (dict, optional): Loss on the (N, 1 + K) logits, built by the toolbox's
            ``ContrastiveHead``. Defaults to the face's cross-entropy.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 stages: Sequence[str] = STAGES,
                 loss_weights: Sequence[float] = STAGE_LOSS_WEIGHTS,
                 normalize_weights: bool = False,
                 contrasts: Sequence[str] = DEFAULT_CONTRASTS,
                 share_queue: bool = False,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 temperature: float = 0.2,
                 loss: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.stages = tuple(stages)
        if len(self.stages) == 0 or len(set(self.stages)) != len(self.stages):
            raise ValueError(f'DetCoHead: model.head.stages={stages} must be non-empty and '
                             f'unique')
        if len(loss_weights) != len(self.stages):
            raise ValueError(
                f'DetCoHead: model.head.loss_weights={tuple(loss_weights)} has '
                f'{len(loss_weights)} values but model.head.stages={self.stages} has '
                f'{len(self.stages)}; give one weight per stage')
        unknown = [c for c in contrasts if c not in CONTRASTS]
        if unknown or len(contrasts) == 0 or len(set(contrasts)) != len(contrasts):
            raise ValueError(f'DetCoHead: model.head.contrasts={tuple(contrasts)} must be '
                             f'distinct names from {sorted(CONTRASTS)} (unknown: {unknown})')
        check_number('DetCoHead', 'model.head.temperature', temperature)
        if not temperature > 0:
            raise ValueError(f'DetCoHead: model.head.temperature={temperature} must be > 0 '
                             f'(logits are divided by it; <= 0 inverts or breaks the '
                             f'objective); the paper uses 0.2')
        check_number('DetCoHead', 'model.head.queue_len', queue_len, integer=True)
        if queue_len <= 0:
            raise ValueError(f'DetCoHead: queue_len must be positive, got {queue_len}')
        check_width('DetCoHead', 'model.head.feat_dim', feat_dim)
        self.loss_weights = stage_weights(loss_weights, normalize_weights)
        self.contrasts = tuple(contrasts)
        self.share_queue = share_queue
        self.queue_len = queue_len
        self.feat_dim = feat_dim
        # Reuse the toolbox's ContrastiveHead for logits -> loss: the same code path as its
        # MoCo makes the MoCo v2 reduction (Table 15(a)) exact.
        self.contrastive = self.build_contrastive(loss, temperature)

        num_queues = 1 if share_queue else len(self.stages)
        for view in self.key_views:
            queue = F.normalize(torch.randn(num_queues, feat_dim, queue_len), dim=1)
            self.register_buffer(f'queue_{view}', queue)
            self.register_buffer(f'queue_{view}_ptr', torch.zeros(num_queues, dtype=torch.long))

    @property
    def key_views(self) -> Tuple[str, ...]:
        """Views whose keys are enqueued ('g' and/or 'l'), in a fixed order."""
        return tuple(v for v in ('g', 'l') if any(CONTRASTS[c][1] == v for c in self.contrasts))

    @property
    def views(self) -> Tuple[str, ...]:
        """Views the enabled contrasts need as queries or keys."""
        used = {v for c in self.contrasts for v in CONTRASTS[c]}
        return tuple(v for v in ('g', 'l') if v in used)

    def queue(self, view: str, stage: int) -> torch.Tensor:
        """The (D, K) queue holding negatives for keys of ``view`` at stage index ``stage``."""
        return getattr(self, f'queue_{view}')[0 if self.share_queue else stage]

    def enqueue_size(self, global_batch: int) -> int:
        """Keys written into one queue per step."""
        return global_batch * (len(self.stages) if self.share_queue else 1)

    def check_batch_size(self, global_batch: int) -> None:
        """Fail early when the queue cannot hold a whole number of batches.

        Args:
            global_batch (int): Images per step summed over all processes.
        """
        size = self.enqueue_size(global_batch)
        if self.queue_len % size != 0:
            extra = (f' ({len(self.stages)} stages x {global_batch}, share_queue=True)'
                     if self.share_queue else '')
            raise ValueError(
                f'DetCoHead: queue_len={self.queue_len} must be divisible by the number of keys '
                f'enqueued per step, the global batch size {size}{extra} (batch per GPU x '
                f'number of GPUs). Change model.head.queue_len or the batch size, and keep '
                f'train_dataloader.drop_last=True.')

    def _normalised(self, queries: Dict[str, List[torch.Tensor]],
                    keys: Dict[str, List[torch.Tensor]]
                    ) -> Tuple[Dict[str, List[torch.Tensor]], Dict[str, List[torch.Tensor]]]:
        """Check one tensor per stage for every view the contrasts use; L2-normalise them."""
        for view in self.views:
            for name, feats in (('queries', queries), ('keys', keys)):
                if len(feats.get(view, ())) != len(self.stages):
                    raise ValueError(
                        f'DetCoHead: {name}["{view}"] must hold one tensor per stage '
                        f'{self.stages}, got {len(feats.get(view, ()))}')
        q = {v: [F.normalize(x, dim=1) for x in queries[v]] for v in self.views}
        k = {v: [F.normalize(x, dim=1) for x in keys[v]] for v in self.views}
        return q, k

    def _logits(self, q: Dict[str, List[torch.Tensor]], k: Dict[str, List[torch.Tensor]],
                stage: int, contrast: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """Positive (N, 1) and negative (N, K) similarities of normalised ``q`` and ``k`` for
        one contrast at stage index ``stage``, against the queue of the key's view."""
        q_view, k_view = CONTRASTS[contrast]
        query = q[q_view][stage]
        return (positive_logits(query, k[k_view][stage]),
                negative_logits(query, self.queue(k_view, stage).clone().detach()))

    def similarities(self, queries: Dict[str, List[torch.Tensor]],
                     keys: Dict[str, List[torch.Tensor]]
                     ) -> Dict[Tuple[str, str], Tuple[torch.Tensor, torch.Tensor]]:
        """Cosine similarities behind every loss term of eq. 1, the queues left as they are.

        Args:
            queries (dict[str, list[Tensor]]): View ('g', 'l') -> one (N, D) tensor per stage,
                not necessarily normalised.
            keys (dict[str, list[Tensor]]): The same for the momentum encoder's keys.

        Returns:
            dict[tuple[str, str], tuple[Tensor, Tensor]]: (stage, contrast) -> positive
            (N, 1) and negative (N, K) similarities, the latter against the queue of the
            key's view and stage (before the temperature).
        """
        q, k = self._normalised(queries, keys)
        return {(stage, contrast): self._logits(q, k, i, contrast)
                for i, stage in enumerate(self.stages) for contrast in self.contrasts}

    def forward(self, queries: Dict[str, List[torch.Tensor]],
                keys: Dict[str, List[torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """Loss terms of eq. 1, then enqueue the keys.

        Args:
            queries (dict[str, list[Tensor]]): View ('g', 'l') -> one (N, D) tensor per stage,
                not necessarily normalised.
            keys (dict[str, list[Tensor]]): The same for the momentum encoder's keys.

        Returns:
            dict[str, Tensor]: ``loss_{c}_{stage}`` (weighted) and ``nce_{c}_{stage}``.
        """
        q, k = self._normalised(queries, keys)
        losses = dict()
        for i, (stage, weight) in enumerate(zip(self.stages, self.loss_weights)):
            for contrast in self.contrasts:
                nce = self.infonce(*self._logits(q, k, i, contrast))
                losses[f'loss_{contrast}_{stage}'] = weight * nce
                losses[f'nce_{contrast}_{stage}'] = nce.detach()

        self._dequeue_and_enqueue(k)
        return losses

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys: Dict[str, List[torch.Tensor]]) -> None:
        """Write this step's normalised keys of every key view and stage (gathered over ranks)
        into the queues, after the step's one queue/batch check."""
        gathered = {view: [torch.cat(all_gather(x.detach())) for x in keys[view]]  # S x (N_all, D)
                    for view in self.key_views}
        if gathered:  # N_all, the true global batch, is the same for every view
            self.check_batch_size(next(iter(gathered.values()))[0].shape[0])
        for view, view_keys in gathered.items():
            self._enqueue(view, view_keys)

    def _enqueue(self, view: str, keys: List[torch.Tensor]) -> None:
        """Write one key view's gathered keys of every stage into its queues."""
        if self.share_queue:
            keys = [torch.cat(keys, dim=0)]  # 1 x (S * N_all, D), stage order res2..res5
        queues = getattr(self, f'queue_{view}')
        ptrs = getattr(self, f'queue_{view}_ptr')
        for j, x in enumerate(keys):
            ptr = int(ptrs[j])
            queues[j, :, ptr:ptr + x.shape[0]] = x.t().to(queues.dtype)
            ptrs[j] = (ptr + x.shape[0]) % self.queue_len
