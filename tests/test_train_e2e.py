# Copyright (c) detco_mm contributors. All rights reserved.
"""`mim train mmselfsup` with the tiny config, then `--resume`."""
import pytest
import torch

from conftest import TINY_CONFIG, copy_run, mim_train, tiny_pretrain_options


@pytest.mark.e2e
@pytest.mark.slow(30)
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_mim_train_then_resume_keeps_queues(tmp_path, synthetic_root, tiny_pretrain_dir):
    # epoch 1: the shared run of `mim train` (tiny_pretrain_options(synthetic_root, 1)), copied
    copy_run(tiny_pretrain_dir, tmp_path)
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'l2g: ' in log  # the console's per-contrast sum; each term is in scalars.json
    assert 'loss_l2g_res5' in next(tmp_path.glob('*/vis_data/scalars.json')).read_text()
    first = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)['state_dict']
    # 8 images, batch 4, drop_last: 2 steps of 4 keys per queue
    assert first['head.queue_g_ptr'].tolist() == [8] * 4
    assert first['head.queue_l_ptr'].tolist() == [8] * 4

    log = mim_train('mmselfsup', TINY_CONFIG, tmp_path, '--resume',
                    cfg_options=tiny_pretrain_options(synthetic_root, 2))
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
