# The runtime of configs/detco (hooks, checkpoints every epoch, logging) in mmpretrain's scope,
# loading DetCo's mmpretrain face instead of its mmselfsup registration.
_base_ = '../../detco/_base_/default_runtime.py'

default_scope = 'mmpretrain'
custom_imports = dict(imports=['detco_mm.backends.mmpretrain'], allow_failed_imports=False)
visualizer = dict(type='UniversalVisualizer')
