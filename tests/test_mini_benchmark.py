# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/benchmarks/mini_benchmark.py: the tiny size end to end, and the mean +/- std table."""
import argparse
import json
import statistics

import pytest

from conftest import run_tool, tool

mini_benchmark = tool('benchmarks/mini_benchmark.py')
STAGES = ('res2', 'res3', 'res4', 'res5')


def test_table_gives_mean_and_sample_std_over_seeds():
    results = {'detco': {str(s): dict(knn={st: 10. * s + i for i, st in enumerate(STAGES)},
                                      knn_running_bn={st: 1. for st in STAGES},
                                      det=dict(bbox_mAP=float(s), bbox_mAP_50=2. * s))
                         for s in (1, 3)}}
    table = mini_benchmark.table(results)
    res2 = [10. * s for s in (1, 3)]
    row = next(line for line in table.splitlines() if line.startswith('| DetCo'))
    assert f'{statistics.mean(res2):.1f} ± {statistics.stdev(res2):.1f}' in row
    assert '| 2 |' in row  # seeds
    assert '| DetCo (Table 1(c)) | running (checkpoint) | 1.0 ± 0.0 |' in table


def test_report_rereads_runs_that_other_processes_finish_later(tmp_path):
    """One process per seed on one work dir: seed 1's process reports before seed 0's
    process adds its detection result, and again after."""
    args = argparse.Namespace(work_dir=str(tmp_path))
    for seed in (0, 1):
        (tmp_path / 'detco' / f'seed{seed}').mkdir(parents=True)
        mini_benchmark.save(tmp_path / 'detco' / f'seed{seed}' / 'result.json',
                            dict(knn={st: 1. for st in STAGES}))
    results = {}
    mini_benchmark.write_report(args, results)
    mini_benchmark.save(tmp_path / 'detco' / 'seed0' / 'result.json',
                        dict(knn={st: 1. for st in STAGES}, det=dict(bbox_mAP=3., bbox_mAP_50=9.)))
    mini_benchmark.write_report(args, results)
    assert results['detco']['0']['det']['bbox_mAP'] == 3.
    assert json.loads((tmp_path / 'results.json').read_text())['detco']['0']['det'] == dict(
        bbox_mAP=3., bbox_mAP_50=9.)


@pytest.mark.e2e
@pytest.mark.slow(110)
def test_tiny_size_end_to_end(synthetic_root, tmp_path, capsys):
    work = tmp_path / 'bench'
    # in this process; its steps (mim train, the converter) are new processes
    args = ['--size', 'tiny', '--methods', 'detco', 'random',
            '--pretrain-data', synthetic_root, '--det-data', synthetic_root,
            '--det-train-ann', 'annotations/instances_train.json', '--det-train-img', '',
            '--det-val-ann', 'annotations/instances_train.json', '--det-val-img', '',
            '--work-dir', work]
    code, out, err = run_tool('benchmarks/mini_benchmark.py', *args, capsys=capsys)
    assert code == 0, out[-2000:] + err[-3000:]
    results = json.loads((work / 'results.json').read_text())
    assert set(results) == {'detco', 'random'}
    detco, random = results['detco']['0'], results['random']['0']
    assert set(detco['knn']) == set(STAGES) == set(detco['knn_running_bn'])
    assert set(random['knn']) == set(STAGES)
    for entry in (detco, random):
        assert 0 <= entry['det']['bbox_mAP'] <= 100
    assert (work / 'detco' / 'seed0' / 'backbone.pth').is_file()
    table = (work / 'results.md').read_text()
    assert '| DetCo (Table 1(c)) | 1 |' in table and '| random init (floor) | 1 |' in table
    assert (work / 'results.png').stat().st_size > 0
    # a second call finds every step done and only rewrites the report
    code, out, err = run_tool('benchmarks/mini_benchmark.py', *args, capsys=capsys)
    assert code == 0 and json.loads((work / 'results.json').read_text()) == results
