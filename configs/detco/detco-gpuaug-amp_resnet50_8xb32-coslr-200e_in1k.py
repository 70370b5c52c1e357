# GPU-side augmentation with bf16 mixed precision [C] (docs/speed.md).
_base_ = './detco-gpuaug_resnet50_8xb32-coslr-200e_in1k.py'

optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16')
