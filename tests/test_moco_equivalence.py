# Copyright (c) detco_mm contributors. All rights reserved.
"""DetCo with weights (0, 0, 0, 1), g2g only and no local views is MoCo v2 [P Table 15(a)]."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmselfsup.registry import MODELS

from conftest import ROOT

W0001 = osp.join(ROOT, 'configs', 'detco', 'ablations',
                 'detco-hic-w0001_resnet50_8xb32-coslr-100e_in1k.py')


def build_pair():
    """DetCo from the Table 1(a) config shrunk to ResNet-18, and mmselfsup's MoCo with the
    same backbone, projection head, queue and momentum."""
    cfg = Config.fromfile(W0001).model
    cfg.backbone.depth = 18
    cfg.neck.update(in_channels=[64, 128, 256, 512], hid_channels=32)
    cfg.head.queue_len = 16
    detco = MODELS.build(cfg)
    moco = MODELS.build(dict(
        type='MoCo', queue_len=16, feat_dim=128, momentum=0.999,
        data_preprocessor=copy.deepcopy(cfg.data_preprocessor),
        backbone=dict(type='ResNet', depth=18, in_channels=3, out_indices=[4],
                      norm_cfg=dict(type='BN'), zero_init_residual=False),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=32, out_channels=128,
                  with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='mmcls.CrossEntropyLoss'),
                  temperature=0.2)))
    moco.backbone.load_state_dict(detco.backbone.state_dict())
    moco.neck.mlp.load_state_dict(detco.neck.global_mlps[3].state_dict())
    moco.queue.copy_(detco.head.queue_g[3])
    return detco, moco


def test_same_loss_and_gradients_as_moco_v2():
    detco, moco = build_pair()
    detco.train()
    moco.train()
    torch.manual_seed(0)
    views = [torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64)]
    losses = {}
    for name, model in (('detco', detco), ('moco', moco)):
        for _ in range(2):  # the second step sees a momentum update and a filled queue
            model.zero_grad()
            torch.manual_seed(1)  # same shuffle-BN permutation
            out = model.loss([v.clone() for v in views], [])
            total = sum(v for k, v in out.items() if 'loss' in k)
            total.backward()
        losses[name] = total
    torch.testing.assert_close(losses['detco'], losses['moco'])
    grads = {n: p.grad for n, p in detco.backbone.named_parameters()}
    for n, p in moco.backbone.named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-5, atol=1e-7)
    for p_d, p_m in zip(detco.neck.global_mlps[3].parameters(), moco.neck.mlp.parameters()):
        torch.testing.assert_close(p_d.grad, p_m.grad, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(detco.head.queue_g[3], moco.queue)
    # res2..res4 heads get no gradient at weight 0
    for mlp in detco.neck.global_mlps[:3]:
        assert all(p.grad is None or not p.grad.any() for p in mlp.parameters())
