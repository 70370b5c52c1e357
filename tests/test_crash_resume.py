# Copyright (c) detco_mm contributors. All rights reserved.
"""kill -9 of a real tiny pretraining run, mid-epoch and during a save, then `--resume`, for
each face: `mim train mmselfsup` and `mim train mmpretrain` of the tiny config, in lockstep.

The runs under test and an uninterrupted reference run (`mim train mmselfsup`, for both faces:
the faces build the same initial weights and compute the same losses, see
tests/test_mmpretrain_backend.py) use the same seed with ``deterministic=True`` on the CPU, so
each resumed run must reproduce the reference: every logged loss term and lr, and the final
checkpoint's weights, momentum encoder, queues and pointers, optimizer state and scheduler.
Tolerance rtol=1e-5, atol=1e-6 (one thread, same ops: the values are in fact expected to be
bit-identical).
"""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, TINY_CONFIG, installed_faces, skip_untested_faces, tiny_pretrain_options
from detco_mm.engine.hooks.crash_safe_checkpoint_hook import TMP_PREFIX

TOL = dict(rtol=1e-5, atol=1e-6)


def start_training(toolbox, config, work_dir, *args, cfg_options=()):
    """``mim train TOOLBOX CONFIG`` in its own process group (mim starts the trainer as a
    child)."""
    os.makedirs(work_dir, exist_ok=True)
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    cmd = [mim, 'train', toolbox, config, '--work-dir', str(work_dir), *args,
           '--cfg-options', *cfg_options]
    out = open(osp.join(work_dir, 'stdout.txt'), 'a')
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED='1'))


def kill_when(runs, condition, interval=0.001, timeout=300):
    """Poll ``condition(work_dir)`` of every run (work dir -> process) every ``interval``
    seconds; SIGKILL a whole run as soon as its condition holds, return when all are killed."""
    deadline = time.monotonic() + timeout
    running = dict(runs)
    while running:
        for work_dir, proc in list(running.items()):
            if condition(work_dir):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                del running[work_dir]
            else:
                assert proc.poll() is None, f'{work_dir}: the run ended before the moment to kill'
        assert time.monotonic() < deadline, 'timed out waiting for the moment to kill'
        time.sleep(interval)


def finish(proc, work_dir):
    assert proc.wait(timeout=600) == 0, open(osp.join(work_dir, 'stdout.txt')).read()[-3000:]


def logged_scalars(work_dir) -> dict:
    """step -> logged scalars, over every run (one timestamped folder each) in ``work_dir``."""
    steps = {}
    for path in sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))):
        for line in open(path):
            record = json.loads(line)
            steps.setdefault(record['step'], []).append(record)
    return steps


def compare(actual, expected, path='checkpoint'):
    """Every tensor and number of ``expected`` is in ``actual`` and equal within TOL."""
    if isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, **TOL, msg=lambda m: f'{path}: {m}')
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), path
        for key in expected:
            compare(actual[key], expected[key], f'{path}[{key!r}]')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare(a, e, f'{path}[{i}]')
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=TOL['rtol'], abs=TOL['atol']), path
    else:
        assert actual == expected, path


@pytest.mark.e2e
@pytest.mark.slow(120)
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_kill_mid_epoch_and_during_save_then_resume_continues_the_run(tmp_path, synthetic_root):
    # 8 images, batch 4: 2 steps per epoch, 2 epochs; keep only the newest checkpoint, the
    # setting in which mmengine 0.10.7 deleted the old file before writing the new one.
    options = tiny_pretrain_options(synthetic_root, 2) + [
        'randomness.seed=3', 'randomness.deterministic=True',
        'default_hooks.checkpoint.max_keep_ckpts=1']
    faces = installed_faces()
    ref_dir = tmp_path / 'reference'
    reference = start_training('mmselfsup', TINY_CONFIG, ref_dir, cfg_options=options)
    run_dirs = {tmp_path / toolbox: (toolbox, config) for toolbox, config in faces.items()}

    def start_runs(*args):
        return {run_dir: start_training(toolbox, config, run_dir, *args, cfg_options=options)
                for run_dir, (toolbox, config) in run_dirs.items()}

    # 1. kill -9 in the middle of epoch 2 (its first step is logged, the save not begun); a
    # step takes over 0.1 s, so reading the logs every 10 ms is in time and costs little
    kill_when(start_runs(), lambda run_dir: 'Epoch(train) [2][1/2]' in open(
        run_dir / 'stdout.txt').read(), interval=0.01)
    for run_dir in run_dirs:
        assert sorted(p.name for p in run_dir.glob('*.pth')) == ['epoch_1.pth'], run_dir

    # 2. resume; kill -9 while epoch_2.pth is being written
    kill_when(start_runs('--resume'), lambda run_dir: any(
        n.startswith(TMP_PREFIX + 'epoch_2.pth') for n in os.listdir(run_dir)))
    torn = {}
    for run_dir in run_dirs:
        names = sorted(os.listdir(run_dir))
        torn[run_dir] = [n for n in names if n.startswith(TMP_PREFIX)]
        assert len(torn[run_dir]) == 1, names  # killed mid-write: the temporary file is torn
        assert 'epoch_2.pth' not in names and 'epoch_1.pth' in names, names
        assert open(run_dir / 'last_checkpoint').read() == str(run_dir / 'epoch_1.pth')

    # 3. resume again: from epoch_1.pth (never from the torn file), to the end
    for run_dir, run in start_runs('--resume').items():
        finish(run, run_dir)
    finish(reference, ref_dir)
    expected = logged_scalars(ref_dir)
    assert sorted(expected) == [1, 2, 3, 4]
    ref = torch.load(ref_dir / 'epoch_2.pth', weights_only=True)
    for run_dir in run_dirs:
        log = open(run_dir / 'stdout.txt').read()
        assert log.count('resumed epoch: 1, iter: 2') == 2, run_dir
        assert f'Removed {torn[run_dir][0]}, a checkpoint torn by a killed run' in log, run_dir
        assert sorted(p.name for p in run_dir.iterdir() if p.name.endswith('.pth')) == [
            'epoch_2.pth'], run_dir
        assert not any(n.startswith(TMP_PREFIX) for n in os.listdir(run_dir)), run_dir

        # every step any of the killed / resumed runs logged (loss terms, lr) is the reference's
        actual = logged_scalars(run_dir)
        assert set(actual) == set(expected), run_dir
        for step, records in actual.items():
            for record in records:
                for key in [k for k in expected[step][0] if k.startswith(('loss', 'lr'))]:
                    assert record[key] == pytest.approx(expected[step][0][key], rel=1e-5), \
                        (run_dir, step, key)
        # and the final checkpoints agree: weights, momentum encoder, queues and pointers,
        # optimizer state (SGD momentum), scheduler, iteration and sampler position
        final = torch.load(run_dir / 'epoch_2.pth', weights_only=True)
        for key in ('state_dict', 'optimizer', 'param_schedulers'):
            compare(final[key], ref[key], f'{run_dir.name}: {key}')
        assert (final['meta']['epoch'], final['meta']['iter']) == (2, 4), run_dir
        assert final['state_dict']['head.queue_g_ptr'].tolist() == [16] * 4, run_dir
        assert int(final['state_dict']['encoder_k.steps']) == 4, run_dir
    skip_untested_faces(faces)
