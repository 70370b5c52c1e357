# The real DetCo config shrunk for a CPU: ResNet-18, hid 64, queue 64, batch 4, global crops of
# 64 px, local crops of 96 px cut into a 3x3 grid of 32 px cells with 24 px patches, 2 epochs on
# the generated set of tools/data/make_synthetic_images.py. Used by `make demo` and the tests,
# so what they exercise is the real config's wiring.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512], hid_channels=64),
    head=dict(queue_len=64))

jigsaw = dict(type='JigsawPatches', grid=3, cell_size=32, patch_size=24)
train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(
        type='MultiViewWithMeta',
        num_views=[2, 2],
        transforms=[[
            dict(type='RandomResizedCrop', size=64, scale=(0.2, 1.), backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
        ], [
            dict(type='RandomResizedCrop', size=96, scale=(0.6, 1.), backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
            jigsaw,
        ]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path', 'jigsaw_grid'])
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(data_root='data/detco_demo/', pipeline=train_pipeline))

# [P 6.5] lr 0.06 is for a batch of 256; scaled linearly to this batch of 4 (the base
# config's 0.06 here would be a 64x larger step per image).
optim_wrapper = dict(optimizer=dict(lr=0.06 * 4 / 256))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=2, by_epoch=True, begin=0, end=2)
]
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1))
