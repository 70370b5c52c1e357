# HIC only at small scale (Table 1(b) reduction): hierarchical g2g contrast at res2..res5,
# no local views; everything else as the small DetCo config.
_base_ = './detco_resnet18_1xb32-coslr-10e_small.py'

model = dict(
    neck=dict(with_local=False),
    head=dict(contrasts=['g2g']))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=2,
        transforms=[[
            dict(type='RandomResizedCrop', size=64, scale=(0.2, 1.), backend='pillow'),
            dict(type='Compose', transforms={{_base_.view_augs}}),
        ]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
