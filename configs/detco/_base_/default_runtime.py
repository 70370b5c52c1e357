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

log_processor = dict(
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')])

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SelfSupVisualizer', vis_backends=vis_backends, name='visualizer')

log_level = 'INFO'
load_from = None
resume = False
