# HIC only: hierarchical intermediate contrast (g2g at res2..res5, weights (0.1, 0.4, 0.7, 1))
# without local views. Table 1(b) = Table 15(e) = Table 16(b): VOC07+12 AP 57.0, 100 epochs.
# The Table 15 and 16 ablations below inherit from this config.
_base_ = '../detco_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(
    neck=dict(with_local=False),
    head=dict(contrasts=['g2g']))

train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(
        type='MultiView',
        num_views=2,
        transforms=[{{_base_.global_view_pipeline}}]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
