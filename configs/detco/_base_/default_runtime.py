# mmselfsup's default runtime, plus what DetCo needs.
default_scope = 'mmselfsup'
custom_imports = dict(imports=['detco_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # every epoch (an ImageNet epoch is long), keeping the last 3: a crash loses at most one;
    # files written atomically, old ones deleted after the new one is complete, random
    # states saved for an exact --resume (see the hook)
    checkpoint=dict(type='CrashSafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [
    # Queue length vs global batch size and drop_last, checked before the first step.
    dict(type='QueueBatchCheckHook'),
    # The local views' jigsaw grid vs model.neck.num_patches, checked before the first step.
    dict(type='JigsawCheckHook'),
    # Checkpoints that --resume loads with torch.load(weights_only=True); see the hook.
    dict(type='WeightsOnlyCheckpointHook'),
    # Stop at the first NaN/Inf loss term or weight, before a checkpoint of it is saved.
    dict(type='NonFiniteCheckHook'),
    # Log the bad images CheckedImageList skipped; stop beyond its max_skipped_fraction.
    dict(type='SkippedImagesHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# Console: total loss, per-contrast sums (g2g, l2l, l2g) and img/s; the 24 per-term values
# go to scalars.json and TensorBoard only (DetCoLogProcessor).
log_processor = dict(
    type='DetCoLogProcessor',
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')])

# Both write under WORK_DIR/<timestamp>/vis_data/: scalars.json (tools/analysis/plot_curves.py)
# and TensorBoard event files (`tensorboard --logdir WORK_DIR`); no server runs during training.
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(
    type='SelfSupVisualizer', vis_backends=vis_backends, name='visualizer')

log_level = 'INFO'
load_from = None
resume = False
