# DetCo on every image under a folder (any depth; no meta file, no labels), e.g.
# --cfg-options train_dataloader.dataset.data_root=PATH/
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

train_dataloader = dict(
    dataset=dict(
        type='UnlabeledImages',
        data_root='data/images/',
        ann_file='',
        data_prefix=dict(img_path='')))
