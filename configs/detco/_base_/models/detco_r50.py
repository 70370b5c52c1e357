# DetCo with a ResNet-50: Res2..Res5 each get a global and a local MLP head and their own
# global and local queues [P 3.2.1, 3.2.2, 6.5]; total loss sum_i w_i (g2g + l2l + l2g) [P eq. 1].
model = dict(
    type='DetCo',
    momentum=0.999,  # key encoder momentum [M: MoCo v2]
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=(123.675, 116.28, 103.53),
        std=(58.395, 57.12, 57.375),
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        in_channels=3,
        out_indices=[1, 2, 3, 4],  # mmselfsup ResNet: 0 is the stem, 1..4 = res2..res5
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='DetCoNeck',
        in_channels=[256, 512, 1024, 2048],
        hid_channels=2048,
        out_channels=128,
        num_patches=9,
        with_local=True),
    head=dict(
        type='DetCoHead',
        stages=['res2', 'res3', 'res4', 'res5'],
        loss_weights=[0.1, 0.4, 0.7, 1.0],  # [P 6.5, Table 15(e)]
        normalize_weights=False,
        contrasts=['g2g', 'l2l', 'l2g'],
        share_queue=False,  # [P Table 16]: one queue per stage and view
        queue_len=65536,
        feat_dim=128,
        temperature=0.2,
        loss=dict(type='mmcls.CrossEntropyLoss')))
