# Copyright (c) detco_mm contributors. All rights reserved.
import contextlib
import fcntl
import functools
import glob
import importlib.util
import logging
import os
import os.path as osp
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import detco_mm  # noqa: F401  (registers the modules, repairs mmselfsup's registries)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(ROOT, 'configs', 'detco', 'detco_resnet18_1xb4-coslr-2e_tiny.py')
# The same config for mmpretrain (every config of configs/detco/ has such a twin)
TINY_MMPRETRAIN = osp.join(ROOT, 'configs', 'detco_mmpretrain',
                           'detco_resnet18_1xb4-coslr-2e_tiny_mmpretrain.py')
# The shared tiny runs of both faces start from it: their losses are compared step by step.
SHARED_RUN_SEED = 'randomness.seed=2026'

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two pytest-xdist workers on CI's 2 cores: one torch thread per worker
    # (and per training it starts, through the environment), not two threads each on one core.
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """Tests marked ``slow(SECONDS)`` (real trainings) first, longest first, so that the
    workers of ``make test`` finish together instead of one starting a long run at the end."""
    def seconds(item):
        marker = item.get_closest_marker('slow')
        return marker.args[0] if marker else 0
    items.sort(key=seconds, reverse=True)


def shared_dir(tmp_path_factory, name: str, make) -> Path:
    """A folder ``name`` that ``make(folder)`` fills ONCE per test session, also when
    pytest-xdist workers ask for it at the same time (the first one makes it under a lock,
    the others wait and reuse it): session fixtures of xdist are per worker otherwise."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        base = base.parent  # the session's folder, shared by its workers
    folder = base / f'shared_{name}'
    with open(base / f'shared_{name}.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / '.complete').is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / '.complete').touch()
    return folder


def copy_run(work_dir, dest) -> Path:
    """A copy of the (shared) run ``work_dir`` in ``dest``, to ``--resume`` there: its
    ``last_checkpoint`` names the copied checkpoint, not the shared one."""
    shutil.copytree(work_dir, dest, dirs_exist_ok=True)
    last = Path(dest) / 'last_checkpoint'
    last.write_text(str(Path(dest) / osp.basename(last.read_text())))
    return Path(dest)


@functools.lru_cache(maxsize=None)
def tool(path: str):
    """The module of the script ``tools/PATH``, imported once per test process, so a test
    calls its ``main(argv)`` here instead of paying ~13 s of imports in a new Python."""
    script = osp.join(ROOT, 'tools', path)
    if osp.dirname(script) not in sys.path:  # as for a script: its folder's modules import
        sys.path.insert(0, osp.dirname(script))
    spec = importlib.util.spec_from_file_location('tool_' + path.replace('/', '_')[:-3], script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(path: str, *args, capsys) -> tuple:
    """``tools/PATH ARGS`` in this process: (exit status, stdout, stderr) as a command line
    would give them (a ``SystemExit`` message is printed to stderr, as Python does)."""
    module, argv = tool(path), [str(a) for a in args]
    capsys.readouterr()
    saved, sys.argv = sys.argv, [module.__file__, *argv]  # argparse names the program by it
    try:
        module.main(argv)
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
        if exit.code is not None and not isinstance(exit.code, int):
            print(exit.code, file=sys.stderr)
    finally:
        sys.argv = saved
    out, err = capsys.readouterr()
    return code, out, err


@contextlib.contextmanager
def warnings_logged():
    """The messages of the WARNING records that the current mmengine logger gets meanwhile."""
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture(autouse=True)
def mmselfsup_scope():
    """Build from mmselfsup's registries, as the configs' ``default_scope`` does."""
    init_default_scope('mmselfsup')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    """8 generated multi-object JPEGs in the ImageNet layout the configs read."""
    def make(out):
        subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'data',
                                                 'make_synthetic_images.py'),
                        '--out', str(out), '--num', '8', '--size', '128'], check=True,
                       stdout=subprocess.DEVNULL)
    return str(shared_dir(tmp_path_factory, 'synthetic', make)) + '/'


@pytest.fixture
def tiny_cfg() -> Config:
    """The tiny test config (inherits the real DetCo config)."""
    return Config.fromfile(TINY_CONFIG)


def mim_train_process(package: str, config: str, work_dir, *args,
                      cfg_options=()) -> subprocess.CompletedProcess:
    """Run ``mim train PACKAGE CONFIG`` from the repository root, whatever its exit status."""
    mim = shutil.which('mim', path=osp.dirname(sys.executable)) or shutil.which('mim')
    cmd = [mim, 'train', package, config, '--work-dir', str(work_dir), *args]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


def mim_train(package: str, config: str, work_dir, *args, cfg_options=()) -> str:
    """Run ``mim train PACKAGE CONFIG`` from the repository root; return its output."""
    proc = mim_train_process(package, config, work_dir, *args, cfg_options=cfg_options)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def train_in_process(config: str, work_dir, cfg_options=()) -> str:
    """``Runner.from_cfg(config + cfg_options).train()`` in this process, as mmselfsup's
    train.py runs it; returns the run's log. For tests of what happens in a run: the command
    line itself is tested through ``mim_train``, which costs ~15 s more per run (a new Python
    importing torch and the toolboxes). Exceptions of the run propagate."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict({key: DictAction._parse_iterable(value)
                         for key, value in (option.split('=', 1) for option in cfg_options)})
    # mmengine keeps loggers and visualizers by name: a name per run, or a second run in this
    # process would write into the first one's log and scalars.json
    cfg.experiment_name = cfg.visualizer.name = f'run_{osp.basename(str(work_dir))}_{id(cfg)}'
    cfg.work_dir = str(work_dir)
    Runner.from_cfg(cfg).train()
    return '\n'.join(open(log).read() for log in sorted(glob.glob(f'{work_dir}/*/*.log')))


