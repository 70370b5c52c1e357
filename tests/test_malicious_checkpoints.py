# Copyright (c) detco_mm contributors. All rights reserved.
"""Every way a checkpoint enters the project is weights-only: a crafted file whose unpickling
would run a shell command (it creates a marker file) is refused with a clear error, and the
marker never appears -- also with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which turns off
torch's weights-only default for every ``torch.load`` that does not ask for it explicitly."""
import importlib
import json
import os
import os.path as osp
import pickle
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mm_checkpoint

from conftest import ROOT, TINY_CONFIG, run_tool
from detco_ckpt import CheckpointError

UNSAFE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
DET_CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'mmdetection', 'coco',
                      'mask-rcnn_r50_fpn_ms-1x_coco.py')
CLS_BENCH = osp.join(ROOT, 'configs', 'benchmarks', 'classification')
# How each format of crafted file is refused (part of the one error line).
REFUSALS = {'torch_zip': 'refused it, it holds a posix.system object; nothing in it was run',
            'pickle': 'refused by torch.load(weights_only=True), nothing in it was run'}
# Where a URL's file sits: torch hub's cache, as mmengine's load_from_http and
# torch.hub.load_state_dict_from_url find it without downloading.
URL = 'https://example.invalid/models/{name}'


class RunsCode:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


@pytest.fixture(params=['unsafe_env', 'default_env'])
def torch_env(request, monkeypatch):
    """With ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (this process, and the command lines
    below), every ``torch.load`` that does not ask for weights_only unpickles fully."""
    if request.param == 'unsafe_env':
        monkeypatch.setenv(UNSAFE_ENV, '1')
    else:
        monkeypatch.delenv(UNSAFE_ENV, raising=False)
    return request.param


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """torch hub's cache folder of checkpoints in ``tmp_path``; any download fails the test."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))

    def download(url, *args, **kwargs):
        raise AssertionError(f'{url} was to be read from the cache, not downloaded')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    cache = Path(torch.hub.get_dir()) / 'checkpoints'
    cache.mkdir(parents=True)
    return cache


def put_in_cache(path: str, url: str, cache: Path) -> str:
    """Copy ``path`` to where torch hub caches ``url``; returns ``url``."""
    shutil.copy(path, cache / osp.basename(urlparse(url).path))
    return url


@pytest.fixture(params=sorted(REFUSALS))
def crafted(request, tmp_path, torch_env):
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
    yield str(path), marker, REFUSALS[request.param]
    assert not marker.exists(), 'the crafted checkpoint ran its code'


@pytest.fixture(params=['path', 'file_url', 'http_url'])
def source(request, crafted, hub_cache):
    """(how the crafted file is named, marker, refusal): its path, a ``file://`` URL, or an
    ``https://`` URL whose file is in torch hub's cache."""
    path, marker, refusal = crafted
    name = {'path': path, 'file_url': Path(path).as_uri(),
            'http_url': put_in_cache(path, URL.format(name=osp.basename(path)), hub_cache)}
    return name[request.param], marker, refusal


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
def test_converters(source, script, tmp_path, capsys):
    path, _, refusal = source
    code, _, err = run_tool(f'model_converters/{script}', path, tmp_path / 'out.pkl',
                            capsys=capsys)
    assert code != 0 and refusal in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / 'out.pkl').exists()


# The format matters for the message only (checked above): the slower cases take the zip.
@pytest.mark.parametrize('torch_env', ['unsafe_env'], indirect=True)
@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('script, args', [
    ('analysis/similarity_stats.py', [TINY_CONFIG, '{path}', '--data-root', '{data}']),
    ('benchmarks/pretrain_cfg_options.py', [DET_CONFIG, '{path}'])])
def test_analysis_and_benchmark_tools(source, script, args, synthetic_root, capsys):
    path, _, refusal = source
    code, _, err = run_tool(script, *[a.format(path=path, data=synthetic_root) for a in args],
                            capsys=capsys)
    assert code != 0 and refusal in err, err


# Through mmengine's CheckpointLoader, which every load of mmengine, mmdet, mmcls and
# mmselfsup goes through: each scheme that resolves to a download reads torch hub's cache.
@pytest.mark.parametrize('scheme, name', [
    ('torchvision://', 'resnet50'), ('modelzoo://', 'resnet50'), ('mmcls://', 'vgg11'),
    ('open-mmlab://', 'detectron2/resnet50_caffe')])
