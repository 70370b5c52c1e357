# Default weights (0.1, 0.4, 0.7, 1) normalised to sum 1, HIC only. Table 15(d): AP 56.5.
_base_ = './detco-hic_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(normalize_weights=True))
