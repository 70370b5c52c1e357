# Copyright (c) detco_mm contributors. All rights reserved.
"""The wheel carries what mim and mmengine look for in an installed OpenMMLab package: the
configs, tools and model index under detco_mm/.mim; and mim finds them once installed."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT


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
                 'detco_ckpt/__init__.py', 'detco_mm/__init__.py',
                 'detco_mm-0.1.0.dist-info/licenses/LICENSE'):
        assert path in names, path
    metadata = zipfile.ZipFile(wheel).read('detco_mm-0.1.0.dist-info/METADATA').decode()
    requires = [line.split(': ', 1)[1] for line in metadata.splitlines()
                if line.startswith('Requires-Dist: ') and 'extra ==' not in line]
    assert 'openmim' in requires and 'torch>=2.1' in requires


@pytest.mark.e2e
@pytest.mark.slow(20)
def test_installed_wheel_from_another_directory(wheel, tmp_path):
    """Installed (without dependencies, they are this environment's) into a folder first on
    the path: mim lists the configs, and the installed config path parses in another cwd."""
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target',
                    str(site), wheel], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=str(site),
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    search = subprocess.run([mim, 'search', 'detco_mm'], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert search.returncode == 0, search.stdout + search.stderr
    assert 'detco_resnet50_8xb32-coslr-200e_in1k' in search.stdout
    assert 'detco_resnet18_1xb4-coslr-2e_tiny' in search.stdout
    code = ('import os, detco_mm; from mmengine.config import Config; '
            'root = os.path.join(os.path.dirname(detco_mm.__file__), ".mim", "configs"); '
            'print(detco_mm.__file__); '
            'print(Config.fromfile(os.path.join(root, "demo", '
            '"mask-rcnn_r18_fpn_tiny_synthetic.py")).model.backbone.depth)')
    parsed = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.split() == [str(site / 'detco_mm' / '__init__.py'), '18']
