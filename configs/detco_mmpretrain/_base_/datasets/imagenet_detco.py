# configs/detco/_base_/datasets/imagenet_detco.py with mmpretrain's transform names (as its
# MoCo v2 config): RandomResizedCrop(scale=size, crop_ratio_range=area range), GaussianBlur
# for RandomGaussianBlur, PackInputs for PackSelfSupInputs, ImageNet for mmcls.ImageNet.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'

# MoCo v2's photometric augmentation and flip; the local views share it [P 3.3].
view_augs = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
global_view_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.), backend='pillow'),
    *view_augs,
]
# [C] the local crop is taken from the original image, independently of the global crops.
local_view_pipeline = [
    dict(type='RandomResizedCrop', scale=255, crop_ratio_range=(0.6, 1.), backend='pillow'),
    *view_augs,
    # Output: one (192, 192, 3) mosaic of 9 patches of 64 px, see JigsawPatches.
    dict(type='JigsawPatches', grid=3, cell_size=85, patch_size=64, shuffle=True),
]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[2, 2],
        transforms=[global_view_pipeline, local_view_pipeline]),
    dict(type='PackInputs', meta_keys=['img_path'])
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    drop_last=True,  # the queues need whole batches (DetCoHead.check_batch_size)
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix=dict(img_path='train/'),
        pipeline=train_pipeline))
