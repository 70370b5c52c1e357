# Copyright (c) detco_mm contributors. All rights reserved.
"""Every way a checkpoint enters the project is weights-only: a crafted file whose unpickling
would run a shell command (it creates a marker file) is refused with a clear error, and the
marker never appears -- also with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which turns off
torch's weights-only default for every ``torch.load`` that does not ask for it explicitly."""
import importlib
import os
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from conftest import ROOT, TINY_CONFIG, run_tool

UNSAFE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
DET_CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'mmdetection', 'coco',
                      'mask-rcnn_r50_fpn_ms-1x_coco.py')
CLS_BENCH = osp.join(ROOT, 'configs', 'benchmarks', 'classification')
# How each format of crafted file is refused (part of the one error line).
REFUSALS = {'torch_zip': 'refused it, it holds a posix.system object; nothing in it was run',
            'pickle': 'refused by torch.load(weights_only=True), nothing in it was run'}


class RunsCode:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture(params=sorted(REFUSALS))
def crafted(request, tmp_path, monkeypatch):
    """(file, marker, expected refusal): a DetCo-looking checkpoint (torch.save zip), or a
    plain pickle, that runs a command when fully unpickled."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / f'{request.param}.pth'
    checkpoint = {'meta': {'epoch': 1}, 'message_hub': RunsCode(marker),
                  'state_dict': {'neck.global_mlps.0.0.weight': torch.zeros(1),
                                 'backbone.conv1.weight': RunsCode(marker)}}
    if request.param == 'torch_zip':
        torch.save(checkpoint, path)
    else:
        with open(path, 'wb') as f:
            pickle.dump(checkpoint, f)
    monkeypatch.setenv(UNSAFE_ENV, '1')  # this process, and the command lines below
    yield str(path), marker, REFUSALS[request.param]
    assert not marker.exists(), 'the crafted checkpoint ran its code'


def test_the_crafted_file_would_run_code(crafted):
    """The checks below can fail: a full unpickling does run the code."""
    path, marker, _ = crafted
    try:
        torch.load(path, weights_only=False)
    except RuntimeError:  # the plain pickle: torch runs it, then finds no magic number
        pass
    assert marker.exists()
    marker.unlink()


# The tools run in this process (``main(argv)``, as their command line calls it): the
# environment variable above is read by torch at each load, here as in a new process.
@pytest.mark.parametrize('script', ['detco_to_backbone.py', 'detco_to_torchvision.py',
                                    'detco_to_detectron2.py'])
def test_converters(crafted, script, tmp_path, capsys):
    path, _, refusal = crafted
    code, _, err = run_tool(f'model_converters/{script}', path, tmp_path / 'out.pkl',
                            capsys=capsys)
    assert code != 0 and refusal in err and len(err.strip().splitlines()) == 1, err


# The format matters for the message only (checked above): the slower cases take the zip.
@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('script, args', [
    ('analysis/similarity_stats.py', [TINY_CONFIG, '{path}', '--data-root', '{data}']),
    ('benchmarks/pretrain_cfg_options.py', [DET_CONFIG, '{path}'])])
def test_analysis_and_benchmark_tools(crafted, script, args, synthetic_root, capsys):
    path, _, _ = crafted
    code, _, err = run_tool(script, *[a.format(path=path, data=synthetic_root) for a in args],
                            capsys=capsys)
    assert code != 0 and 'weights_only' in err, err


@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
def test_runner_load_from_and_resume(crafted, resume, tmp_path, synthetic_root):
    path, _, refusal = crafted
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': synthetic_root,
                         'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'work_dir': str(tmp_path / 'work'), 'load_from': path,
                         'resume': resume})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(Exception, match=re.escape(refusal)):
        runner.train()


@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('config', [
    DET_CONFIG,  # mmdet
    osp.join(CLS_BENCH, 'imagenet', 'resnet50_linear-8xb32-steplr-100e_in1k.py'),  # mmcls
    osp.join(CLS_BENCH, 'voc07', 'resnet50_svm-res2-res5_voc07.py'),  # mmselfsup
], ids=['mmdet', 'mmcls', 'mmselfsup'])
def test_backbone_init_of_the_benchmark_configs(crafted, config):
    path, _, refusal = crafted
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = path
    # as the toolbox's train.py does: its modules registered, its scope the default
    importlib.import_module(f'{cfg.default_scope}.utils').register_all_modules(False)
    init_default_scope(cfg.default_scope)
    model = importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)
    with pytest.raises(Exception, match=re.escape(refusal)):
        model.init_weights()
