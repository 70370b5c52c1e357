# DetCo Table 7 (Cityscapes instance segmentation, Mask R-CNN R50-FPN), MoCo's protocol, i.e.
# detectron2's Cityscapes/mask_rcnn_R_50_FPN: 24k iterations of 8 images (8 GPUs x 1), lr 0.01,
# lr / 10 at 18k, evaluation every 8k, fine-tuned from the pretrained backbone (no COCO
# initialisation). Training scales: mmdet's shorter side in [800, 1024] (detectron2 draws it
# from 800..1024 in steps of 32).
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_syncbn.py',
    'mmdet::_base_/datasets/cityscapes_instance.py',
    '../_base_/schedules/schedule_24k.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=8), mask_head=dict(num_classes=8)))

train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))

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
