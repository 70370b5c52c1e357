# DetCo with its view augmentation on the GPU [C] (docs/speed.md): the CPU workers decode and
# crop; DetCoGPUAugDataPreprocessor applies view_augs and cuts the jigsaw, per image, on the
# device. Same configs of the steps as the default (CPU) path, which stays the reference.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

model = dict(
    data_preprocessor=dict(
        type='DetCoGPUAugDataPreprocessor',
        view_augs={{_base_.view_augs}},
        jigsaw={{_base_.jigsaw}}))

# The CPU does only the crops of the base config, with the same draws and output but without
# mmcv's slow pillow path (ContiguousRandomResizedCrop); tests/test_gpu_aug.py checks that they
# stay the same.
train_pipeline = [
    dict(type='LoadImageChecked'),  # bad files skipped as in the base config
    dict(
        type='MultiView',
        num_views=[2, 2],
        transforms=[[
            dict(type='ContiguousRandomResizedCrop', size=224, scale=(0.2, 1.),
                 backend='pillow')
        ], [
            dict(type='ContiguousRandomResizedCrop', size=255, scale=(0.6, 1.),
                 backend='pillow')
        ]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline), pin_memory=True)
