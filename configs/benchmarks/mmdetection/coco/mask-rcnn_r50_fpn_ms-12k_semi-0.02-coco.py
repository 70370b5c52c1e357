# DetCo Table 10 (Mask R-CNN R50-FPN, COCO 2% data) [P 6.1]: 12k iterations on a random
# 2% of train2017's images, written by
#   python tools/data/make_coco_semi_splits.py --percent 2
# The authors' repository has no config for the data-efficient tables; this one keeps
# coco_R_50_FPN_12k_moco.yaml and changes only the training set.
_base_ = './mask-rcnn_r50_fpn_ms-12k_coco.py'

train_dataloader = dict(
    dataset=dict(ann_file='semi_anns/instances_train2017.1@2.json'))
