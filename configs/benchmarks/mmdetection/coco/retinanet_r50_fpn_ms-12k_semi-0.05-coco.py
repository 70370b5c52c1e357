# DetCo Table 12 (RetinaNet R50, COCO 5% data) [P 6.1]: 12k iterations on a random 5%
# of train2017's images, written by
#   python tools/data/make_coco_semi_splits.py --percent 5
# The authors' repository has no config for the data-efficient tables; this one keeps
# coco_R_50_RetinaNet_12k_moco.yaml and changes only the training set.
_base_ = './retinanet_r50_fpn_ms-12k_coco.py'

train_dataloader = dict(
    dataset=dict(ann_file='semi_anns/instances_train2017.1@5.json'))
