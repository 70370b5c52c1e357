# The tiny config with its view augmentation on the device (the detco-gpuaug switch), for the
# CPU tests.
_base_ = './detco_resnet18_1xb4-coslr-2e_tiny.py'

model = dict(
    data_preprocessor=dict(
        type='DetCoGPUAugDataPreprocessor',
        view_augs={{_base_.view_augs}},
        jigsaw={{_base_.jigsaw}}))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=[2, 2],
        transforms=[[{{_base_.global_crop}}], [{{_base_.local_crop}}]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
