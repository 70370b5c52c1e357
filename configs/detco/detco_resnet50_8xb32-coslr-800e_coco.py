# DetCo on the COCO train2017 images (annotations unused), e.g. data/coco/{train2017/,
# annotations/instances_train2017.json}. Not in the paper (ImageNet only): [C] 800 epochs of
# 118k images, the COCO schedule of DenseCL (CVPR 2021), as users ask (mmselfsup#251).
_base_ = './detco_resnet50_8xb32-coslr-800e_in1k.py'

train_dataloader = dict(
    dataset=dict(
        type='UnlabeledImages',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img_path='train2017/')))
