# Mask R-CNN R50-FPN as DetCo fine-tunes it for Tables 3, 4, 7, 10, 11, 13 and 14 [P 4.2]:
# xieenze/DetCo benchmarks/detection/configs/coco_R_50_FPN_1x.yaml over its Base-RCNN-FPN.yaml.
# SyncBN in the backbone and the FPN only (RESNETS.NORM, FPN.NORM); the RoI heads keep
# detectron2's defaults, which mmdet's Mask R-CNN already has: a box head of 2 fc layers of 1024
# (NUM_FC: 2, no conv, ROI_BOX_HEAD.NORM "") and a mask head of 4 convs (NUM_CONV: 4,
# ROI_MASK_HEAD.NORM ""), both without norm. No frozen stage (FREEZE_AT: 0), BN statistics
# updated.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

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
    neck=dict(norm_cfg=norm_cfg))
