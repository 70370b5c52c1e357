# DetCo Table 4 (Mask R-CNN R50-FPN COCO 90k): 90k iterations, 8 GPUs x 2 images;
# mirrors xieenze/DetCo benchmarks/detection/configs/coco_R_50_FPN_1x_moco.yaml.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn_syncbn.py',
    '../_base_/datasets/coco_instance_ms.py',
    '../_base_/schedules/schedule_90k.py'
]
