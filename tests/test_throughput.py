# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/benchmarks/throughput.py on CPU: tiny configs of both faces, CPU and gpu-aug, every
mode, against stock MoCo v2 and against each config's MoCo v2 reduction."""
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT, TINY_CONFIG, TINY_MMPRETRAIN, needs_mmpretrain, run_tool, tool

TINY_GPUAUG = osp.join(ROOT, 'configs', 'detco', 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py')
TINY_GPUAUG_MMPRETRAIN = osp.join(ROOT, 'configs', 'detco_mmpretrain',
                                  'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny_mmpretrain.py')
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
FAST = ('--batch', '2', '--workers', '0', '--rounds', '1', '--iters', '1')


def throughput(capsys, *args) -> str:
    """tools/benchmarks/throughput.py ARGS in this process; its stdout."""
    code, out, err = run_tool('benchmarks/throughput.py', *args, capsys=capsys)
    assert code == 0, err[-3000:]
    return out


def table(out: str) -> dict:
    """First word of each line -> the other words."""
    return {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}


def check_rates(rows: dict, modes, candidates: int, ratios: dict) -> None:
    """Every mode's row: positive img/s per candidate, then each ratio (column i / column j
    of ``ratios``) as the printed rates give it (both have 3 significant digits)."""
    assert rows['img/s'] == [f'[{i}]' for i in range(1, candidates + 1)] + [
        f'[{i}]/[{j}]' for i, j in ratios.items()]
    for mode in modes:
        rates = [float(v) for v in rows[mode][:candidates]]
        assert all(r > 0 for r in rates), rows
        for (i, j), ratio in zip(ratios.items(), rows[mode][candidates:]):
            assert float(ratio) == pytest.approx(rates[i - 1] / rates[j - 1], rel=0.02)


@pytest.mark.slow(10)
def test_every_mode_against_stock_mocov2(tmp_path, synthetic_root, capsys):
    mocov2 = tmp_path / 'mocov2_r18.py'
    mocov2.write_text(TINY_MOCOV2)
    configs = ['--mocov2-config', str(mocov2), '--configs', TINY_CONFIG, TINY_GPUAUG]
    out = throughput(capsys, synthetic_root, *configs, *FAST, '--channels-last')
    rows = table(out)
    assert rows['[2]'] == [TINY_CONFIG] and rows['[3]'] == [TINY_GPUAUG]
    check_rates(rows, ('data', 'preprocess', 'model', 'e2e'), 3, {2: 1, 3: 1})
    assert 'peak RSS' in out

    out = throughput(capsys, synthetic_root, *configs, '--breakdown', '8')
    rows = table(out)
    total = [float(v) for v in rows['total']]
    assert float(rows['ratio'][-1]) == pytest.approx(total[2] / total[0], abs=0.01)
    # the gpuaug path leaves only decode, crops and packing to the CPU
    assert rows['ColorJitter'][2] == '0.00' and float(rows['ColorJitter'][1]) > 0
    assert float(rows['ContiguousRandomResizedCrop'][2]) > 0 and total[2] < total[1]


@pytest.mark.slow(10)
def test_model_step_against_the_reduction_on_both_faces(capsys):
    """pretrain_speed's measurement: no data, each config against its Table 1(a) reduction;
    the gpu-aug tiny config (its preprocessor augments on the device) and the tiny config and
    gpu-aug config of the mmpretrain face (whose data preprocessor returns a dict)."""
    needs_mmpretrain()
    configs = (TINY_GPUAUG, TINY_MMPRETRAIN, TINY_GPUAUG_MMPRETRAIN)
    out = throughput(capsys, '--configs', *configs, '--baseline', 'reduction', *FAST)
    rows = table(out)
    for i, config in enumerate(configs):
        assert rows[f'[{2 * i + 1}]'] == [config]
        assert rows[f'[{2 * i + 2}]'] == f'MoCo v2 reduction of [{2 * i + 1}] (Table 1(a))'.split()
    assert rows['data'][:2] == ['synthetic', 'views']  # the settings line
    check_rates(rows, ('preprocess', 'model'), 6, {1: 2, 3: 4, 5: 6})


def test_synthetic_views_have_the_pipelines_shapes(synthetic_root):
    """What the synthetic modes feed the preprocessor is what each pipeline gives it: for the
    CPU path 2 global crops and 2 jigsaw mosaics, for gpu-aug the uncut local crops."""
    speed = tool('benchmarks/_speed.py')
    for config, local in ((TINY_CONFIG, 72), (TINY_GPUAUG, 96)):
        cfg = speed.load_config(config)
        sample = speed.build_dataset(cfg, synthetic_root)[0]
        assert [tuple(x.shape[-2:]) for x in sample['inputs']] == speed.view_shapes(cfg)
        assert speed.view_shapes(cfg) == [(64, 64)] * 2 + [(local, local)] * 2


@pytest.mark.parametrize('args, message', [
    (['--modes', 'data'], 'data read real images: give a data_root'),
    (['--breakdown', '2'], '--breakdown read real images'),
    (['DATA/', '--baseline', 'reduction'], 'need --baseline mocov2'),
])
def test_refuses_what_it_cannot_measure(args, message, capsys):
    code, _, err = run_tool('benchmarks/throughput.py', *args, capsys=capsys)
    assert code == 2 and message in err


@pytest.mark.parametrize('value, text', [(0.1234, '0.123'), (0.5, '0.500'), (12.345, '12.3'),
                                         (1462.3, '1462'), (0.0, '0')])
def test_rates_print_three_significant_digits(value, text):
    assert tool('benchmarks/throughput.py').significant(value) == text


def test_reduction_is_the_table_1a_config():
    """The tool's MoCo v2 reduction changes the model as the Table 1(a) ablation config does."""
    speed = tool('benchmarks/_speed.py')
    reduced = speed.mocov2_reduction(speed.load_config(TINY_CONFIG)).model
    table_1a = Config.fromfile(osp.join(
        ROOT, 'configs', 'detco', 'ablations', 'detco-hic-w0001_resnet50_8xb32-coslr-100e_in1k.py'
    )).model
    assert (reduced.neck.with_local, table_1a.neck.with_local) == (False, False)
    assert reduced.head.contrasts == table_1a.head.contrasts
    assert reduced.head.loss_weights == table_1a.head.loss_weights
