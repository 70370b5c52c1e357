# Copyright (c) detco_mm contributors. All rights reserved.
"""Checkpoint files in and out: weights with NaN or Inf refused wherever a file enters, a
damaged ``last_checkpoint`` reported by name with a fall-back to the newest complete
checkpoint, outputs written whole with the work dir's permissions, and a refused file ending
the process with its one line."""
import errno
import os
import sys

import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.logging import MMLogger
from mmengine.runner import runner as mm_runner

from conftest import ROOT, TINY_CONFIG, copy_run, run_tool, tiny_pretrain_options, train_in_process
from detco_ckpt import CheckpointError
from detco_mm.engine.hooks.crash_safe_checkpoint_hook import AtomicLocalBackend

DET_CONFIG = os.path.join(ROOT, 'configs', 'benchmarks', 'mmdetection', 'coco',
                          'mask-rcnn_r50_fpn_ms-1x_coco.py')
NAN_KEY = 'layer2.0.conv1.weight'


@pytest.fixture
def nan_backbone(tmp_path):
    """A converted-backbone file (ResNet-50, as detco_to_backbone.py writes) with one tensor
    of NaN and one of Inf."""
    state_dict = MMDET_MODELS.build(dict(type='mmdet.ResNet', depth=50)).state_dict()
    state_dict[NAN_KEY][0, 0, 0, 0] = float('nan')
    state_dict['layer3.0.conv1.weight'][0, 0, 0, 0] = float('inf')
    path = tmp_path / 'diverged_backbone.pth'
    torch.save({'state_dict': state_dict, 'meta': {'source': 'x', 'encoder': 'backbone.'}}, path)
    return str(path), len(state_dict)


def test_nan_weights_refused_by_the_detector_init(nan_backbone):
    path, count = nan_backbone
    model = MMDET_MODELS.build(dict(type='mmdet.ResNet', depth=50, init_cfg=dict(
        type='Pretrained', checkpoint=path)))
    with pytest.raises(CheckpointError) as error:
        model.init_weights()
    assert str(error.value) == (f'{path}: {NAN_KEY} holds NaN or Inf (2 of {count} tensors '
                                f'do: the run diverged); use an earlier checkpoint')


def test_nan_weights_refused_by_pretrain_cfg_options(nan_backbone, capsys):
    path, _ = nan_backbone
    code, out, err = run_tool('benchmarks/pretrain_cfg_options.py', DET_CONFIG, path,
                              capsys=capsys)
    assert code != 0 and out == '' and len(err.strip().splitlines()) == 1, err
    assert f'error: {path}: {NAN_KEY} holds NaN or Inf' in err


@pytest.mark.parametrize('script', ['detco_to_backbone.py', 'detco_to_torchvision.py',
                                    'detco_to_detectron2.py'])
