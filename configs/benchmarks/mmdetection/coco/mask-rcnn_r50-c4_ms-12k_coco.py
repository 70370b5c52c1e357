# DetCo Table 3 (Mask R-CNN R50-C4 COCO 12k): 12k iterations, 8 GPUs x 2 images;
# mirrors xieenze/DetCo benchmarks/detection/configs/coco_R_50_C4_12k_moco.yaml.
_base_ = [
    '../_base_/models/mask-rcnn_r50-c4_syncbn.py',
    '../_base_/datasets/coco_instance_c4_ms.py',
    '../_base_/schedules/schedule_12k.py'
]
