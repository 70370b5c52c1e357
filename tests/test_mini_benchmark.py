# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/benchmarks/mini_benchmark.py: the tiny size end to end, the tables and the schedule."""
import argparse
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
from types import SimpleNamespace

import pytest
from mmengine.config import Config

from conftest import ROOT, needs_mmpretrain, run_tool, tool, warnings_logged

mini_benchmark = tool('benchmarks/mini_benchmark.py')
STAGES = ('res2', 'res3', 'res4', 'res5')
SMALL_DETCO = osp.join(ROOT, 'configs', 'detco', 'small', 'detco_resnet18_1xb32-coslr-10e_small.py')


def run_result(retrieval, n=700):
    return dict(readouts=dict(retrieval={s: retrieval + i for i, s in enumerate(STAGES)},
                              n=dict(retrieval=n), chance=dict(retrieval=100. / n)))


def test_table_gives_mean_std_and_paired_t_intervals_over_seeds():
    detco = {'0': 10., '1': 14., '2': 15.}
    random = {'0': 3., '1': 5., '2': 4.}
    results = {'detco': {s: run_result(v) for s, v in detco.items()},
               'random': {s: run_result(v) for s, v in random.items()}}
    table = mini_benchmark.table(results)
    row = next(line for line in table.splitlines() if line.startswith('| DetCo'))
    res2 = list(detco.values())
    assert f'| 3 | {statistics.mean(res2):.1f} ± {statistics.stdev(res2):.1f} |' in row
    assert '700 images, chance 0.14 %' in table
    diffs = [detco[s] - random[s] for s in detco]
    mean, std = statistics.mean(diffs), statistics.stdev(diffs)
    half = 4.303 * std / math.sqrt(3)  # t(0.975; 2)
    pair = next(line for line in table.splitlines() if line.startswith('| detco - random'))
    assert pair.split(' | ')[1] == f'{mean:+.1f} [{mean - half:+.1f}, {mean + half:+.1f}]'


def test_report_rereads_runs_that_other_processes_finish_later(tmp_path):
    for seed in (0, 1):
        (tmp_path / 'detco' / f'seed{seed}').mkdir(parents=True)
        mini_benchmark.save(str(tmp_path / 'detco' / f'seed{seed}' / 'result.json'),
                            run_result(1.))
    mini_benchmark.write_report(str(tmp_path))
    entry = dict(run_result(1.), det=dict(bbox_mAP=3., bbox_mAP_50=9.))
    mini_benchmark.save(str(tmp_path / 'detco' / 'seed0' / 'result.json'), entry)
    results = mini_benchmark.write_report(str(tmp_path))
    assert results['detco']['0']['det']['bbox_mAP'] == 3.
    assert json.loads((tmp_path / 'results.json').read_text())['detco']['0']['det'] == dict(
        bbox_mAP=3., bbox_mAP_50=9.)


def test_t_interval_by_hand():
    t_interval = tool('benchmarks/_bench.py').t_interval
    mean, low, high = t_interval([1., 2., 3.])
    # std 1, n 3, t(0.975; 2 degrees of freedom) = 4.303 (any t table)
    assert mean == 2. and high - mean == pytest.approx(4.303 / math.sqrt(3), abs=1e-3)
    assert low == pytest.approx(2 * mean - high)
    with pytest.raises(ValueError, match='at least 2'):
        t_interval([1.])


def test_pipeline_steps_are_found_by_type_wherever_they_are():
    cfg = Config.fromfile(SMALL_DETCO)
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline.insert(1, dict(type='mmselfsup.RandomGrayscale', prob=0.))  # MultiView is 3rd
    mini_benchmark.set_crops(cfg, 40)
    global_view, local_view = pipeline[2]['transforms']
    assert global_view[0]['size'] == 40 and local_view[0]['size'] == 60
    assert (local_view[-1]['cell_size'], local_view[-1]['patch_size']) == (20, 15)
    args = argparse.Namespace(probe_data='probe', probe_val_ann='meta/val.txt', probe_prefix='')
    retrieval = mini_benchmark.retrieval_dataset(args, cfg)
    assert retrieval['pipeline'][1]['transforms'] == [global_view]

    del pipeline[2]
    with pytest.raises(SystemExit, match=r'detco_resnet18_1xb32-coslr-10e_small\.py: train_'
                       r'dataloader\.dataset\.pipeline: no MultiView or MultiViewWithMeta step'):
        mini_benchmark.set_crops(cfg, 40)


