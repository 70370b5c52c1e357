# DetCo Table 6 (Faster R-CNN R50-C4 on VOC07+12, MoCo's protocol): 24k iterations,
# 8 GPUs x 2 images.
_base_ = [
    '../_base_/models/faster-rcnn_r50-c4_syncbn.py',
    '../_base_/datasets/voc0712_ms.py',
    '../_base_/schedules/schedule_24k.py'
]

model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
