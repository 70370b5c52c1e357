# MoCo's VOC schedule (detectron2 pascal_voc_R_50_C4_24k), DetCo Table 6 [P 4.2]: 24k iterations
# of 16 images, warm-up over 100 iterations, lr / 10 at 18k and 22k.
_base_ = './schedule_90k.py'

train_cfg = dict(max_iters=24000, val_interval=2000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=24000,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]

default_hooks = dict(checkpoint=dict(interval=2000))