def test_readouts_read_res2_to_res5_of_either_face():
    """The mmpretrain twin's backbone built by mmpretrain (out_indices from res2), not by
    mmselfsup (from the stem): the same four stages as the mmselfsup face's."""
    needs_mmpretrain()
    import torch
    shapes = {}
    for face in mini_benchmark.FACES:
        cfg = Config.fromfile(mini_benchmark.method_config(face, 'detco'))
        backbone, _ = mini_benchmark.query_backbone(cfg, None)
        with torch.no_grad():
            shapes[face] = [tuple(f.shape[1:]) for f in backbone(torch.zeros(1, 3, 32, 32))]
    # ResNet-18: res2..res5 at strides 4..32 with 64..512 channels
    assert shapes['mmpretrain'] == shapes['mmselfsup'] == [(64, 8, 8), (128, 4, 4), (256, 2, 2),
                                                          (512, 1, 1)]


def test_a_work_dir_keeps_its_face(tmp_path):
    (tmp_path / 'detco' / 'seed0').mkdir(parents=True)
    mini_benchmark.save(str(tmp_path / 'detco' / 'seed0' / 'result.json'),
                        dict(run_result(1.), face='mmselfsup'))
    args = argparse.Namespace(work_dir=str(tmp_path), face='mmpretrain')
    with pytest.raises(SystemExit, match='trained with --face mmselfsup, not --face '
                       'mmpretrain; give each face its own --work-dir'):
        mini_benchmark.run_one(args, mini_benchmark.SIZES['tiny'], 'detco', 0)


@pytest.mark.parametrize('size', ['small', 'medium', 'gpu'])
def test_sizes_keep_the_queue_under_half_an_epoch_of_the_1000_image_pool(size):
    from mmselfsup.registry import HOOKS
    setting = mini_benchmark.SIZES[size]
    head = SimpleNamespace(queue_len=setting['queue'], check_batch_size=lambda batch: None)
    with warnings_logged() as warnings:
        HOOKS.build(dict(type='QueueBatchCheckHook')).before_train(SimpleNamespace(
            model=SimpleNamespace(head=head), train_dataloader=SimpleNamespace(
                batch_size=setting['batch'], drop_last=True, dataset=range(1000))))
    assert not warnings
    head.queue_len = 1024  # the former small default: warned
    with warnings_logged() as warnings:
        HOOKS.build(dict(type='QueueBatchCheckHook')).before_train(SimpleNamespace(
            model=SimpleNamespace(head=head), train_dataloader=SimpleNamespace(
                batch_size=setting['batch'], drop_last=True, dataset=range(1000))))
    assert warnings


@pytest.mark.parametrize('iters', [4, 40, 300])
def test_detection_schedule_warms_up_then_reaches_the_lr_then_drops_it(tmp_path, iters):
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    data = tmp_path / 'det'
    (data / 'annotations').mkdir(parents=True)
    (data / 'annotations' / 'train.json').write_text(json.dumps(
        dict(categories=[dict(id=1, name='a')], images=[], annotations=[])))
    args = argparse.Namespace(det_data=str(data), det_train_ann='annotations/train.json',
                              det_train_img='train/', det_val_ann='annotations/train.json',
                              det_val_img='train/', det_iters=iters, det_scale=None,
                              workers=None)
    path = str(tmp_path / 'det_config.py')
    mini_benchmark.det_config(args, mini_benchmark.SIZES['small'], 0, None, path)
    cfg = Config.fromfile(path)
    wrapper = build_optim_wrapper(torch.nn.Linear(1, 1), cfg.optim_wrapper)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper.optimizer))
                  for s in cfg.param_scheduler]
    lrs = []
    for _ in range(iters):
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    peak = cfg.optim_wrapper.optimizer.lr
    assert max(lrs) == pytest.approx(peak)
    assert lrs[0] < peak and lrs[-1] == pytest.approx(peak / 10)


