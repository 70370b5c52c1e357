# One queue shared by res2..res5 (every stage's keys enqueued into it), HIC only.
# Table 16(a): AP 56.2. queue_len must be divisible by 4 x the global batch.
_base_ = './detco-hic_resnet50_8xb32-coslr-100e_in1k.py'

model = dict(head=dict(share_queue=True))
