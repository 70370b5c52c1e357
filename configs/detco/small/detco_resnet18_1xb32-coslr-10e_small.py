# DetCo at small scale, for tools/benchmarks/mini_benchmark.py (Table 1 and Table 2 in
# miniature): ResNet-18, one process x 32 images, 64 px global crops and 96 px local crops cut
# into a 3x3 jigsaw of 24 px patches, 10 epochs on a folder of ~1000 images (mini_benchmark's
# --pretrain-data). Per-stage kNN at the end of training (PerStageKNNHook, leave-one-out on the
# same labelled folder). Not a paper setting: every [C] value below is
# what keeps a few-thousand-step run on a CPU meaningful.
_base_ = '../detco_resnet50_8xb32-coslr-200e_in1k.py'

data_root = 'data/imagenet_det_1k/'
# [C] 0.99 instead of MoCo's 0.999: 0.999^300 = 0.74, i.e. in a 300-step run the key encoder
# would stay mostly its random initialisation.
model = dict(
    momentum=0.99,
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512], hid_channels=512),
    # [C] 256 keys, a quarter of an epoch of a 1000-image pool: a queue of more than half an
    # epoch holds keys of the batch's own images as negatives (QueueBatchCheckHook warns); with
    # 1024 the loss rose after ~150 steps. MoCo: 65536 / 1.28 M images = 5 %.
    head=dict(queue_len=256))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[2, 2],
        transforms=[[
            dict(type='RandomResizedCrop', size=64, scale=(0.2, 1.), backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
        ], [
            dict(type='RandomResizedCrop', size=96, scale=(0.6, 1.), backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
            dict(type='JigsawPatches', grid=3, cell_size=32, patch_size=24),
        ]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))

# [P 6.5] lr 0.06 for a batch of 256, scaled linearly to 32.
optim_wrapper = dict(optimizer=dict(lr=0.06 * 32 / 256))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10)
]
train_cfg = dict(max_epochs=10)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=1))

# The kNN bank: whole images at the global crop's scale (short side 64 / 0.875, centre 64).
knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmcls.ResizeEdge', scale=73, edge='short', backend='pillow'),
    dict(type='mmcls.CenterCrop', crop_size=64),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
custom_hooks = [
    dict(type='QueueBatchCheckHook'),
    dict(type='JigsawCheckHook'),
    dict(type='WeightsOnlyCheckpointHook'),
    dict(
        type='PerStageKNNHook',
        interval=5,
        k=20,
        temperature=0.07,
        bn_stats='reestimate',
        train_dataloader=dict(
            batch_size=64,
            num_workers=0,
            dataset=dict(
                type='mmcls.ImageNet',
                data_root=data_root,
                ann_file='meta/train.txt',
                data_prefix='train/',
                pipeline=knn_pipeline,
                # mmselfsup's transforms also under the mmpretrain twin's default scope
                _scope_='mmselfsup'))),
]
