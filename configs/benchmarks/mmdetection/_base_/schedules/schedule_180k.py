# detectron2's "2x": 180k iterations, lr / 10 at 120k and 160k (DetCo Tables 5, 13, 14).
_base_ = './schedule_90k.py'

train_cfg = dict(max_iters=180000, val_interval=20000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=180000,
        by_epoch=False,
        milestones=[120000, 160000],
        gamma=0.1)
]

default_hooks = dict(checkpoint=dict(interval=20000))