def tiny_pretrain_options(data_root: str, max_epochs: int) -> list:
    """--cfg-options for a short, single-process run of the tiny DetCo config."""
    return [f'train_dataloader.dataset.data_root={data_root}', f'train_cfg.max_epochs={max_epochs}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False']


TINY_KNN_CONFIG = '''
_base_ = {base!r}
knn_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmcls.ResizeEdge', scale=40, edge='short', backend='pillow'),
    dict(type='mmcls.CenterCrop', crop_size=32),
    dict(type='PackSelfSupInputs', meta_keys=['img_path'])
]
custom_hooks = [
    dict(type='QueueBatchCheckHook'),
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='PerStageKNNHook', interval=1, k=3,
         train_dataloader=dict(batch_size=3, num_workers=0, dataset=dict(
             type='mmcls.ImageNet', data_root={root!r}, ann_file={ann!r},
             data_prefix='train/', pipeline=knn_pipeline,
             _scope_='mmselfsup')))  # the pipeline's names, also under the mmpretrain face
]
'''


def tiny_knn_config(tmp_path, data_root: str, ann_file: str = 'meta/train.txt',
                    base: str = TINY_CONFIG) -> str:
    """The tiny config (``base``: of either face) plus a ``PerStageKNNHook`` on the labelled
    images of ``data_root`` (32 px centre crops, k=3, every epoch); returns the config's path."""
    config = tmp_path / 'tiny_knn.py'
    config.write_text(TINY_KNN_CONFIG.format(base=base, root=data_root, ann=ann_file))
    return str(config)


@pytest.fixture(scope='session')
def tiny_pretrain_dir(tmp_path_factory, synthetic_root):
    """Work dir of ONE tiny pretraining run (1 epoch, 2 steps) shared by every test that only
    needs a real checkpoint, log and scalars.json: ``epoch_1.pth``, ``*/vis_data/scalars.json``.
    Tests that write into a work dir (e.g. ``--resume``) run their own."""
    return shared_dir(tmp_path_factory, 'tiny_pretrain', lambda work_dir: mim_train(
        'mmselfsup', TINY_CONFIG, work_dir,
        cfg_options=[*tiny_pretrain_options(synthetic_root, 1), SHARED_RUN_SEED]))


def needs_mmpretrain():
    """Skip, saying why, where the mmpretrain backend is not installed."""
    if importlib.util.find_spec('mmpretrain') is None:
        pytest.skip('mmpretrain is not installed; `DETCO_BACKENDS=mmselfsup,mmpretrain bash '
                    'tools/setup_env.sh` (or `make test`) installs it')


@pytest.fixture(scope='session')
def mmpretrain_pretrain_dir(tmp_path_factory, synthetic_root):
    """``tiny_pretrain_dir`` of the mmpretrain face: ``mim train mmpretrain``, the same seed."""
    needs_mmpretrain()
    work_dir = shared_dir(tmp_path_factory, 'tiny_mmpretrain', lambda work_dir: mim_train(
        'mmpretrain', TINY_MMPRETRAIN, work_dir,
        cfg_options=[*tiny_pretrain_options(synthetic_root, 1), SHARED_RUN_SEED]))
    # per-term values are in scalars.json (the console shows per-contrast sums)
    assert 'loss_l2g_res5' in next(work_dir.glob('*/vis_data/scalars.json')).read_text()
    return work_dir


@pytest.fixture(scope='session')
def tiny_backbone(tmp_path_factory, tiny_pretrain_dir) -> str:
    """The backbone of the tiny pretraining run, converted for mmdet (detco_to_backbone.py)."""
    def make(out):  # in this process: the command line is tested in test_converters.py
        tool('model_converters/detco_to_backbone.py').main(
            [str(tiny_pretrain_dir / 'epoch_1.pth'), str(out / 'detco_r18_backbone.pth')])
    return str(shared_dir(tmp_path_factory, 'tiny_backbone', make) / 'detco_r18_backbone.pth')


def installed_faces() -> dict:
    """Toolbox -> tiny config of every installed face: mmselfsup's, and mmpretrain's where it
    is installed (`make test` installs it), for tests that run each face's command line."""
    faces = {'mmselfsup': TINY_CONFIG}
    if importlib.util.find_spec('mmpretrain') is not None:
        faces['mmpretrain'] = TINY_MMPRETRAIN
    return faces


def skip_untested_faces(faces) -> None:
    """At the end of a test that ran every face in ``faces``: skip, saying which faces passed
    and why the others were not run, where a face was not installed."""
    if 'mmpretrain' not in faces:
        pytest.skip(f'passed on {", ".join(faces)}; mmpretrain face not tested: not installed')
