# RetinaNet R50-FPN for DetCo's Tables 5 and 12: "we follow the setting of MoCo on Mask RCNN,
# adding extra normalization layers in both backbone and fpn" [P 6.5], i.e. SyncBN in the
# backbone, the FPN and the head's conv towers, no frozen stage, BN statistics updated.
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
    neck=dict(norm_cfg=norm_cfg),
    bbox_head=dict(norm_cfg=norm_cfg))
