# The _base_ config for mmpretrain (`mim train mmpretrain` or `mim train detco_mm`), all of it
# inherited; only what the two toolboxes name differently changes, with the same block in
# every config of this folder (tests/test_faces.py checks that nothing else differs).
_base_ = '../../detco/small/mocov2_resnet18_1xb32-coslr-10e_small.py'

default_scope = 'mmpretrain'
custom_imports = dict(imports=['detco_mm.backends.mmpretrain'], allow_failed_imports=False)
# mmpretrain's ResNet numbers its outputs from res2 (mmselfsup's from the stem): res2..res5
model = dict(
    backbone=dict(out_indices=[0, 1, 2, 3]),
    head=dict(loss=dict(type='CrossEntropyLoss')))
# The one data pipeline of both faces, built from mmselfsup's transforms (which this face needs
# installed anyway): the same images, views and metadata for the same seed.
train_dataloader = dict(dataset=dict(_scope_='mmselfsup'))
visualizer = dict(type='UniversalVisualizer')
