# RetinaNet R50-FPN for DetCo's Tables 5 and 12: "we follow the setting of MoCo on Mask RCNN,
# adding extra normalization layers in both backbone and fpn" [P 6.5], i.e. xieenze/DetCo
# benchmarks/detection/configs/coco_R_50_RetinaNet_1x.yaml over its Base-RetinaNet.yaml: SyncBN
# in the backbone and the FPN, none in the head (detectron2's RETINANET.NORM ""), no frozen
# stage, BN statistics updated.
_base_ = 'mmdet::_base_/models/retinanet_r50_fpn.py'

# A DetCo backbone state_dict: --cfg-options model.backbone.init_cfg.checkpoint=PATH; a whole
# DetCo training checkpoint (keys 'backbone.*'): add model.backbone.init_cfg.prefix=backbone.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained', checkpoint='work_dirs/detco_backbone.pth')),
    # detectron2's LastLevelP6P7 computes P7 from relu(P6). It has no norm either, but mmdet's
    # FPN gives its extra convs (P6, P7) the same norm_cfg as the others: the one difference
    # left, as no option of mmdet's FPN separates them.
    neck=dict(norm_cfg=norm_cfg, relu_before_extra_convs=True))