def test_mmengine_url_schemes(crafted, scheme, name, hub_cache):
    path, _, refusal = crafted
    tables = {'torchvision://': mm_checkpoint.get_torchvision_models,
              'modelzoo://': mm_checkpoint.get_torchvision_models,
              'mmcls://': mm_checkpoint.get_mmcls_models,
              'open-mmlab://': mm_checkpoint.get_external_models}
    url = put_in_cache(path, tables[scheme]()[name], hub_cache)
    with pytest.raises(CheckpointError, match=re.escape(refusal)) as error:
        mm_checkpoint.CheckpointLoader.load_checkpoint(scheme + name)
    assert str(error.value).startswith(f'{url} ({hub_cache}/')


@pytest.mark.parametrize('source', ['path', 'file_url', 'http_url'], indirect=True)
def test_mmengine_loader(source):
    path, _, refusal = source
    with pytest.raises(CheckpointError, match=re.escape(refusal)):
        mm_checkpoint.CheckpointLoader.load_checkpoint(path)


def test_open_mmlab_name_of_a_local_file(crafted, tmp_path, monkeypatch):
    """open-mmlab:// names that ~/.cache/mmengine/open_mmlab.json maps to a file there."""
    path, _, refusal = crafted
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine_home'))
    home = Path(mm_checkpoint._get_mmengine_home())
    (home / 'open_mmlab.json').write_text(json.dumps({'detco_test': 'detco_test.pth'}))
    shutil.copy(path, home / 'detco_test.pth')
    with pytest.raises(CheckpointError, match=re.escape(refusal)):
        mm_checkpoint.CheckpointLoader.load_checkpoint('open-mmlab://detco_test')


@pytest.mark.parametrize('url', ['pavi://model/1', 's3://bucket/x.pth',
                                 'open-mmlab:s3://bucket/x.pth', 'petrel://bucket/x.pth'])
def test_other_stores_are_refused(url):
    with pytest.raises(CheckpointError, match=re.escape(
            f'{url}: detco_mm reads no checkpoint of this store')):
        mm_checkpoint.CheckpointLoader.load_checkpoint(url)


# The Runner and the models (~10 s each): the unsafe environment (the one that matters), the
# zip format, and each way in once, as every source reaches the loader tested above.
@pytest.mark.parametrize('torch_env', ['unsafe_env'], indirect=True)
@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('how, source', [
    ('load_from', 'path'), ('load_from', 'http_url'), ('resume', 'file_url'),
    ('last_checkpoint', 'http_url')], indirect=['source'])
def test_runner_load_from_and_resume(source, how, tmp_path, synthetic_root):
    """``load_from=FILE``, ``resume=True`` with ``load_from=FILE``, and ``--resume`` alone
    with ``WORK_DIR/last_checkpoint`` naming the file."""
    path, _, refusal = source
    work_dir = tmp_path / 'work'
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': synthetic_root,
                         'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'work_dir': str(work_dir), 'resume': how != 'load_from',
                         'load_from': None if how == 'last_checkpoint' else path})
    if how == 'last_checkpoint':
        work_dir.mkdir()
        (work_dir / 'last_checkpoint').write_text(path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(CheckpointError, match=re.escape(refusal)):
        runner.train()


@pytest.mark.parametrize('torch_env', ['unsafe_env'], indirect=True)
@pytest.mark.parametrize('crafted', ['torch_zip'], indirect=True)
@pytest.mark.parametrize('config, source', [
    (DET_CONFIG, 'path'), (DET_CONFIG, 'http_url'),  # mmdet
    (osp.join(CLS_BENCH, 'imagenet', 'resnet50_linear-8xb32-steplr-100e_in1k.py'),
     'file_url'),  # mmcls
    (osp.join(CLS_BENCH, 'voc07', 'resnet50_svm-res2-res5_voc07.py'), 'http_url'),  # mmselfsup
], ids=['mmdet-path', 'mmdet-http_url', 'mmcls-file_url', 'mmselfsup-http_url'],
    indirect=['source'])
def test_backbone_init_of_the_benchmark_configs(source, config):
    path, _, refusal = source
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = path
    # as the toolbox's train.py does: its modules registered, its scope the default
    importlib.import_module(f'{cfg.default_scope}.utils').register_all_modules(False)
    init_default_scope(cfg.default_scope)
    model = importlib.import_module(f'{cfg.default_scope}.registry').MODELS.build(cfg.model)
    with pytest.raises(CheckpointError, match=re.escape(refusal)):
        model.init_weights()
