# Weights (1, 1, 1, 1) normalised to sum 1, HIC only. Table 15(b): AP 55.1.
_base_ = './detco-hic_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(loss_weights=[1., 1., 1., 1.], normalize_weights=True))
