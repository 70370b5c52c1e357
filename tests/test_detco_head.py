# Copyright (c) detco_mm contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmselfsup.registry import MODELS

STAGES = ('res2', 'res3', 'res4', 'res5')
WEIGHTS = (0.1, 0.4, 0.7, 1.0)


def build_head(**kwargs):
    cfg = dict(type='DetCoHead', queue_len=8, feat_dim=4, temperature=0.2)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def infonce(q, k_pos, negatives, tau=0.2):
    """Eq. 2/4/5 written out per sample: -log(e^{q.k+/t} / (e^{q.k+/t} + sum_j e^{q.k_j/t}))."""
    total = 0.
    for n in range(q.shape[0]):
        qn = q[n] / q[n].norm()
        kp = k_pos[n] / k_pos[n].norm()
        pos = math.exp(float(qn @ kp) / tau)
        neg = sum(math.exp(float(qn @ negatives[:, j]) / tau)
                  for j in range(negatives.shape[1]))
        total += -math.log(pos / (pos + neg))
    return total / q.shape[0]


def fixed_features(n=2, dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {v: [torch.randn(n, dim, generator=g) for _ in STAGES] for v in ('g', 'l')}


def test_twelve_terms_match_handwritten_infonce():
    head = build_head()
    queues = {v: getattr(head, f'queue_{v}').clone() for v in ('g', 'l')}
    queries, keys = fixed_features(seed=0), fixed_features(seed=1)
    losses = head(queries, keys)

    names = sorted(k for k in losses if k.startswith('loss'))
    assert names == sorted(f'loss_{c}_{s}' for c in ('g2g', 'l2l', 'l2g') for s in STAGES)
    pairs = {'g2g': ('g', 'g'), 'l2l': ('l', 'l'), 'l2g': ('l', 'g')}
    for i, stage in enumerate(STAGES):
        for contrast, (qv, kv) in pairs.items():
            expected = infonce(queries[qv][i], keys[kv][i], queues[kv][i])
            assert losses[f'nce_{contrast}_{stage}'].item() == pytest.approx(expected, rel=1e-5)
            assert losses[f'loss_{contrast}_{stage}'].item() == pytest.approx(
                WEIGHTS[i] * expected, rel=1e-5)


def test_keys_enqueued_in_their_queue_with_wraparound():
    head = build_head(queue_len=6)
    before = {v: getattr(head, f'queue_{v}').clone() for v in ('g', 'l')}
    steps = [(fixed_features(n=2, seed=10 + s), fixed_features(n=2, seed=20 + s))
             for s in range(4)]
    for queries, keys in steps:
        head(queries, keys)
    # 4 steps x 2 keys into queues of 6: slots [0:2] hold step 3, [2:4] step 1, [4:6] step 2.
    for v in ('g', 'l'):
        queue = getattr(head, f'queue_{v}')
        assert getattr(head, f'queue_{v}_ptr').tolist() == [2, 2, 2, 2]
        for i in range(len(STAGES)):
            for step, cols in ((3, slice(0, 2)), (1, slice(2, 4)), (2, slice(4, 6))):
                expected = F.normalize(steps[step][1][v][i], dim=1).t()
                torch.testing.assert_close(queue[i][:, cols], expected)
            assert not torch.allclose(queue[i], before[v][i])


def test_first_step_writes_only_at_pointer():
    head = build_head(queue_len=8)
    before = head.queue_g.clone()
    keys = fixed_features(n=2, seed=3)
    head(fixed_features(n=2, seed=4), keys)
    for i in range(len(STAGES)):
        torch.testing.assert_close(head.queue_g[i][:, :2], F.normalize(keys['g'][i], dim=1).t())
        torch.testing.assert_close(head.queue_g[i][:, 2:], before[i][:, 2:])
        torch.testing.assert_close(head.queue_l[i][:, :2], F.normalize(keys['l'][i], dim=1).t())


def test_shared_queue_takes_every_stage():
    head = build_head(share_queue=True, queue_len=16)
    assert head.queue_g.shape == (1, 4, 16) and head.queue_l.shape == (1, 4, 16)
    queue_before = head.queue_g[0].clone()
    queries, keys = fixed_features(n=2, seed=5), fixed_features(n=2, seed=6)
    losses = head(queries, keys)
    # every stage contrasts against the one shared queue
    for i, stage in enumerate(STAGES):
        expected = infonce(queries['g'][i], keys['g'][i], queue_before)
        assert losses[f'nce_g2g_{stage}'].item() == pytest.approx(expected, rel=1e-5)
    # keys of res2..res5 are written one after the other
    assert head.queue_g_ptr.tolist() == [8]
    for i in range(len(STAGES)):
        torch.testing.assert_close(head.queue_g[0][:, 2 * i:2 * i + 2],
                                   F.normalize(keys['g'][i], dim=1).t())


def test_weights_normalised_and_g2l_and_subsets():
    head = build_head(normalize_weights=True, contrasts=['g2g', 'g2l'])
    assert head.loss_weights == pytest.approx([w / 2.2 for w in WEIGHTS])
    losses = head(fixed_features(seed=7), fixed_features(seed=8))
    assert {k for k in losses if k.startswith('loss')} == {
        f'loss_{c}_{s}' for c in ('g2g', 'g2l') for s in STAGES}

    head = build_head(stages=['res5'], loss_weights=[1.], contrasts=['g2g'])
    assert not hasattr(head, 'queue_l') and head.queue_g.shape == (1, 4, 8)


@pytest.mark.parametrize('kwargs, words', [
    (dict(loss_weights=[0.1, 0.4, 0.7]), ['loss_weights', '3', 'stages']),
    (dict(contrasts=['g2g', 'g2x']), ['contrasts', 'g2x']),
    (dict(contrasts=[]), ['contrasts']),
    (dict(stages=['res2', 'res2'], loss_weights=[1, 1]), ['stages']),
    (dict(queue_len=0), ['queue_len']),
    (dict(loss_weights=[0., 0., 0., 0.], normalize_weights=True), ['loss_weights', 'all 0']),
])
def test_bad_config_fails_at_build_naming_the_key(kwargs, words):
    with pytest.raises(ValueError) as err:
        build_head(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_batch_not_dividing_queue_is_rejected_with_both_numbers():
    head = build_head(queue_len=10)
    with pytest.raises(ValueError, match=r'queue_len=10 .* global batch size 4'):
        head.check_batch_size(4)
    head = build_head(queue_len=16, share_queue=True)
    head.check_batch_size(4)  # 4 stages x 4 keys = 16 per step
    with pytest.raises(ValueError, match='share_queue'):
        head.check_batch_size(3)


def test_missing_view_is_rejected():
    head = build_head()
    queries = fixed_features()
    del queries['l']
    with pytest.raises(ValueError, match=r'queries\["l"\]'):
        head(queries, fixed_features())
