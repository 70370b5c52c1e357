# configs/detco's DetCo ResNet-50, built from mmpretrain's registry: mmpretrain's ResNet numbers
# its outputs from res2 (mmselfsup's from the stem), and its CrossEntropyLoss.
_base_ = '../../../detco/_base_/models/detco_r50.py'

model = dict(
    backbone=dict(out_indices=[0, 1, 2, 3]),  # res2..res5
    head=dict(loss=dict(type='CrossEntropyLoss')))
