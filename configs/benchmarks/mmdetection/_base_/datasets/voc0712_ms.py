# VOC07+12 trainval for training, VOC07 test for evaluation, as MoCo's detectron2
# pascal_voc_R_50_C4_24k (DetCo Table 6): shorter side drawn from 480..800 in steps of 32,
# test at 800 x 1333, AP averaged over IoU 0.5:0.95 with the VOC07 11-point metric (detectron2's
# PascalVOCDetectionEvaluator), so AP, AP50 and AP75 are all reported.
_base_ = 'mmdet::_base_/datasets/voc0712.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 480), (1333, 512), (1333, 544), (1333, 576),
                (1333, 608), (1333, 640), (1333, 672), (1333, 704),
                (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # after Resize so that the boxes keep the original image's coordinates
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]

# No RepeatDataset (the iteration count sets the length) and no bbox_min_size: detectron2's VOC
# loader, which MoCo and DetCo used, keeps small boxes, and it trains on the boxes marked
# difficult too (VOCWithDifficultDataset); evaluation ignores them (VOCDataset, as detectron2's
# PascalVOCDetectionEvaluator).
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        # the two VOCDatasets differ in metainfo['dataset_type'] (mmdet's voc0712.py)
        ignore_keys=['dataset_type'],
        datasets=[
            dict(
                type='VOCWithDifficultDataset',
                data_root={{_base_.data_root}},
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=train_pipeline,
                backend_args={{_base_.backend_args}}),
            dict(
                type='VOCWithDifficultDataset',
                data_root={{_base_.data_root}},
                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2012/'),
                filter_cfg=dict(filter_empty_gt=True, min_size=32),
                pipeline=train_pipeline,
                backend_args={{_base_.backend_args}})
        ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator
