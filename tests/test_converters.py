# Copyright (c) detco_mm contributors. All rights reserved.
"""tools/model_converters: a DetCo checkpoint to mmdet, torchvision and detectron2 weights."""
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmselfsup.registry import MODELS

import detco_mm  # noqa: F401  registers DetCo
from conftest import tool

REPO = Path(__file__).resolve().parents[1]
CONVERTERS = REPO / 'tools' / 'model_converters'
# The converters are scripts (next to their shared ``_detco_ckpt`` module), called by main(argv).
detco_to_backbone = tool('model_converters/detco_to_backbone.py')
detco_to_detectron2 = tool('model_converters/detco_to_detectron2.py')
detco_to_torchvision = tool('model_converters/detco_to_torchvision.py')

R50_TENSORS = 318  # torchvision resnet50().state_dict() without fc.weight and fc.bias

# detectron2 name -> mmselfsup name, written out from MoCo's convert-pretrain-to-detectron2.py.
DETECTRON2_NAMES = {
    'stem.conv1.weight': 'conv1.weight',
    'stem.conv1.norm.running_mean': 'bn1.running_mean',
    'res2.0.shortcut.weight': 'layer1.0.downsample.0.weight',
    'res2.0.shortcut.norm.weight': 'layer1.0.downsample.1.weight',
    'res3.3.conv2.weight': 'layer2.3.conv2.weight',
    'res4.5.conv1.norm.running_var': 'layer3.5.bn1.running_var',
    'res5.2.conv3.norm.bias': 'layer4.2.bn3.bias',
}


@pytest.fixture(scope='module')
def detco_r50(tmp_path_factory):
    """A randomly initialised DetCo ResNet-50 checkpoint and its state_dict."""
    cfg = Config.fromfile(REPO / 'configs/detco/detco_resnet50_8xb32-coslr-200e_in1k.py')
    # The converters read the ResNet only; small queues and MLPs keep the file at ~200 MB.
    cfg.model.head.queue_len = 256
    cfg.model.neck.hid_channels = 16
    with DefaultScope.overwrite_default_scope('mmselfsup'):
        state_dict = MODELS.build(cfg.model).state_dict()
    # A fresh key encoder is a copy of the query encoder; shift it so the two differ.
    for key, value in state_dict.items():
        if key.startswith('encoder_k.module.backbone.') and value.is_floating_point():
            value.add_(1)
    path = tmp_path_factory.mktemp('detco') / 'epoch_1.pth'
    torch.save({'meta': {'epoch': 1, 'iter': 10}, 'state_dict': state_dict}, path)
    return path, state_dict


def backbone_of(state_dict: dict, prefix: str = 'backbone.') -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def test_backbone_loads_into_mmdet_resnet50(detco_r50, tmp_path):
    path, state_dict = detco_r50
    out = tmp_path / 'detco_r50.pth'
    detco_to_backbone.main([str(path), str(out)])
    # The backbone of mmdet's Mask R-CNN / RetinaNet R-50 configs, with SyncBN as in the
    # paper's fine-tuning (it builds on CPU; only its forward needs a process group).
    resnet = MMDET_MODELS.build(dict(
        type='mmdet.ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
        frozen_stages=-1, norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False,
        style='pytorch', init_cfg=dict(type='Pretrained', checkpoint=str(out))))
    assert isinstance(resnet.bn1, torch.nn.SyncBatchNorm)
    resnet.init_weights()

    converted = torch.load(out, weights_only=True)['state_dict']
    loaded = resnet.state_dict()
    # Same key sets: PretrainedInit (strict=False) had nothing missing and nothing unexpected.
    assert set(converted) == set(loaded)
    assert len(loaded) == R50_TENSORS
    query = backbone_of(state_dict)
    for key, value in loaded.items():
        assert torch.equal(value, query[key]), key


def test_torchvision_strict_load(detco_r50, tmp_path, capsys):
    path, state_dict = detco_r50
    out = tmp_path / 'detco_r50_tv.pth'
    detco_to_torchvision.main([str(path), str(out)])
    assert 'torchvision.models.resnet50()' in capsys.readouterr().out

    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()  # DetCo trains no classifier; the docstring says the same
    model.load_state_dict(torch.load(out, weights_only=True), strict=True)
    query = backbone_of(state_dict)
    for key, value in model.state_dict().items():
        assert torch.equal(value, query[key]), key


def test_detectron2_names(detco_r50, tmp_path):
    path, state_dict = detco_r50
    out = tmp_path / 'detco_r50.pkl'
    detco_to_detectron2.main([str(path), str(out)])
    with open(out, 'rb') as file:
        d2 = pickle.load(file, encoding='latin1')  # as detectron2's Checkpointer reads it

    assert d2['__author__'] == 'detco_mm' and d2['matching_heuristics'] is True
    model = d2['model']
    assert len(model) == R50_TENSORS
    assert all(isinstance(v, np.ndarray) for v in model.values())
    assert all(k.startswith(('stem.', 'res2.', 'res3.', 'res4.', 'res5.')) for k in model)
    assert not [k for k in model if 'layer' in k or 'downsample' in k or '.bn' in k]
    query = backbone_of(state_dict)
    for d2_name, name in DETECTRON2_NAMES.items():
        np.testing.assert_array_equal(model[d2_name], query[name].numpy())


