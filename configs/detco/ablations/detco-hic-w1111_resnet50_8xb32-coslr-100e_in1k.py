# Weights (1, 1, 1, 1), not normalised, HIC only. Table 15(c): AP 55.8.
_base_ = './detco-hic_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(loss_weights=[1., 1., 1., 1.]))