def tiny_args(synthetic_root, work) -> list:
    """The tiny size on the synthetic set: pool and probe (its train split as val too)."""
    return ['--size', 'tiny', '--pretrain-data', synthetic_root, '--probe-data', synthetic_root,
            '--probe-val-ann', 'meta/train.txt', '--probe-prefix', 'train/', '--work-dir', work]


def check_tiny_run(entry, face):
    """A tiny run's readouts, loss terms, compute and curves (8 images, 2 steps, queue 4)."""
    readouts = entry['readouts']
    for name in ('retrieval', 'knn_probe', 'linear_probe', 'knn_pool'):
        assert set(readouts[name]) == set(STAGES)
        assert all(0 <= v <= 100 for v in readouts[name].values())
    assert readouts['n']['retrieval'] == 8 and readouts['chance']['retrieval'] == 12.5
    assert entry['face'] == face
    if 'loss' in entry:  # not random init
        assert len(entry['loss']['terms']) == 12
        assert entry['loss']['chance'] == pytest.approx(math.log(4 + 1))  # the tiny queue
        assert entry['compute']['iters'] == 2 and entry['compute']['images'] == 8
        # the hook's retrieval before the first step and after the epoch
        assert entry['curves']['retrieval/res5_top1'][0] == [0, 2]


@pytest.mark.e2e
@pytest.mark.slow(110)
def test_tiny_size_end_to_end(synthetic_root, tmp_path, capsys):
    work = tmp_path / 'bench'
    # in this process; its steps (mim train, the converter) are new processes
    args = [*tiny_args(synthetic_root, work), '--methods', 'detco', 'random',
            '--det-data', synthetic_root,
            '--det-train-ann', 'annotations/instances_train.json', '--det-train-img', '',
            '--det-val-ann', 'annotations/instances_train.json', '--det-val-img', '']
    code, out, err = run_tool('benchmarks/mini_benchmark.py', *args, capsys=capsys)
    assert code == 0, out[-2000:] + err[-3000:]
    results = json.loads((work / 'results.json').read_text())
    assert set(results) == {'detco', 'random'}
    detco, random = results['detco']['0'], results['random']['0']
    for entry in (detco, random):
        check_tiny_run(entry, 'mmselfsup')
        assert 0 <= entry['det']['bbox_mAP'] <= 100
    assert 'loss' in detco and 'loss' not in random
    assert (work / 'detco' / 'seed0' / 'backbone.pth').is_file()
    table = (work / 'results.md').read_text()
    assert '| DetCo (Table 1(c)) | 1 |' in table and '| random init (floor) | 1 |' in table
    assert (work / 'results.png').stat().st_size > 0
    # a second call finds every step done and only rewrites the report
    code, out, err = run_tool('benchmarks/mini_benchmark.py', *args, capsys=capsys)
    assert code == 0 and json.loads((work / 'results.json').read_text()) == results


@pytest.mark.e2e
@pytest.mark.slow(50)
def test_tiny_size_on_the_mmpretrain_face(synthetic_root, tmp_path, capsys):
    """`mim train mmpretrain` on the twin of the small DetCo config, and the same readouts of
    its checkpoint; one method and no detection, which do not depend on the face."""
    needs_mmpretrain()
    work = tmp_path / 'bench'
    code, out, err = run_tool('benchmarks/mini_benchmark.py', *tiny_args(synthetic_root, work),
                              '--face', 'mmpretrain', '--methods', 'detco', capsys=capsys)
    assert code == 0, out[-2000:] + err[-3000:]
    run = work / 'detco' / 'seed0'
    assert ' train mmpretrain ' in (run / 'commands.log').read_text()
    assert Config.fromfile(str(run / 'pretrain_config.py')).default_scope == 'mmpretrain'
    check_tiny_run(json.loads((work / 'results.json').read_text())['detco']['0'], 'mmpretrain')


@pytest.mark.e2e
@pytest.mark.slow(150)
def test_gpu_evidence_script_runs_its_tiny_size_on_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PATH=f'{osp.dirname(sys.executable)}:'
               f'{os.environ["PATH"]}')
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'benchmarks', 'gpu_evidence.sh'),
                           'tiny'], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'img/s' in proc.stdout  # throughput.py's table
    table = (tmp_path / 'evidence' / 'results.md').read_text()
    for label in mini_benchmark.LABELS.values():
        assert f'| {label} | 1 |' in table
    assert table in proc.stdout