def test_momentum_encoder_option(detco_r50, tmp_path):
    path, state_dict = detco_r50
    out = tmp_path / 'detco_r50_k.pth'
    detco_to_backbone.main([str(path), str(out), '--momentum-encoder'])
    converted = torch.load(out, weights_only=True)

    assert converted['meta']['encoder'] == 'encoder_k.module.backbone.'
    key_encoder = backbone_of(state_dict, 'encoder_k.module.backbone.')
    assert set(converted['state_dict']) == set(key_encoder)
    for key, value in converted['state_dict'].items():
        assert torch.equal(value, key_encoder[key]), key
    assert not torch.equal(converted['state_dict']['conv1.weight'],
                           state_dict['backbone.conv1.weight'])


def write_random_bytes(path: Path, _) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def write_truncated(path: Path, detco_path: Path) -> None:
    with open(detco_path, 'rb') as file:
        path.write_bytes(file.read(1 << 20))


def write_torchvision(path: Path, _) -> None:
    torch.save(torchvision.models.resnet18().state_dict(), path)


def write_moco(path: Path, _) -> None:
    # mmselfsup MoCo: one backbone and one neck MLP, no DetCoNeck.global_mlps.
    state_dict = {'backbone.conv1.weight': torch.zeros(64, 3, 7, 7),
                  'neck.mlp.0.weight': torch.zeros(2048, 2048), 'head.queue': torch.zeros(1)}
    torch.save({'meta': {'epoch': 1}, 'state_dict': state_dict}, path)


def write_numpy_message_hub(path: Path) -> None:
    # What mmengine's plain CheckpointHook writes: numpy objects need full unpickling.
    torch.save({'state_dict': {'neck.global_mlps.0.weight': torch.zeros(1)},
                'message_hub': {'runtime_info': {'max': np.zeros(2)}}}, path)


# Case: (script, writer of the input or None for a missing file, part of the error line).
BAD_INPUTS = {
    'missing': ('detco_to_backbone.py', None, 'no such file'),
    'random-bytes': ('detco_to_torchvision.py', write_random_bytes,
                     'not a file written by torch.save'),
    'truncated': ('detco_to_detectron2.py', write_truncated, 'truncated or corrupt checkpoint'),
    'torchvision': ('detco_to_backbone.py', write_torchvision,
                    "bare state_dict (first key 'conv1.weight')"),
    'moco': ('detco_to_torchvision.py', write_moco,
             'not a DetCo checkpoint, no neck.global_mlps.*'),
}


def run_side_by_side(commands: dict) -> dict:
    """Run the scripts as separate processes at the same time: each spends ~4 s of CPU
    importing torch, which one after the other would add ~25 s to this file."""
    procs = {case: subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for case, args in commands.items()}
    results = {}
    for case, proc in procs.items():
        stdout, stderr = proc.communicate()
        results[case] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return results


@pytest.fixture(scope='module')
def cli_runs(detco_r50, tmp_path_factory):
    """Each BAD_INPUTS case, and one good conversion ('convert'), run from the command line."""
    folder = tmp_path_factory.mktemp('cli')
    commands = {'convert': [CONVERTERS / 'detco_to_detectron2.py', detco_r50[0],
                            folder / 'convert' / 'out.pkl', '--momentum-encoder']}
    for case, (script, writer, _) in BAD_INPUTS.items():
        bad = folder / f'{case}.pth'
        if writer is not None:
            writer(bad, detco_r50[0])
        commands[case] = [CONVERTERS / script, bad, folder / f'{case}.out.pkl']
    return folder, run_side_by_side(commands)


@pytest.mark.e2e
def test_cli_writes_and_reports(cli_runs):
    folder, results = cli_runs
    result = results['convert']
    out = folder / 'convert' / 'out.pkl'
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f'Wrote {R50_TENSORS} arrays of encoder_k.module.backbone.* to {out}')
    assert out.is_file()


def test_unsafe_pickle_is_refused_not_unpickled(tmp_path, capsys):
    # In-process, as the subprocess cases below cost ~4 s each; main() is the command line.
    bad = tmp_path / 'plain_mmengine.pth'
    write_numpy_message_hub(bad)
    with pytest.raises(SystemExit) as exit_info:
        detco_to_backbone.main([str(bad), str(tmp_path / 'out.pth')])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1
    # argparse names the program after sys.argv[0], which is pytest's here.
    assert f': error: {bad}: torch.load(weights_only=True) refused it, it holds a numpy.' in err
    assert 'WeightsOnlyCheckpointHook' in err


@pytest.mark.e2e
@pytest.mark.parametrize('case', BAD_INPUTS)
def test_not_detco_gives_one_error_line(case, cli_runs):
    folder, results = cli_runs
    script, _, message = BAD_INPUTS[case]
    result = results[case]
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f'{script}: error: {folder / case}.pth: '), lines[0]
    assert message in lines[0], lines[0]
    assert result.stdout == '' and not (folder / f'{case}.out.pkl').exists()
