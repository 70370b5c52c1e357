# Copyright (c) detco_mm contributors. All rights reserved.
"""The two faces of DetCo (issue 20): the mmpretrain configs are the mmselfsup configs with
only the toolbox names changed, every name of the package is registered into both toolboxes,
and both faces build the same views, the same model and refuse the same jigsaw mismatch."""
import copy
import glob
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from mmengine.runner import set_random_seed

from conftest import ROOT, TINY_CONFIG, TINY_MMPRETRAIN, run_tool, tool
from test_throughput import TINY_MOCOV2

if importlib.util.find_spec('mmpretrain') is None:
    pytest.skip('mmpretrain is not installed; `DETCO_BACKENDS=mmselfsup,mmpretrain bash '
                'tools/setup_env.sh` (or `make test`) installs it', allow_module_level=True)

import detco_mm.backends.mmpretrain as mmpretrain_face  # noqa: E402
from detco_mm import models  # noqa: E402
from detco_mm.backends.mmselfsup import DetCo as SelfSupDetCo  # noqa: E402

SELFSUP_DIR = osp.join(ROOT, 'configs', 'detco')
PRETRAIN_DIR = osp.join(ROOT, 'configs', 'detco_mmpretrain')
# Every pretraining config has an mmpretrain twin, the mini benchmark's of configs/detco/small/
# (tools/benchmarks/mini_benchmark.py --face) too; its detection config is mmdet's.
SMALL_DETECTION = osp.join(SELFSUP_DIR, 'small', 'faster-rcnn_r18_fpn_small.py')
SELFSUP_CONFIGS = sorted(set(glob.glob(osp.join(SELFSUP_DIR, '*.py')) +
                             glob.glob(osp.join(SELFSUP_DIR, 'ablations', '*.py')) +
                             glob.glob(osp.join(SELFSUP_DIR, 'small', '*.py'))) -
                         {SMALL_DETECTION})
ABSENT = object()


def twin(selfsup_config: str) -> str:
    """configs/detco/REL.py -> configs/detco_mmpretrain/REL_mmpretrain.py"""
    rel = osp.relpath(selfsup_config, SELFSUP_DIR)
    return osp.join(PRETRAIN_DIR, rel[:-len('.py')] + '_mmpretrain.py')


def out_indices(face, stages) -> list:
    """The backbone outputs of ``stages`` (res2..res5) in the ResNet of a face's toolbox."""
    return [int(stage[3:]) - 2 + face.RES2_OUT_INDEX for stage in stages]


def face_keys(cfg: Config) -> dict:
    """Key -> (mmselfsup value, mmpretrain value): all that the two faces may differ in."""
    stages = cfg.model.head.stages
    return {
        'default_scope': ('mmselfsup', 'mmpretrain'),
        'custom_imports.imports': (['detco_mm'], ['detco_mm.backends.mmpretrain']),
        'visualizer.type': ('SelfSupVisualizer', 'UniversalVisualizer'),
        'model.backbone.out_indices': (out_indices(SelfSupDetCo, stages),
                                       out_indices(mmpretrain_face.DetCo, stages)),
        'model.head.loss.type': ('mmcls.CrossEntropyLoss', 'CrossEntropyLoss'),
        # the one pipeline: built in mmselfsup's scope for both faces
        'train_dataloader.dataset._scope_': (ABSENT, 'mmselfsup'),
    }


def pop(tree: dict, key: str):
    *parents, last = key.split('.')
    for part in parents:
        tree = tree[part]
    return tree.pop(last, ABSENT)


def test_every_pretraining_config_has_one_twin():
    twins = sorted(glob.glob(osp.join(PRETRAIN_DIR, '**', '*.py'), recursive=True))
    assert len(SELFSUP_CONFIGS) > 10
    assert twins == sorted(twin(config) for config in SELFSUP_CONFIGS)


@pytest.mark.parametrize('config', SELFSUP_CONFIGS, ids=lambda c: osp.relpath(c, SELFSUP_DIR))
def test_twin_differs_only_in_toolbox_names(config):
    """Everything resolved (model, optimizer, schedule, pipeline, hooks, runtime) is the same,
    but for the keys of ``face_keys``, each with its expected value on each face."""
    selfsup = Config.fromfile(config).to_dict()
    pretrain_cfg = Config.fromfile(twin(config))
    pretrain = pretrain_cfg.to_dict()
    for key, expected in face_keys(pretrain_cfg).items():
        assert (pop(selfsup, key), pop(pretrain, key)) == expected, key
    differing = sorted(k for k in selfsup.keys() | pretrain.keys()
                       if selfsup.get(k, ABSENT) != pretrain.get(k, ABSENT))
    assert not differing, f'{differing} differ between {config} and its twin'


