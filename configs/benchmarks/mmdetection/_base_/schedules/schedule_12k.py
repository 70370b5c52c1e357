# DetCo's short schedule, 12k iterations "(~1/7 x vs. 90k-1x schedule)" [P 4.2, Tables 3, 5;
# 6.1, Tables 10-12]: lr / 10 at 9k and 11k, STEPS: (9000, 11000) of every *_12k.yaml in
# xieenze/DetCo benchmarks/detection/configs (coco_R_50_C4_12k, coco_R_50_FPN_12k,
# coco_R_50_RetinaNet_12k).
_base_ = './schedule_90k.py'

train_cfg = dict(max_iters=12000, val_interval=4000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=12000,
        by_epoch=False,
        milestones=[9000, 11000],
        gamma=0.1)
]

default_hooks = dict(checkpoint=dict(interval=4000))
