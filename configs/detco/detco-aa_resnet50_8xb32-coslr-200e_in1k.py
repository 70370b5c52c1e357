# DetCo+AA [P Tables 3-5, 10-13]: ImageNet AutoAugment (mmcls) first in each global view's
# pipeline, so the two global views get independent policies; local views unchanged.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(
        type='MultiViewWithMeta',
        num_views=[2, 2],
        transforms=[[
            dict(
                # built in mmcls' scope: its policies (Posterize, ...) are mmcls transforms
                # that mmselfsup's registry lacks ('mmcls.AutoAugment' alone builds them in the
                # default scope and fails with a KeyError)
                type='AutoAugment',
                _scope_='mmcls',
                policies='imagenet',
                # pad with the BGR dataset mean, as mmcls' ImageNet configs do
                hparams=dict(pad_val=[104, 116, 124])),
            dict(type='Compose', transforms={{_base_.global_view_pipeline}}),
        ], {{_base_.local_view_pipeline}}]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path', 'jigsaw_grid'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