def test_tiny_configs_train_at_the_same_lr():
    """The scaled lr of the tiny config (issue 20: the mmpretrain one ran at the base 0.06)."""
    base = Config.fromfile(osp.join(SELFSUP_DIR, 'detco_resnet50_8xb32-coslr-200e_in1k.py'))
    lrs = {Config.fromfile(c).optim_wrapper.optimizer.lr for c in (TINY_CONFIG, twin(TINY_CONFIG))}
    assert lrs == {base.optim_wrapper.optimizer.lr * 4 / 256}


def registered(module_dict: dict) -> dict:
    """Name -> class of what detco_mm registered into one registry."""
    return {name: cls for name, cls in module_dict.items()
            if cls.__module__.startswith('detco_mm')}


def test_every_name_is_registered_into_both_toolboxes():
    import mmpretrain.registry
    import mmselfsup.registry
    # PreciseBNHook is the mmdet configs' (`mmselfsup.PreciseBNHook`); mmpretrain's own hook
    # of that name stays its own.
    kept = {'HOOKS': {'PreciseBNHook'}}
    names = 0
    for registry in ('MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'LOG_PROCESSORS'):
        ours = registered(getattr(mmselfsup.registry, registry).module_dict)
        theirs = registered(getattr(mmpretrain.registry, registry).module_dict)
        assert theirs.keys() == ours.keys() - kept.get(registry, set()), registry
        for name, cls in ours.items():
            if name in theirs:  # the same class, or both faces (DetCo, DetCoHead) of one
                assert theirs[name] is cls or any(
                    issubclass(theirs[name], core) and issubclass(cls, core)
                    for core in (models.DetCoMixin, models.DetCoHeadMixin)), name
        names += len(ours)
    assert names >= 20


def tiny_dataset(config: str, data_root: str, **pipeline_changes):
    """The train dataset of ``config`` built in its own scope, unshuffled on ``data_root``."""
    cfg = Config.fromfile(config)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = data_root
    if pipeline_changes:
        dataset_cfg.pipeline[1].transforms[1][-1].update(pipeline_changes)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        from mmengine.registry import DATASETS
        return DATASETS.build(dataset_cfg)


def tiny_model(config: str):
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        from mmengine.registry import MODELS
        return MODELS.build(cfg.model)


def test_both_faces_read_the_same_views(synthetic_root):
    """One pipeline: for the same seed, the same views, jigsaw grid and file of each sample."""
    samples = []
    for config in (TINY_CONFIG, TINY_MMPRETRAIN):
        dataset = tiny_dataset(config, synthetic_root)
        set_random_seed(0)  # python, numpy and torch
        samples.append([dataset[i] for i in range(2)])
    for selfsup, pretrain in zip(*samples):
        assert len(selfsup['inputs']) == 4
        for a, b in zip(selfsup['inputs'], pretrain['inputs']):
            assert torch.equal(a, b)
        assert selfsup['data_samples'].img_path == pretrain['data_samples'].img_path
        assert pretrain['data_samples'].jigsaw_grid == [None, None, 3, 3]


@pytest.mark.parametrize('config', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup',
                                                                       'mmpretrain'])
def test_jigsaw_grid_mismatch_is_refused_on_both_faces(config, synthetic_root):
    """A 2x2 jigsaw for a model cut for 3x3 patches stops before the first step."""
    dataset = tiny_dataset(config, synthetic_root, grid=2, cell_size=48)
    model = tiny_model(config)
    data = model.data_preprocessor(default_collate([dataset[i] for i in range(4)]), True)
    with pytest.raises(ValueError,
                       match=r'JigsawPatches \(input view 2\) tiles it as a 2x2 grid'):
        model(**data, mode='loss') if isinstance(data, dict) else model(*data, mode='loss')


