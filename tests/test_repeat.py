# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/benchmarks/repeat.py: N seeded fine-tuning trials, each semi-supervised trial on its
own split draw, and the mean ± std of their final metrics."""
import json
import os.path as osp
import shutil
import statistics
import sys

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool, tool

repeat = tool('benchmarks/repeat.py')
final_metrics, markdown_row = repeat.final_metrics, repeat.markdown_row
semi_split, summarize = repeat.semi_split, repeat.summarize

DEMO_DET_CONFIG = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_r18_fpn_tiny_synthetic.py')


# The transfer demo's config (Mask R-CNN R18-FPN, few proposals) on the synthetic set, its
# "full" training set for a 50 % split at TRAIN_ROOT, PreciseBN over 1 batch.
REPEAT_CONFIG = '''
_base_ = {base!r}
data_root = {data_root!r}
train_dataloader = dict(dataset=dict(
    data_root={train_root!r}, ann_file='semi_anns/instances_train.1@50.json',
    data_prefix=dict(img=data_root)))
val_dataloader = dict(dataset=dict(data_root=data_root,
                                   ann_file='annotations/instances_train.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_train.json')
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='mmselfsup.PretrainedCheckHook'),
    dict(type='mmselfsup.WeightsOnlyCheckpointHook'),
    dict(type='mmselfsup.PreciseBNHook', num_iter=1)
]
'''


@pytest.mark.e2e
@pytest.mark.slow(80)
def test_repeat_two_seeded_trials_on_their_own_splits(tmp_path, synthetic_root, tiny_backbone,
                                                      capsys):
    # the synthetic COCO annotations as the "full" training set of a 50 % split config
    coco_root = tmp_path / 'coco'
    (coco_root / 'annotations').mkdir(parents=True)
    shutil.copy(osp.join(synthetic_root, 'annotations', 'instances_train.json'),
                coco_root / 'annotations')
    config = tmp_path / 'mask-rcnn_r18_fpn_tiny.py'
    config.write_text(REPEAT_CONFIG.format(base=DEMO_DET_CONFIG, data_root=synthetic_root,
                                           train_root=f'{coco_root}/'))
    work_dir, out = tmp_path / 'repeat', tmp_path / 'table.md'
    # each trial is a `mim train mmdet` process; 1 iteration and 2 validation images each
    code, stdout, err = run_tool(
        'benchmarks/repeat.py', config, '--pretrain', tiny_backbone, '--trials', '2',
        '--work-dir', work_dir, '--out', out, '--metrics', 'coco/bbox_mAP', 'coco/segm_mAP',
        '--cfg-options', 'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
        'val_dataloader.dataset.indices=2', capsys=capsys)
    assert code == 0, err

    drawn = []
    for seed in (1, 2):
        split = json.loads((coco_root / 'semi_anns' / f'instances_train.{seed}@50.json')
                           .read_text())
        drawn.append({img['id'] for img in split['images']})
        # the trial ran with its seed on its split (mmengine dumps the merged config)
        cfg = Config.fromfile(str(work_dir / f'seed_{seed}' / osp.basename(config)))
        assert cfg.randomness.seed == seed
        assert cfg.train_dataloader.dataset.ann_file == (
            f'semi_anns/instances_train.{seed}@50.json')
    assert len(drawn[0]) == len(drawn[1]) == 4 and drawn[0] != drawn[1]

    # the row is the mean and sample std, in percent, of the last evaluation of each trial
    trials = []
    for seed in (1, 2):
        scalars = next((work_dir / f'seed_{seed}').glob('*/vis_data/scalars.json'))
        evaluations = [json.loads(line) for line in open(scalars) if 'coco/bbox_mAP' in line]
        trials.append(evaluations[-1])
    header, rule, row = out.read_text().splitlines()
    assert header == '| config | trials | coco/bbox_mAP | coco/segm_mAP |'
    cells = [cell.strip() for cell in row.strip('|').split('|')]
    assert cells[:2] == ['mask-rcnn_r18_fpn_tiny', '2']
    for cell, key in zip(cells[2:], ('coco/bbox_mAP', 'coco/segm_mAP')):
        values = [100 * t[key] for t in trials]
        assert cell == f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'
    assert row in stdout


def test_summary_of_trials(tmp_path):
    # three VOC trials as MoCo reports them: AP 57.0 +/- 0.2
    trials = [{'pascal_voc/mAP': v, 'pascal_voc/AP50': 0.8} for v in (0.568, 0.570, 0.572)]
    summary = summarize(trials)
    assert list(summary) == ['pascal_voc/mAP', 'pascal_voc/AP50']
    assert summary['pascal_voc/mAP'] == pytest.approx((0.570, 0.002))
    assert markdown_row('voc', 3, summary) == '| voc | 3 | 57.00 ± 0.20 | 80.00 ± 0.00 |'
    with pytest.raises(KeyError, match='coco/bbox_mAP'):
        summarize(trials, ['coco/bbox_mAP'])

    # the metrics of the last evaluation of the latest run in a work dir
    for run, maps in (('20260101_000000', (0.1, 0.2)), ('20260102_000000', (0.3, 0.4))):
        (tmp_path / run / 'vis_data').mkdir(parents=True)
        lines = [dict(loss=1.0, lr=0.02, step=1), {'coco/bbox_mAP': maps[0], 'step': 2},
                 dict(loss=0.5, lr=0.02, step=3), {'coco/bbox_mAP': maps[1], 'step': 4}]
        (tmp_path / run / 'vis_data' / 'scalars.json').write_text(
            '\n'.join(json.dumps(line) for line in lines))
    assert final_metrics(str(tmp_path)) == {'coco/bbox_mAP': 0.4}


def test_semi_split_names_the_draw_of_a_seed():
    assert semi_split('semi_anns/instances_train2017.1@10.json', 3) == (
        'semi_anns/instances_train2017.3@10.json', 'instances_train2017', '10')
    assert semi_split('semi_anns/instances_train2017.1@0.5.json', 2)[0] == (
        'semi_anns/instances_train2017.2@0.5.json')
    assert semi_split('annotations/instances_train2017.json', 3) is None


def test_trial_command_is_mim_train_or_the_toolbox_script_without_mim(monkeypatch):
    import mmdet
    cmd = repeat.train_command('det.py', 'work', 3, ['a=1'], gpus=2)
    assert osp.basename(cmd[0]) == 'mim' and cmd[1:] == [
        'train', 'mmdet', 'det.py', '--work-dir', 'work', '--launcher', 'pytorch', '--gpus', '2',
        '--cfg-options', 'randomness.seed=3', 'a=1']
    monkeypatch.setattr(shutil, 'which', lambda *args, **kwargs: None)
    # what mim runs for one process: the toolbox's own train.py
    assert repeat.train_command('det.py', 'work', 3) == [
        sys.executable, osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py'),
        'det.py', '--work-dir', 'work', '--cfg-options', 'randomness.seed=3']
    with pytest.raises(SystemExit, match='mim not found: `mim train mmdet ... --gpus`'):
        repeat.train_command('det.py', 'work', 3, gpus=2)
