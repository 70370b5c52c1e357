# MoCo v2 at small scale: the Table 1(a) reduction of DetCo (weights (0, 0, 0, 1), g2g only,
# no local views; configs/detco/ablations/detco-hic-w0001_*), as the HIC-only config.
_base_ = './detco-hic_resnet18_1xb32-coslr-10e_small.py'

model = dict(head=dict(loss_weights=[0., 0., 0., 1.]))