def test_gpu_aug_preprocessor_on_mmpretrain(synthetic_root):
    """The detco-gpuaug tiny twin: mmpretrain's DetCo with the package's preprocessor trains a
    step on the CPU-cropped views, with the same loss terms as the mmselfsup face."""
    config = twin(osp.join(SELFSUP_DIR, 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py'))
    model = tiny_model(config)
    assert type(model) is mmpretrain_face.DetCo
    assert type(model.data_preprocessor).__name__ == 'DetCoGPUAugDataPreprocessor'
    dataset = tiny_dataset(config, synthetic_root)
    inputs, samples = model.data_preprocessor(
        default_collate([dataset[i] for i in range(4)]), True)
    assert [tuple(x.shape[-2:]) for x in inputs] == [(64, 64)] * 2 + [(72, 72)] * 2
    losses = model(inputs, samples, mode='loss')
    assert len([k for k in losses if k.startswith('loss_')]) == 12
    assert all(torch.isfinite(v) for v in losses.values())


def test_similarity_stats_on_an_mmpretrain_config(synthetic_root, tmp_path, capsys):
    checkpoint = tmp_path / 'detco.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': tiny_model(TINY_MMPRETRAIN).state_dict()},
               checkpoint)
    out = tmp_path / 'stats.json'
    code, stdout, err = run_tool('analysis/similarity_stats.py', TINY_MMPRETRAIN, checkpoint,
                                 '--data-root', synthetic_root, '--num-batches', 1,
                                 '--batch-size', 2, '--out', out, capsys=capsys)
    assert code == 0, err[-3000:]
    assert 'res5   l2g' in stdout and out.is_file()


def test_throughput_on_mmpretrain_configs(synthetic_root, tmp_path, capsys):
    """The DetCo and gpu-aug configs of the mmpretrain face against mmselfsup's MoCo v2."""
    gpuaug = twin(osp.join(SELFSUP_DIR, 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py'))
    mocov2 = tmp_path / 'mocov2_r18.py'
    mocov2.write_text(TINY_MOCOV2)
    code, out, err = run_tool('benchmarks/throughput.py', synthetic_root, '--mocov2-config',
                              mocov2, '--configs', TINY_MMPRETRAIN, gpuaug, '--modes', 'data',
                              '--batch', 2, '--workers', 0, '--rounds', 1, '--iters', 1,
                              capsys=capsys)
    assert code == 0, err[-3000:]
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    rates = [float(v) for v in rows['data']]  # the last line starting with 'data'
    assert len(rates) == 5 and all(r > 0 for r in rates), out


def test_train_py_picks_the_toolbox_and_names_a_missing_one(monkeypatch):
    """`mim train detco_mm` (tools/train.py): the config's scope picks the stock script; a
    toolbox that is not installed is one line naming it, not an ImportError."""
    train = tool('train.py')
    assert train.config_toolbox(TINY_CONFIG) == 'mmselfsup'
    assert train.config_toolbox(TINY_MMPRETRAIN) == 'mmpretrain'
    assert train.train_script('mmpretrain').endswith('mmpretrain/.mim/tools/train.py')
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *args: None if name == 'mmpretrain' else find_spec(name))
    with pytest.raises(SystemExit, match=r"default_scope is 'mmpretrain', which is not "
                       r'installed; `pip install detco_mm\[mmpretrain\]`'):
        train.config_toolbox(TINY_MMPRETRAIN)


@pytest.mark.slow(40)
def test_every_twin_builds_its_pipeline_and_model():
    """Every pretraining config under both faces: its train pipeline and those of its kNN
    banks (``PerStageKNNHook``) built in the dataset's scope, and each distinct model (13 per
    face for the 20 configs; mostly ResNet-50s, ~2 s each) built in the config's scope: the
    toolbox classes take every setting given them."""
    models = {}
    for config in SELFSUP_CONFIGS:
        for face, path in (('mmselfsup', config), ('mmpretrain', twin(config))):
            cfg = Config.fromfile(path)
            datasets = [cfg.train_dataloader.dataset] + [
                hook[loader].dataset for hook in cfg.get('custom_hooks', [])
                if hook['type'] == 'PerStageKNNHook'
                for loader in ('train_dataloader', 'val_dataloader') if loader in hook]
            for dataset in datasets:
                with DefaultScope.overwrite_default_scope(
                        dataset.get('_scope_', cfg.default_scope)):
                    from mmengine.registry import TRANSFORMS
                    pipeline = [TRANSFORMS.build(s) for s in dataset.pipeline]
                assert type(pipeline[-1]).__name__ == 'PackSelfSupInputs', path
            models.setdefault((face, repr(cfg.model.to_dict())), (cfg, path))
    faces = [face for face, _ in models]
    assert faces.count('mmselfsup') == faces.count('mmpretrain') < len(SELFSUP_CONFIGS)
    for (face, _), (cfg, path) in models.items():
        with DefaultScope.overwrite_default_scope(cfg.default_scope):
            from mmengine.registry import MODELS
            model = MODELS.build(cfg.model)
        expected = SelfSupDetCo if face == 'mmselfsup' else mmpretrain_face.DetCo
        assert type(model) is expected, path
        assert type(model.backbone).__module__.startswith(face), path
