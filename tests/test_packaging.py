# Copyright (c) detco_mm contributors. All rights reserved.
"""The wheel carries what mim and mmengine look for in an installed OpenMMLab package: the
configs, tools and model index under detco_mm/.mim; and mim finds them once installed."""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import zipfile
from unittest import mock

import pytest
import torch
import yaml
from mmengine.config import Config

from conftest import ROOT, needs_mmpretrain, tiny_pretrain_options


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """``pip wheel .`` of a copy of the working tree (the build writes build/ and *.egg-info
    next to the sources)."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp / 'src'
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.git', '.venv', 'work_dirs', 'data', 'build', '*.egg-info', '__pycache__',
        '.pytest_cache'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', str(src), '-w', str(tmp / 'dist')], check=True, capture_output=True)
    return glob.glob(str(tmp / 'dist' / 'detco_mm-*.whl'))[0]


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = [osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.*'),
                                                        recursive=True)]
    assert configs and all(f'detco_mm/.mim/{path}' in names for path in configs)
    for path in ('detco_mm/.mim/model-index.yml', 'detco_mm/.mim/tools/train.py',
                 'detco_mm/.mim/tools/model_converters/detco_to_backbone.py',
                 'detco_mm/.mim/tools/benchmarks/mim_dist_train_mmdet.sh',
                 # the benchmark scripts' shared module, imported from their folder
                 'detco_mm/.mim/tools/benchmarks/_bench.py',
                 'detco_ckpt/__init__.py', 'detco_mm/__init__.py',
                 'detco_mm-0.1.0.dist-info/licenses/LICENSE'):
        assert path in names, path
    metadata = zipfile.ZipFile(wheel).read('detco_mm-0.1.0.dist-info/METADATA').decode()
    requires = [line.split(': ', 1)[1] for line in metadata.splitlines()
                if line.startswith('Requires-Dist: ') and 'extra ==' not in line]
    assert 'openmim' in requires and 'torch>=2.1' in requires


@pytest.fixture(scope='module')
def installed(wheel, tmp_path_factory):
    """The wheel installed (without dependencies, they are this environment's) into a folder
    first on the path: (the environment to run in, an empty folder outside the repository)."""
    site = tmp_path_factory.mktemp('installed') / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target',
                    str(site), wheel], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(site),
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    return env, site


def mim_command() -> str:
    return shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')


# Not run by `mim train`: the SVM feature extractor's dataset config (its --dataset-config).
NOT_TRAINED = {'configs/benchmarks/classification/svm_voc07.py'}


def public_configs() -> list:
    """Every config a user runs: all of configs/ but the _base_ folders."""
    paths = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    return sorted({osp.relpath(p, ROOT) for p in paths if '/_base_/' not in p} - NOT_TRAINED)


def model_index() -> dict:
    """Config path -> (name, metadata with the collection's defaults) of the model index."""
    with open(osp.join(ROOT, 'model-index.yml')) as file:
        index = yaml.safe_load(file)
    models = {}
    for metafile in index['Import']:
        with open(osp.join(ROOT, metafile)) as file:
            meta = yaml.safe_load(file)
        collections = {c['Name']: c.get('Metadata', {}) for c in meta['Collections']}
        for model in meta['Models']:
            assert model['Config'] not in models, model['Config']
            models[model['Config']] = (model['Name'], {**collections[model['In Collection']],
                                                       **model.get('Metadata', {})})
    return models


def test_config_names_are_unique():
    """`mim train detco_mm NAME` refuses a name found twice in the package; every name the
    READMEs and docs/ give it is there once."""
    names = [osp.basename(p) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                                recursive=True)]
    assert len(names) > 40 and len(set(names)) == len(names)
    readmes = [osp.join(ROOT, 'README.md'), *glob.glob(osp.join(ROOT, 'docs', '*.md')),
               *glob.glob(osp.join(ROOT, 'configs', '**', 'README.md'), recursive=True)]
    command = re.compile(r'mim train detco_mm ([a-z][\w.-]*\.py)')  # not NAME.py
    used = {name for readme in readmes for name in command.findall(open(readme).read())}
    assert len(used) >= 3 and used <= set(names), used - set(names)


def test_model_index_lists_every_public_config_with_its_resources():
    """What `mim search detco_mm` shows: every config, with the processes and total batch the
    config (and its name's NxbM) trains with, and its epochs or iterations."""
    models = model_index()
    assert sorted(models) == public_configs()
    for path, (name, meta) in models.items():
        assert name == osp.basename(path)[:-len('.py')]
        # mmdet:: bases found directly, not through mmdet's ~400 metafiles (as in
        # test_benchmark_configs.py: 2.4 s per config otherwise)
        with mock.patch('mmengine.config.utils._get_cfg_metainfo', side_effect=ValueError):
            cfg = Config.fromfile(osp.join(ROOT, path))
        processes = int(meta['Training Resources'].split('x ')[0])
        if 'train_cfg' not in cfg:  # the VOC07 SVM feature extraction trains nothing
            assert not meta.keys() & {'Batch Size', 'Epochs', 'Iterations'}, path
            continue
        batch = cfg.train_dataloader.batch_size
        named = re.search(r'_(\d+)xb(\d+)', name)
        if named:
            assert (processes, batch) == (int(named[1]), int(named[2])), path
        assert meta['Batch Size'] == processes * batch, path
        loop = cfg.train_cfg
        if 'max_epochs' in loop:
            assert meta['Epochs'] == loop.max_epochs and 'Iterations' not in meta, path
        else:
            assert meta['Iterations'] == loop.max_iters and 'Epochs' not in meta, path


@pytest.mark.e2e
@pytest.mark.slow(20)
def test_installed_wheel_from_another_directory(installed, tmp_path):
    """mim lists the configs, and the installed config path parses in another cwd."""
    env, site = installed
    search = subprocess.run([mim_command(), 'search', 'detco_mm'], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert search.returncode == 0, search.stdout + search.stderr
    for name in ('detco_resnet50_8xb32-coslr-200e_in1k', 'detco_resnet18_1xb4-coslr-2e_tiny',
                 'detco_resnet18_1xb4-coslr-2e_tiny_mmpretrain',
                 'detco-gpuaug_resnet50_8xb32-coslr-200e_in1k_mmpretrain',
                 'mocov2_resnet18_1xb32-coslr-10e_small_mmpretrain',
                 'mask-rcnn_r50_fpn_ms-1x_coco'):
        assert name in search.stdout, name
    code = ('import os, detco_mm; from mmengine.config import Config; '
            'root = os.path.join(os.path.dirname(detco_mm.__file__), ".mim", "configs"); '
            'print(detco_mm.__file__); '
            'print(Config.fromfile(os.path.join(root, "demo", '
            '"mask-rcnn_r18_fpn_tiny_synthetic.py")).model.backbone.depth); '
            # a benchmark script imports its folder's modules (as its sys.path[0])
            'import sys; sys.path.insert(0, os.path.join(root, "..", "tools", "benchmarks")); '
            'import repeat; print(os.path.realpath(repeat.__file__))')
    parsed = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.split() == [
        str(site / 'detco_mm' / '__init__.py'), '18',
        osp.realpath(site / 'detco_mm' / '.mim' / 'tools' / 'benchmarks' / 'repeat.py')]


@pytest.mark.e2e
@pytest.mark.slow(30)
@pytest.mark.parametrize('name, toolbox', [
    ('detco_resnet18_1xb4-coslr-2e_tiny.py', 'mmselfsup'),
    ('detco_resnet18_1xb4-coslr-2e_tiny_mmpretrain.py', 'mmpretrain')])
def test_mim_train_detco_mm_by_name(installed, name, toolbox, synthetic_root, tmp_path):
    """`mim train detco_mm NAME` (README, installed package) from outside the repository: mim
    finds the config by name in the installed package, its scope picks the toolbox."""
    if toolbox == 'mmpretrain':
        needs_mmpretrain()
    env, site = installed
    proc = subprocess.run(
        [mim_command(), 'train', 'detco_mm', name, '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', *tiny_pretrain_options(synthetic_root, 1)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert str(site / 'detco_mm' / '.mim' / 'configs') in log  # the installed config ran
    dumped = Config.fromfile(next((tmp_path / 'work').glob('*/vis_data/config.py')))
    assert dumped.default_scope == toolbox
    state = torch.load(tmp_path / 'work' / 'epoch_1.pth', weights_only=True)['state_dict']
    assert state['head.queue_g_ptr'].tolist() == [8] * 4  # 2 full steps of 4 images
