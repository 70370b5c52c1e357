# DetCo Table 6 (Faster R-CNN R50-C4 on VOC07+12, MoCo's protocol): 24k iterations,
# 8 GPUs x 2 images; mirrors xieenze/DetCo
# benchmarks/detection/configs/pascal_voc_R_50_C4_24k_moco.yaml, a copy of MoCo's
# (facebookresearch/moco detection/configs, last at 87e36d3, whose Base-RCNN-C4-BN.yaml later
# switched to naiveSyncBN; DetCo's keeps SyncBN). Report the mean of 5 trials, as MoCo does:
# tools/benchmarks/repeat.py.
_base_ = [
    '../_base_/models/faster-rcnn_r50-c4_syncbn.py',
    '../_base_/datasets/voc0712_ms.py',
    '../_base_/schedules/schedule_24k.py'
]

model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
