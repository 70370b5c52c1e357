# `make transfer-demo`: the Mask R-CNN R50-FPN 12k benchmark (Table 3) shrunk for a CPU, on the
# ResNet-18 of the tiny pretraining config. The generated set of `make demo` trains
# (data/detco_demo/, annotations/instances_train.json) and a held-out one generated with
# another seed evaluates (--split val: annotations/instances_val.json); 3 classes, 160 px.
# Everything else (SyncBN, which one process turns into BN; no frozen stage; the optimiser)
# is the benchmark's. Run by tools/benchmarks/transfer_demo.sh.
_base_ = '../benchmarks/mmdetection/coco/mask-rcnn_r50_fpn_ms-12k_coco.py'

data_root = 'data/detco_demo/'
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle'))
image_size = (160, 160)
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(checkpoint='work_dirs/detco_demo/detco_backbone.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]),
    roi_head=dict(
        bbox_head=dict(num_classes=len(metainfo['classes'])),
        mask_head=dict(num_classes=len(metainfo['classes']))),
    # 2-5 objects per image: far fewer proposals and sampled RoIs than COCO's (1000 and 512)
    # make a step several times cheaper on a CPU
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100), rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img=''),
        metainfo=metainfo,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img=''),
        metainfo=metainfo,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# A step takes seconds on a CPU: 40 steps (2.5 passes over the 32 images) keep the demo at a
# few minutes. lr 0.02 x 2/16 (the benchmark's linear scaling to this batch), a short warm-up,
# no decay.
max_iters = 40
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=0.0025))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=10)
]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
# PreciseBN over 10 batches: the benchmark's 200 would cost more than the 40 training steps
custom_hooks = [
    dict(type='mmselfsup.PretrainedCheckHook'),
    dict(type='mmselfsup.WeightsOnlyCheckpointHook'),
    dict(type='mmselfsup.PreciseBNHook', num_iter=10)
]
