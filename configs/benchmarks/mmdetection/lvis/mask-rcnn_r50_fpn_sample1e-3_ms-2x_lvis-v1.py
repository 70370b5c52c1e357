# DetCo Table 14 (LVIS v1.0 instance segmentation, Mask R-CNN R50-FPN) [P 6.2]: 180k iterations
# of 8 GPUs x 2 images, "other settings also keep the same with MoCo". The LVIS-specific settings
# are detectron2's and mmdet's LVIS defaults: repeat-factor sampling with threshold 1e-3
# (mmdet's ClassBalancedDataset), up to 300 detections per image with scores down to 1e-4.
# Neither xieenze/DetCo nor facebookresearch/moco has an LVIS config; this one is
# coco_R_50_FPN_2x_moco.yaml of xieenze/DetCo benchmarks/detection/configs with the LVIS
# settings of detectron2's LVISv1-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_syncbn.py',
    'mmdet::_base_/datasets/lvis_v1_instance.py',
    '../_base_/schedules/schedule_180k.py'
]

model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=1203), mask_head=dict(num_classes=1203)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))

train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
