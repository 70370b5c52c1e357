# DetCo with mixed precision [P 6.5: the authors used apex]; mmengine AMP needs a GPU.
_base_ = './detco_resnet50_8xb32-coslr-200e_in1k.py'

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
