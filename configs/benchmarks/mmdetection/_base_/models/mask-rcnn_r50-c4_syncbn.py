# Mask R-CNN R50-C4 as MoCo fine-tunes it (detectron2 Base-RCNN-C4-BN), which DetCo follows for
# Tables 3, 4 and 13 [P 4.2]: SyncBN in all layers, no frozen stage, BN statistics updated, and
# an extra SyncBN after res5, the RoI head of C4 (MoCo's Res5ROIHeadsExtraNorm, mmselfsup's
# ResLayerExtraNorm).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50-caffe-c4.py'

# res5 lives in the RoI head, not in the backbone, so both load the pretrained file (res5 reads
# its 'layer4.*' keys). Point both at a DetCo backbone state_dict with
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH \
#                 model.roi_head.shared_head.init_cfg.checkpoint=PATH
# and, for a whole DetCo training checkpoint (keys 'backbone.*'), also
#   model.backbone.init_cfg.prefix=backbone. model.roi_head.shared_head.init_cfg.prefix=backbone.
# tools/benchmarks/mim_dist_train_mmdet.sh writes these options.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # DetCo sees RGB images normalised with ImageNet statistics, not caffe-style BGR.
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        # stride in the 3x3 conv, as in the pretrained ResNet (detectron2 STRIDE_IN_1X1=False)
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
                checkpoint='work_dirs/detco_backbone.pth'))),
    # detectron2 trains the RPN on the anchors that cross the image border too (its default
    # RPN.BOUNDARY_THRESH: -1, kept by the authors' yamls); mmdet's Mask R-CNN C4 drops them
    # (allowed_border=0), its Faster R-CNN C4 and FPN models keep them (-1).
    train_cfg=dict(rpn=dict(allowed_border=-1)))
