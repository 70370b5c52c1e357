# DetCo Table 7 (Cityscapes instance segmentation, Mask R-CNN R50-FPN), MoCo's protocol; mirrors
# xieenze/DetCo benchmarks/detection/configs/Cityscapes/mask_rcnn_R_50_FPN_moco.yaml: the FPN
# heads of Base-RCNN-FPN.yaml, 24k iterations of 8 images (8 GPUs x 1), lr 0.01, lr / 10 at
# 18k, fine-tuned from the pretrained backbone (no COCO initialisation). Training: shorter side
# drawn from 800..1024 in steps of 32 (MIN_SIZE_TRAIN_SAMPLING: choice), longer side at most
# 2048; testing at 1024 x 2048 (MIN_SIZE_TEST: 1024, MAX_SIZE_TEST: 2048).
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_syncbn.py',
    'mmdet::_base_/datasets/cityscapes_instance.py',
    '../_base_/schedules/schedule_24k.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=8), mask_head=dict(num_classes=8)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(2048, 800), (2048, 832), (2048, 864), (2048, 896),
                (2048, 928), (2048, 960), (2048, 992), (2048, 1024)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# mmdet's RepeatDataset (times=8) only lengthens epochs; the iteration count sets the length.
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type={{_base_.dataset_type}},
        data_root={{_base_.data_root}},
        ann_file='annotations/instancesonly_filtered_gtFine_train.json',
        data_prefix=dict(img='leftImg8bit/train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline,
        backend_args={{_base_.backend_args}}))

train_cfg = dict(val_interval=8000)

param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=24000,
        by_epoch=False,
        milestones=[18000],
        gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=8)

default_hooks = dict(checkpoint=dict(interval=8000))
