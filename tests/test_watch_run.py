# Copyright (c) detco_mm contributors. All rights reserved.
"""Watching a run: the short console line, TensorBoard files, plot_curves.py, browse_views.py."""
import glob
import json
import math
import os.path as osp
import re

import matplotlib.image
import numpy as np
import pytest
from mmengine.config import Config

from conftest import TINY_CONFIG, TINY_MMPRETRAIN, needs_mmpretrain, run_tool, tool
from detco_mm.visualization import VIEW_NAMES, build_view_sampler, load_curves, make_views

TERMS = [f'{kind}_{c}_{s}' for kind in ('loss', 'nce') for c in ('g2g', 'l2l', 'l2g')
         for s in ('res2', 'res3', 'res4', 'res5')]


def load_tool(name: str):
    return tool(f'analysis/{name}.py')


def train_lines(work_dir):
    with open(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0]) as f:
        return [line for line in map(json.loads, f) if 'iter' in line]


def test_console_line_is_short_and_scalars_keep_every_term(tiny_pretrain_dir, tiny_cfg):
    weights = tiny_cfg.model.head.loss_weights
    log = open(glob.glob(osp.join(tiny_pretrain_dir, '*', '*.log'))[0]).read()
    lines = [line for line in log.splitlines() if 'Epoch(train)' in line]
    assert lines
    for line in lines:
        assert not re.search(r'\b(loss|nce)_(g2g|l2l|l2g)_res\d', line), line
        for item in ('lr:', 'loss:', 'g2g:', 'l2l:', 'l2g:', 'img/s:'):
            assert item in line, line
        assert len(line) < 300, line
    for scalars in train_lines(tiny_pretrain_dir):
        assert set(TERMS) <= set(scalars)
        sums = [scalars[f'contrast/{c}'] for c in ('g2g', 'l2l', 'l2g')]
        assert sum(sums) == pytest.approx(scalars['loss'], rel=1e-5)
        assert sum(scalars[f'stage/res{i}'] for i in range(2, 6)) == pytest.approx(
            scalars['loss'], rel=1e-5)
        assert scalars['img_per_s'] == pytest.approx(4 / scalars['time'])  # batch 4, 1 process
        # weighted and unweighted terms are averaged over the same window
        for stage, weight in zip(('res2', 'res3', 'res4', 'res5'), weights):
            assert scalars[f'loss_l2g_{stage}'] == pytest.approx(
                weight * scalars[f'nce_l2g_{stage}'], rel=1e-5)


def test_tensorboard_events_hold_the_terms(tiny_pretrain_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = glob.glob(osp.join(tiny_pretrain_dir, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'loss', 'contrast/g2g', 'img_per_s', *TERMS} <= tags
    losses = [e.value for e in acc.Scalars('loss')]
    assert losses == pytest.approx([s['loss'] for s in train_lines(tiny_pretrain_dir)])


def test_plot_curves_on_a_real_run(tiny_pretrain_dir, tmp_path, capsys):
    code, out, err = run_tool('analysis/plot_curves.py', tiny_pretrain_dir, '--out', tmp_path,
                              capsys=capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['loss.png', 'terms.png']
    for png in tmp_path.iterdir():
        assert matplotlib.image.imread(png).shape[0] > 100
    assert str(tmp_path / 'loss.png') in out


def test_chance_level_from_the_run_config(tiny_pretrain_dir):
    per_term, total = load_tool('plot_curves').chance_levels(str(tiny_pretrain_dir))
    head = Config.fromfile(TINY_CONFIG).model.head
    assert per_term == pytest.approx(math.log(head.queue_len + 1))
    assert total == pytest.approx(per_term * sum(head.loss_weights) * len(head.contrasts))


def write_scalars(work_dir, run: str, lines) -> None:
    path = work_dir / run / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(line) + '\n' for line in lines))


def test_curves_join_resumed_runs_and_place_epoch_metrics(tmp_path, capsys):
    def train(i, epoch, loss):
        terms = {f'{kind}_{c}_res{s}': loss / 4 for kind in ('loss', 'nce')
                 for c in ('g2g', 'l2g') for s in (4, 5)}
        return dict(loss=loss, lr=0.1, time=1.0, epoch=epoch, iter=i, step=i, **terms)

    # the first run crashed in epoch 2 after iteration 3; the resumed run redoes 3 and 4
    write_scalars(tmp_path, '20260101_000000', [
        train(1, 1, 9.), train(2, 1, 8.), dict(time=5.0, step=1, **{'knn/res5_top1': 20.}),
        train(3, 2, 7.)])
    write_scalars(tmp_path, '20260101_010000', [
        train(3, 2, 6.), train(4, 2, 5.), dict(time=5.0, step=2, **{'knn/res5_top1': 30.})])
    curves = load_curves(str(tmp_path))
    assert curves['loss'][0].tolist() == [1, 2, 3, 4]
    assert curves['loss'][1].tolist() == [9., 8., 6., 5.]
    assert curves['knn/res5_top1'][0].tolist() == [2, 4]  # last iteration of epochs 1 and 2
    assert curves['time'][1].tolist() == [1.0] * 4  # the evaluation's own time is not mixed in
    assert curves['contrast/g2g'][1] == pytest.approx(curves['loss'][1] / 2)
    assert curves['stage/res5'][1] == pytest.approx(curves['loss'][1] / 2)

    code, _, err = run_tool('analysis/plot_curves.py', tmp_path, capsys=capsys)
    assert code == 0, err  # no saved config: no chance line
    assert sorted(p.name for p in (tmp_path / 'curves').iterdir()) == [
        'knn.png', 'loss.png', 'terms.png']


def test_plot_curves_refuses_a_folder_without_scalars(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        run_tool('analysis/plot_curves.py', tmp_path, capsys=capsys)


def test_local_views_are_the_outlined_patches_of_the_crop(tiny_cfg, synthetic_root):
    tiny_cfg.train_dataloader.dataset.data_root = synthetic_root
    dataset, pipelines = build_view_sampler(tiny_cfg.train_dataloader.dataset)
    views = make_views(dataset[0], pipelines)
    assert [v['name'] for v in views] == [VIEW_NAMES[i] for i in range(4)]
    assert [v['img'].shape for v in views[:2]] == [(64, 64, 3)] * 2
    for view in views[2:]:  # tiny config: crop 96 px = 3 cells of 32 px, patches of 24 px
        assert view['crop'].shape == (96, 96, 3) and view['img'].shape == (72, 72, 3)
        assert sorted(view['perm']) == list(range(9))
        for slot, cell in enumerate(view['perm']):
            x1, y1, x2, y2 = view['boxes'][cell].astype(int)
            r, c = divmod(slot, 3)
            np.testing.assert_array_equal(view['img'][24 * r:24 * (r + 1), 24 * c:24 * (c + 1)],
                                          view['crop'][y1:y2, x1:x2])


@pytest.mark.parametrize('config', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup',
                                                                       'mmpretrain'])
def test_browse_views_writes_one_png_per_image(config, synthetic_root, tmp_path, capsys):
    """A config of either face (issue 20: mmpretrain's failed with a KeyError)."""
    if config == TINY_MMPRETRAIN:
        needs_mmpretrain()
    code, _, err = run_tool('analysis/browse_views.py', config, '--data-root',
                            synthetic_root, '--num', 2, '--out', tmp_path, capsys=capsys)
    assert code == 0, err
    pngs = sorted(p.name for p in tmp_path.iterdir())
    assert pngs == ['views_000.png', 'views_001.png']
    assert matplotlib.image.imread(tmp_path / pngs[0]).shape[1] > 600  # 6 panels side by side

