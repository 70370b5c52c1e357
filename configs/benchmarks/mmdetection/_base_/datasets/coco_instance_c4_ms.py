# coco_instance_ms.py with the longer side at most 1200 in training: MAX_SIZE_TRAIN: 1200 of
# xieenze/DetCo benchmarks/detection/configs/coco_R_50_C4_2x_moco.yaml (DetCo's addition to
# MoCo's file), the base of its C4 1x and 12k configs too. The FPN and RetinaNet configs keep
# detectron2's 1333; testing stays at 800 x 1333 (MIN_SIZE_TEST: 800, MAX_SIZE_TEST 1333).
_base_ = './coco_instance_ms.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1200, 640), (1200, 672), (1200, 704), (1200, 736),
                (1200, 768), (1200, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
