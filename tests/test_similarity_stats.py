# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/analysis/similarity_stats.py: the maths on known tensors, and the script end to end."""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from mmselfsup.registry import MODELS

from conftest import TINY_CONFIG, run_tool, tool
from detco_mm.backends.mmselfsup import DetCoHead
from detco_mm.evaluation import similarity_moments, summarize

SCRIPT = 'analysis/similarity_stats.py'
similarity_stats = tool(SCRIPT)

STAGES = ('res2', 'res3', 'res4', 'res5')
CONTRASTS = ('g2g', 'l2l', 'l2g')
STATS = ('pos_mean', 'pos_std', 'neg_mean', 'neg_std', 'margin_mean')


def head_stats(q, k, queue):
    """Statistics of one g2g term through the head's own similarities, as the tool gets them."""
    head = DetCoHead(stages=('res5',), loss_weights=(1.,), contrasts=('g2g',),
                     queue_len=queue.shape[1], feat_dim=queue.shape[0])
    head.queue_g.copy_(queue[None])
    (l_pos, l_neg), = head.similarities({'g': [q]}, {'g': [k]}).values()
    return summarize(similarity_moments(l_pos, l_neg)), (l_pos, l_neg)


def test_identical_query_and_key_give_positive_one():
    q = torch.randn(5, 16)
    queue = F.normalize(torch.randn(16, 32), dim=0)
    stats, _ = head_stats(q, 3 * q, queue)  # keys need no normalising
    assert stats['pos_mean'] == pytest.approx(1.0, abs=1e-6)
    assert stats['pos_std'] == pytest.approx(0.0, abs=1e-3)


def test_known_queue_gives_known_negatives_margin_and_histogram():
    e = torch.eye(3)
    q = torch.stack([e[0], 2 * e[0]])  # both queries point along e0
    k = e[[1, 0]]  # positives: 0 and 1
    queue = torch.stack([e[0], -e[0], e[1], e[2]], dim=1)  # (D, K): negatives 1, -1, 0, 0
    stats, (l_pos, l_neg) = head_stats(q, k, queue)
    assert stats['pos_mean'] == pytest.approx(0.5)
    assert stats['pos_std'] == pytest.approx(0.5)
    assert stats['neg_mean'] == pytest.approx(0.0)
    assert stats['neg_std'] == pytest.approx(math.sqrt(0.5))
    assert stats['margin_mean'] == pytest.approx(((0 - 1) + (1 - 1)) / 2)
    hist = similarity_moments(l_pos, l_neg, bins=4)['neg_hist']  # bins of width 0.5 on [-1, 1]
    assert hist.tolist() == [2, 0, 4, 2]  # -1 twice; 0 four times (bin [0, 0.5)); 1 twice


def test_moments_add_up_over_batches():
    q, k = torch.randn(8, 16), torch.randn(8, 16)
    queue = F.normalize(torch.randn(16, 64), dim=0)
    _, (l_pos, l_neg) = head_stats(q, k, queue)
    halves = [similarity_moments(l_pos[s], l_neg[s]) for s in (slice(0, 3), slice(3, 8))]
    total = {key: halves[0][key] + halves[1][key] for key in halves[0]}
    assert summarize(total) == pytest.approx(head_stats(q, k, queue)[0], abs=1e-6)
    torch.testing.assert_close(total['neg_hist'], similarity_moments(l_pos, l_neg)['neg_hist'])


def test_script_reports_every_stage_and_contrast(tiny_cfg, synthetic_root, tmp_path, capsys):
    checkpoint = tmp_path / 'detco.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': MODELS.build(tiny_cfg.model).state_dict()},
               checkpoint)
    other = tmp_path / 'other.pth'  # a second checkpoint, side by side
    torch.save({'meta': {'epoch': 2}, 'state_dict': MODELS.build(tiny_cfg.model).state_dict()},
               other)
    out, png = tmp_path / 'out' / 'stats.json', tmp_path / 'out' / 'fig9.png'
    code, stdout, err = run_tool(SCRIPT, TINY_CONFIG, checkpoint, '--data-root', synthetic_root,
                                 '--num-batches', 2, '--batch-size', 3, '--out', out,
                                 '--compare', other, '--plot', png, capsys=capsys)
    assert code == 0, err[-3000:]
    result = json.loads(out.read_text())
    assert result['num_samples'] == 6
    assert list(result['stats']) == list(STAGES)
    for stage in STAGES:
        assert list(result['stats'][stage]) == list(CONTRASTS)
        for contrast in CONTRASTS:
            values = result['stats'][stage][contrast]
            assert sorted(values) == sorted(STATS)
            assert all(math.isfinite(v) for v in values.values()), (stage, contrast, values)
            assert -1 <= values['pos_mean'] <= 1 and -1 <= values['neg_mean'] <= 1
        assert set(result['g2g_vs_l2g'][stage]) == {'dP', 'dN'}
    assert 'res5   l2g' in stdout and 'dP' in stdout
    # histograms count every positive (6 queries) and negative (6 x queue length) pair
    hist = result['histograms']['res3']['l2g']
    assert sum(hist['pos']) == 6 and sum(hist['neg']) == 6 * tiny_cfg.model.head.queue_len
    assert result['compare']['checkpoint'] == str(other)
    assert result['compare']['stats'] != result['stats']  # other weights, other numbers
    assert png.stat().st_size > 0


def test_non_detco_checkpoint_gives_one_error_line(tmp_path, synthetic_root, capsys):
    checkpoint = tmp_path / 'moco.pth'
    torch.save({'meta': {}, 'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, checkpoint)
    code, _, err = run_tool(SCRIPT, TINY_CONFIG, checkpoint, '--data-root', synthetic_root,
                            capsys=capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if 'error:' in line]
    assert errors == [f'similarity_stats.py: error: {checkpoint}: not a DetCo checkpoint, no '
                      f'neck.global_mlps.* keys of DetCoNeck (its modules: backbone)']


def test_missing_checkpoint_and_empty_data_root_fail_clearly(tiny_cfg, tmp_path, synthetic_root,
                                                              capsys):
    missing = tmp_path / 'missing.pth'
    with pytest.raises(SystemExit):
        similarity_stats.main([TINY_CONFIG, str(missing), '--data-root', synthetic_root])
    assert f'{missing}: no such file' in capsys.readouterr().err

    checkpoint = tmp_path / 'detco.pth'
    torch.save({'state_dict': MODELS.build(tiny_cfg.model).state_dict()}, checkpoint)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit):
        similarity_stats.main([TINY_CONFIG, str(checkpoint), '--data-root',
                               str(tmp_path / 'empty')])
    assert f'{tmp_path / "empty"}: no images for CheckedImageList' in capsys.readouterr().err
