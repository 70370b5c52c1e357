# DetCo with its view augmentation on the GPU [C] (README "Speed"): the CPU workers decode and
# crop; DetCoGPUAugDataPreprocessor applies view_augs and cuts the jigsaw, per image, on the
# device. Same configs of the steps as the default (CPU) path, which stays the reference.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline), pin_memory=True)
