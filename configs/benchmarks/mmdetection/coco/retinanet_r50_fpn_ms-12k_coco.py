# DetCo Table 5 (RetinaNet R50 12k): 12k iterations, 8 GPUs x 2 images;
# mirrors xieenze/DetCo benchmarks/detection/configs/coco_R_50_RetinaNet_12k_moco.yaml.
_base_ = [
    '../_base_/models/retinanet_r50_fpn_syncbn.py',
    '../_base_/datasets/coco_detection_ms.py',
    '../_base_/schedules/schedule_12k.py'
]

# RetinaNet's usual lr for 16 images (detectron2 Base-RetinaNet, mmdet retinanet_r50_fpn_1x).
optim_wrapper = dict(optimizer=dict(lr=0.01))
