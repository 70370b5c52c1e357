# Copyright (c) detco_mm contributors. All rights reserved.
"""Pretrain (tiny DetCo) -> convert -> fine-tune an mmdet Mask R-CNN -> CocoMetric, end to end,
through the same commands as the README ("Transfer to detection"), shrunk for a CPU."""
import json
import os.path as osp
import subprocess
import sys

import torch

from conftest import ROOT, mim_train

FPN_12K = osp.join(ROOT, 'configs', 'benchmarks', 'mmdetection', 'coco',
                   'mask-rcnn_r50_fpn_ms-12k_coco.py')

# The benchmark config with a ResNet-18 to match the tiny pretraining, 128 px images, the
# 3 classes of tools/data/make_synthetic_images.py and 2 iterations.
TINY_DET_CONFIG = '''
_base_ = {base!r}
data_root = {data_root!r}
ann_file = 'annotations/instances_train.json'
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
model = dict(
    backbone=dict(depth=18, init_cfg=dict(checkpoint={checkpoint!r})),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
                 metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file=ann_file, data_prefix=dict(img=''),
                 metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + ann_file)
test_evaluator = val_evaluator
train_cfg = dict(max_iters=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
'''


def test_pretrain_convert_finetune_evaluate(tmp_path, synthetic_root, tiny_pretrain_dir):
    pretrain_dir = tiny_pretrain_dir
    backbone = tmp_path / 'detco_r18_backbone.pth'
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'model_converters',
                                             'detco_to_backbone.py'),
                    str(pretrain_dir / 'epoch_1.pth'), str(backbone)], check=True,
                   capture_output=True)

    config = tmp_path / 'mask-rcnn_r18_fpn_tiny.py'
    config.write_text(TINY_DET_CONFIG.format(base=FPN_12K, data_root=synthetic_root,
                                             checkpoint=str(backbone)))
    det_dir = tmp_path / 'finetune'
    log = mim_train('mmdet', str(config), det_dir)

    assert f'Loads checkpoint by local backend from path: {backbone}' in log
    assert 'coco/bbox_mAP' in log and 'coco/segm_mAP' in log
    # the detector started from the pretrained backbone: conv1 moved only by 2 SGD steps
    pretrained = torch.load(backbone, weights_only=True)['state_dict']['conv1.weight']
    tuned = torch.load(det_dir / 'iter_2.pth', weights_only=True)
    stem = tuned['state_dict']['backbone.conv1.weight']
    assert (stem - pretrained).abs().max() < 0.05 * pretrained.abs().max()
    scalars = [json.loads(line) for line in open(next(det_dir.glob('*/vis_data/scalars.json')))]
    assert any('coco/bbox_mAP' in s for s in scalars)
