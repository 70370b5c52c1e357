# Faster R-CNN R50-C4 as MoCo fine-tunes it on VOC (detectron2 Base-RCNN-C4-BN), the protocol of
# DetCo's Table 6 [P 4.2]: SyncBN in all layers, no frozen stage, BN statistics updated, and an
# extra SyncBN after res5, the RoI head of C4 (MoCo's Res5ROIHeadsExtraNorm, mmselfsup's
# ResLayerExtraNorm). Same settings as mask-rcnn_r50-c4_syncbn.py; see there for the
# pretrained checkpoint options (res5 loads the same file as the backbone).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(
            type='Pretrained', checkpoint='work_dirs/detco_backbone.pth')),
    roi_head=dict(
        shared_head=dict(
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            init_cfg=dict(
                type='Pretrained',
                checkpoint='work_dirs/detco_backbone.pth'))))
