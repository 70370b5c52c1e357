# Views of DetCo [P 3.3]: 2 global views (MoCo v2 augmentation) and 2 local views (a 255 px
# crop with the same photometric augmentation, cut into a 3x3 jigsaw by JigsawPatches).
# MultiView packs them as inputs [global q, global k, local q, local k], the order DetCo reads.
# Any "path [label]" list; bad images are skipped with a warning, at most 1% (CheckedImageList).
dataset_type = 'CheckedImageList'
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
    dict(type='RandomGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]
global_view_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.), backend='pillow'),
    *view_augs,
]
# Output: one (192, 192, 3) mosaic of 9 patches of 64 px, see JigsawPatches. The detco-gpuaug
# configs cut it on the device with the same settings.
jigsaw = dict(type='JigsawPatches', grid=3, cell_size=85, patch_size=64, shuffle=True)
# [C] the local crop is taken from the original image, independently of the global crops.
local_view_pipeline = [
    dict(type='RandomResizedCrop', size=255, scale=(0.6, 1.), backend='pillow'),
    *view_augs,
    jigsaw,
]

train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(
        type='MultiViewWithMeta',  # also keeps each view's jigsaw_grid for DetCo's check
        num_views=[2, 2],
        transforms=[global_view_pipeline, local_view_pipeline]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path', 'jigsaw_grid'])
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
        skip_bad_images=True,
        max_skipped_fraction=0.01,
        pipeline=train_pipeline))
