# DetCo, ResNet-50, 200 epochs on ImageNet-1k, 8 GPUs x 32 images [P 3.3, 6.5].
_base_ = [
    '_base_/models/detco_r50.py',
    '_base_/datasets/imagenet_detco.py',
    '_base_/schedules/sgd_coslr-200e_in1k.py',
    '_base_/default_runtime.py',
]
