# Copyright (c) detco_mm contributors. All rights reserved.
"""Smoke test of tools/benchmarks/throughput.py: the three pipelines, every mode, on CPU."""
import os.path as osp

import pytest

from conftest import ROOT, TINY_CONFIG, run_tool
TINY_GPUAUG = osp.join(ROOT, 'configs', 'detco', 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py')
# stock mmselfsup MoCo v2 from the installed package, shrunk like the tiny DetCo config
TINY_MOCOV2 = """
_base_ = 'mmselfsup::selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
model = dict(queue_len=64, backbone=dict(depth=18), neck=dict(in_channels=512, hid_channels=64))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[[
        dict(type='RandomResizedCrop', size=64, scale=(0.2, 1.), backend='pillow'),
        dict(type='RandomApply', prob=0.8, transforms=[dict(
            type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)]),
        dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
             channel_weights=(0.114, 0.587, 0.2989)),
        dict(type='RandomGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.5),
        dict(type='RandomFlip', prob=0.5)]]),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])]))
"""


def throughput(capsys, *args) -> str:
    """tools/benchmarks/throughput.py ARGS in this process; its stdout."""
    code, out, err = run_tool('benchmarks/throughput.py', *args, capsys=capsys)
    assert code == 0, err
    return out


@pytest.mark.slow(10)
def test_throughput_smoke(tmp_path, synthetic_root, capsys):
    mocov2 = tmp_path / 'mocov2_r18.py'
    mocov2.write_text(TINY_MOCOV2)
    configs = ['--mocov2-config', str(mocov2), '--detco-config', TINY_CONFIG,
               '--gpuaug-config', TINY_GPUAUG]
    out = throughput(capsys, synthetic_root, *configs, '--batch', '2',
                     '--workers', '0', '--rounds', '1', '--iters', '1', '--channels-last')
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    for mode in ('data', 'model', 'e2e'):
        rates = [float(v) for v in rows[mode]]
        assert len(rates) == 5 and all(r > 0 for r in rates), out
    assert 'peak RSS' in out

    out = throughput(capsys, synthetic_root, *configs, '--breakdown', '2')
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    total = [float(v) for v in rows['total']]
    assert float(rows['ratio'][-1]) == pytest.approx(total[2] / total[0], abs=0.01)
    # the gpuaug path leaves only decode, crops and packing to the CPU
    assert rows['ColorJitter'][2] == '0.00' and float(rows['ColorJitter'][1]) > 0
    assert float(rows['ContiguousRandomResizedCrop'][2]) > 0 and total[2] < total[1]
