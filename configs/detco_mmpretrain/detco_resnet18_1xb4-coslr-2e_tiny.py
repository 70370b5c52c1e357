# configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py for `mim train mmpretrain`: the same shrink
# (ResNet-18, hid 64, queue 64, batch 4, 64 px global crops, 96 px local crops cut into 3x3
# cells of 32 px with 24 px patches, 2 epochs) with mmpretrain's transform names. CI and tests.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512], hid_channels=64),
    head=dict(queue_len=64))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[2, 2],
        transforms=[[
            dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.),
                 backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
        ], [
            dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.6, 1.),
                 backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
            dict(type='JigsawPatches', grid=3, cell_size=32, patch_size=24),
        ]]),
    dict(type='PackInputs', meta_keys=['img_path'])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(data_root='data/detco_demo/', pipeline=train_pipeline))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)
]
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1))
