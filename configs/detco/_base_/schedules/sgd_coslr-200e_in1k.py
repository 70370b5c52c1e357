# [P 6.5] SGD, lr 0.06 for a total batch of 256 (8 GPUs x 32; scale linearly), cosine decay;
# [M] momentum 0.9, weight decay 1e-4; [P 3.3] 200 epochs.
optimizer = dict(type='SGD', lr=0.06, weight_decay=1e-4, momentum=0.9)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer)

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
