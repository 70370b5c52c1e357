# Mask R-CNN R50-FPN as MoCo fine-tunes it, which DetCo follows for Tables 3, 4, 7, 10, 11, 13
# and 14 [P 4.2]: SyncBN in the backbone, the FPN and the RoI heads (4 convs + 1 fc box head,
# 4 convs mask head), no frozen stage, BN statistics updated.
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
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))
