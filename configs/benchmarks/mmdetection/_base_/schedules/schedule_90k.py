# The "1x" schedule of detectron2, in which MoCo fine-tunes and DetCo follows it [P 4.2]:
# 90k iterations of 16 images (8 GPUs x 2), SGD lr 0.02, momentum 0.9, weight decay 1e-4 but
# none on norm layers (detectron2's SOLVER.WEIGHT_DECAY_NORM = 0), linear warm-up from
# 0.001 x lr over 1k iterations, lr / 10 at 60k and 80k. It also holds the runtime settings
# that every benchmark shares, switched from epochs to iterations.
_base_ = [
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=90000,
    val_interval=10000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=90000,
        by_epoch=False,
        milestones=[60000, 80000],
        gamma=0.1)
]
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0.))
# With fewer than 16 images per iteration, train with --auto-scale-lr (lr scales linearly).
auto_scale_lr = dict(base_batch_size=16)

# detco_mm's CrashSafeCheckpointHook: atomic files, old ones deleted after the new one
default_hooks = dict(
    checkpoint=dict(type='mmselfsup.CrashSafeCheckpointHook', by_epoch=False, interval=10000))
log_processor = dict(by_epoch=False)

# detco_mm repairs mmselfsup's registries and brings PretrainedCheckHook (the run stops before
# the first iteration unless the backbone, and res5 of C4, loaded completely from the file) and
# WeightsOnlyCheckpointHook: fine-tuning checkpoints that --resume (and the Pretrained init)
# load under torch's weights_only=True default. mmselfsup's ResLayerExtraNorm (the extra norm
# after res5 of the C4 configs) and detco_mm's VOCWithDifficultDataset (VOC training set)
# register into mmdet on import.
custom_imports = dict(
    imports=[
        'detco_mm', 'mmselfsup.models.utils.res_layer_extra_norm',
        'detco_mm.datasets.voc_with_difficult'
    ],
    allow_failed_imports=False)
# TEST.PRECISE_BN.ENABLED: True in every official config (Base-RCNN-C4-BN.yaml,
# coco_R_50_FPN_1x.yaml, coco_R_50_RetinaNet_1x.yaml, Cityscapes/mask_rcnn_R_50_FPN.yaml of
# xieenze/DetCo), with detectron2's default TEST.PRECISE_BN.NUM_ITER = 200: BN statistics
# recomputed over 200 training batches before each evaluation and after the last iteration.
custom_hooks = [
    dict(type='mmselfsup.PretrainedCheckHook'),
    dict(type='mmselfsup.WeightsOnlyCheckpointHook'),
    dict(type='mmselfsup.PreciseBNHook', num_iter=200)
]
