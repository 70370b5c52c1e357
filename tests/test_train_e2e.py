# Copyright (c) detco_mm contributors. All rights reserved.
"""`mim train mmselfsup` with the tiny config, then `--resume`."""
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY_CONFIG


def mim_train(work_dir, data_root, max_epochs, *extra):
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    cmd = [mim, 'train', 'mmselfsup', TINY_CONFIG, '--work-dir', str(work_dir), *extra,
           '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
           f'train_cfg.max_epochs={max_epochs}', 'train_dataloader.num_workers=0',
           'train_dataloader.persistent_workers=False']
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_mim_train_then_resume_keeps_queues(tmp_path, synthetic_root):
    log = mim_train(tmp_path, synthetic_root, 1)
    assert 'loss_l2g_res5' in log
    first = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    # 8 images, batch 4, drop_last: 2 steps of 4 keys per queue
    assert first['head.queue_g_ptr'].tolist() == [8] * 4
    assert first['head.queue_l_ptr'].tolist() == [8] * 4

    log = mim_train(tmp_path, synthetic_root, 2, '--resume')
    assert 'resumed epoch: 1, iter: 2' in log
    second = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['state_dict']
    for view in ('g', 'l'):
        queue0, queue1 = first[f'head.queue_{view}'], second[f'head.queue_{view}']
        # the pointers went on from where the checkpoint left them ...
        assert second[f'head.queue_{view}_ptr'].tolist() == [16] * 4
        # ... the slots not written since are the checkpoint's, the new keys follow them
        torch.testing.assert_close(queue1[:, :, :8], queue0[:, :, :8])
        torch.testing.assert_close(queue1[:, :, 16:], queue0[:, :, 16:])
        assert not torch.allclose(queue1[:, :, 8:16], queue0[:, :, 8:16])
    assert int(second['encoder_k.steps']) == 4
