# configs/detco/detco_resnet50_8xb32-coslr-200e_in1k.py for `mim train mmpretrain`: the same
# model, schedule and runtime; only toolbox names differ (see _base_/).
_base_ = [
    '_base_/models/detco_r50.py',
    '_base_/datasets/imagenet_detco.py',
    '../detco/_base_/schedules/sgd_coslr-200e_in1k.py',
    '_base_/default_runtime.py',
]
