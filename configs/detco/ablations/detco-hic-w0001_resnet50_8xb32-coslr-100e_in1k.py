# Weights (0, 0, 0, 1), g2g only, no local views: DetCo reduces to MoCo v2.
# Table 1(a) = Table 15(a): AP 56.3. tests/test_moco_equivalence.py checks the reduction.
_base_ = './detco-hic_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(loss_weights=[0., 0., 0., 1.]))