def test_nan_weights_refused_by_the_converters(script, tmp_path, capsys):
    path = tmp_path / 'epoch_9.pth'
    torch.save({'meta': {'epoch': 9}, 'state_dict': {
        'neck.global_mlps.0.0.weight': torch.zeros(2),
        'backbone.conv1.weight': torch.full((2, ), float('inf'))}}, path)
    code, _, err = run_tool(f'model_converters/{script}', path, tmp_path / 'out.pkl',
                            capsys=capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert f'error: {path}: backbone.conv1.weight holds NaN or Inf (1 of 2 tensors' in err
    assert not (tmp_path / 'out.pkl').exists()


def test_converter_on_a_full_disk_leaves_no_partial_output(tmp_path, capsys, monkeypatch):
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': {
        'neck.global_mlps.0.0.weight': torch.zeros(2),
        'backbone.conv1.weight': torch.zeros(4096)}}, checkpoint)
    out = tmp_path / 'out' / 'backbone.pth'
    out.parent.mkdir()
    out.write_bytes(b'the previous output')
    save = torch.save

    def save_until_the_disk_is_full(obj, file):
        save(obj, file)  # half of the bytes reach the file, then the disk is full
        file.truncate(file.tell() // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, 'save', save_until_the_disk_is_full)
    code, _, err = run_tool('model_converters/detco_to_backbone.py', checkpoint, out,
                            capsys=capsys)
    assert code == 1 and f'error: {out}: cannot write (No space left on device)' in err, err
    assert out.read_bytes() == b'the previous output'
    assert os.listdir(out.parent) == ['backbone.pth']  # no temporary file left either


@pytest.mark.parametrize('umask', [0o022, 0o027, 0o077])
def test_checkpoints_get_the_permissions_of_other_files(umask, tmp_path):
    """A checkpoint (and last_checkpoint) written through the atomic backend has the mode of a
    file the same process opens for writing, e.g. the log beside it."""
    old = os.umask(umask)
    try:
        AtomicLocalBackend().put(b'checkpoint', tmp_path / 'epoch_1.pth')
        AtomicLocalBackend().put_text('epoch_1.pth', tmp_path / 'last_checkpoint')
        with open(tmp_path / 'run.log', 'w'):
            pass
    finally:
        os.umask(old)
    modes = {name: os.stat(tmp_path / name).st_mode & 0o777
             for name in ('epoch_1.pth', 'last_checkpoint', 'run.log')}
    assert set(modes.values()) == {0o666 & ~umask}, modes


def damaged_work_dir(tmp_path, content: bytes):
    """A work dir with two complete checkpoints, epoch_2.pth the newer, a cut epoch_3.pth
    (newest, not complete) and a ``last_checkpoint`` holding ``content``."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    for epoch in (1, 2, 3):
        path = work_dir / f'epoch_{epoch}.pth'
        torch.save({'meta': {'epoch': epoch}, 'state_dict': {'w': torch.zeros(64)}}, path)
        os.utime(path, (1e9 + epoch, 1e9 + epoch))
    data = (work_dir / 'epoch_3.pth').read_bytes()
    (work_dir / 'epoch_3.pth').write_bytes(data[:len(data) // 2])
    os.utime(work_dir / 'epoch_3.pth', (1e9 + 3, 1e9 + 3))
    (work_dir / 'last_checkpoint').write_bytes(content)
    return work_dir


@pytest.mark.parametrize('case', ['garbage', 'empty', 'truncated', 'missing'])
def test_damaged_last_checkpoint_falls_back_to_the_newest_complete(case, tmp_path):
    content = {'garbage': b'\xff\xfe\x00\x81garbage', 'empty': b'',
               'truncated': str(tmp_path / 'work' / 'epo').encode(),
               'missing': str(tmp_path / 'elsewhere' / 'epoch_2.pth').encode()}[case]
    work_dir = damaged_work_dir(tmp_path, content)
    log = tmp_path / 'log.txt'
    MMLogger.get_instance(f'last_checkpoint_{case}', log_file=str(log))
    assert mm_runner.find_latest_checkpoint(str(work_dir)) == str(work_dir / 'epoch_2.pth')
    problem = ('is not text (damaged)' if case == 'garbage' else 'is empty' if case == 'empty'
               else f"names '{content.decode()}', which is not a file")
    assert (f'{work_dir}/last_checkpoint {problem}; resuming from {work_dir}/epoch_2.pth, the '
            f'newest complete checkpoint in {work_dir}') in log.read_text()


def test_damaged_last_checkpoint_without_any_checkpoint_stops(tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text('')
    with pytest.raises(CheckpointError, match=f'{work_dir}/last_checkpoint is empty, and '
                       f'{work_dir} holds no complete'):
        mm_runner.find_latest_checkpoint(str(work_dir))


def test_intact_last_checkpoint_is_used_as_it_is(tmp_path):
    work_dir = damaged_work_dir(tmp_path, str(tmp_path / 'work' / 'epoch_1.pth').encode())
    assert mm_runner.find_latest_checkpoint(str(work_dir)) == str(work_dir / 'epoch_1.pth')


@pytest.mark.slow(15)
def test_resume_with_a_garbage_last_checkpoint(tiny_pretrain_dir, synthetic_root, tmp_path):
    """--resume of a real run whose last_checkpoint is garbage continues from epoch_1.pth."""
    work_dir = copy_run(tiny_pretrain_dir, tmp_path / 'run')
    (work_dir / 'last_checkpoint').write_bytes(b'\x00\xff' * 8)
    log = train_in_process(TINY_CONFIG, work_dir, tiny_pretrain_options(synthetic_root, 2)
                           + ['resume=True'])
    assert f'{work_dir}/last_checkpoint is not text (damaged); resuming from ' \
           f'{work_dir}/epoch_1.pth' in log
    assert 'resumed epoch: 1' in log
    assert (work_dir / 'epoch_2.pth').is_file()


def test_checkpoint_error_ends_the_process_with_its_line(capsys):
    sys.excepthook(CheckpointError, CheckpointError('x.pth: the reason'), None)
    assert capsys.readouterr().err == 'CheckpointError: x.pth: the reason\n'
    try:
        raise ValueError('another error')
    except ValueError as error:
        sys.excepthook(ValueError, error, error.__traceback__)
    err = capsys.readouterr().err
    assert err.startswith('Traceback') and err.endswith('ValueError: another error\n')
