# Copyright (c) detco_mm contributors. All rights reserved.
"""Pretrain (tiny DetCo) -> convert -> fine-tune an mmdet Mask R-CNN -> CocoMetric, end to end,
through the same commands as the README ("Transfer to detection"), shrunk for a CPU."""
import json

import torch

from conftest import mim_train, write_tiny_det_config


def test_pretrain_convert_finetune_evaluate(tmp_path, synthetic_root, tiny_backbone):
    config = write_tiny_det_config(tmp_path, synthetic_root, tiny_backbone)
    det_dir = tmp_path / 'finetune'
    log = mim_train('mmdet', config, det_dir)

    assert f'Loads checkpoint by local backend from path: {tiny_backbone}' in log
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' in log
    # the detector started from the pretrained backbone: conv1 moved only by 2 SGD steps
    pretrained = torch.load(tiny_backbone, weights_only=True)['state_dict']['conv1.weight']
    tuned = torch.load(det_dir / 'iter_2.pth', weights_only=True)['state_dict']
    stem = tuned['backbone.conv1.weight']
    assert (stem - pretrained).abs().max() < 0.05 * pretrained.abs().max()
    scalars = [json.loads(line) for line in open(next(det_dir.glob('*/vis_data/scalars.json')))]
    assert any('coco/bbox_mAP' in s for s in scalars)

    # PreciseBN (1 batch in the tiny config) ran after the last of the 2 iterations, before
    # the checkpoint: the statistics of the backbone and the FPN come from 1 batch, not 2
    assert 'PreciseBN: BN statistics of' in log
    tracked = {k: int(v) for k, v in tuned.items() if k.endswith('num_batches_tracked')}
    assert tracked and all(k.startswith(('backbone.', 'neck.')) for k in tracked)
    assert set(tracked.values()) == {1}
