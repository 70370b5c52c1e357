# Copyright (c) detco_mm contributors. All rights reserved.
"""Classification benchmark configs [P Table 2, Table 8]: every file under
configs/benchmarks/classification loads, its model builds from the registry of its default
scope and loads a converted backbone, and the protocols keep their settings."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmcls.models.backbones import ResNet
from mmcls.registry import MODELS as MMCLS_MODELS
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmselfsup.models.utils import Extractor
from mmselfsup.registry import DATASETS
from mmselfsup.registry import MODELS as MMSELFSUP_MODELS
from torch.utils.data import DataLoader

from conftest import ROOT

BENCH = osp.join(ROOT, 'configs', 'benchmarks', 'classification')
CONFIGS = sorted(glob.glob(osp.join(BENCH, '**', '*.py'), recursive=True))
MODEL_CONFIGS = [c for c in CONFIGS if 'model' in Config.fromfile(c)]
LINEAR_CONFIGS = sorted(glob.glob(osp.join(BENCH, 'imagenet', '*_linear-*.py')))
SVM_CONFIGS = sorted(glob.glob(osp.join(BENCH, 'voc07', '*_svm-*.py')))
SVM_DATA_CONFIG = osp.join(BENCH, 'svm_voc07.py')
REGISTRIES = {'mmcls': MMCLS_MODELS, 'mmselfsup': MMSELFSUP_MODELS}
STAGE_CHANNELS = {'res2': 256, 'res3': 512, 'res4': 1024, 'res5': 2048}


def rel(path):
    return osp.relpath(path, BENCH)


def build_model(cfg):
    """Build as the runner or extract.py does: in the config's default scope."""
    init_default_scope(cfg.default_scope)
    return REGISTRIES[cfg.default_scope].build(cfg.model)


def dict_values(node):
    """Every dict nested in a config."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from dict_values(item)


@pytest.fixture(scope='session')
def backbone_files(tmp_path_factory):
    """A random ResNet-50 as the converter writes it (a plain state dict) and as a full
    DetCo checkpoint holds it (``backbone.`` keys under ``state_dict``)."""
    out = tmp_path_factory.mktemp('ckpt')
    torch.manual_seed(0)
    state = ResNet(depth=50).state_dict()
    torch.save(state, out / 'backbone.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, out / 'full.pth')
    return state, str(out / 'backbone.pth'), str(out / 'full.pth')


def test_glob_finds_the_benchmarks():
    assert LINEAR_CONFIGS and SVM_CONFIGS and SVM_DATA_CONFIG in CONFIGS
    assert set(MODEL_CONFIGS) == set(LINEAR_CONFIGS + SVM_CONFIGS)


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_no_scope_reaches_plain_callables(path):
    """`mmselfsup::`/`mmcls::` inheritance stamps _scope_ on inherited dicts; collate_fn and
    the extractor's pool_cfg pass every key but `type` to a plain function or class."""
    cfg = Config.fromfile(path)
    for node in dict_values(cfg.to_dict()):
        for key in ('collate_fn', 'pool_cfg'):
            if isinstance(node.get(key), dict):
                assert '_scope_' not in node[key], f'{key} in {rel(path)}'


@pytest.fixture(scope='module')
def converted_model(backbone_files):
    """The model of a config given the converted backbone by the --cfg-options of its
    header, built once per config."""
    cache = {}

    def get(path):
        if path not in cache:
            cfg = Config.fromfile(path)
            cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': backbone_files[1]})
            cache[path] = build_model(cfg)
            cache[path].init_weights()
        return cache[path]

    return get


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=rel)
def test_model_loads_converted_backbone(path, backbone_files, converted_model):
    cfg = Config.fromfile(path)
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg.type == 'Pretrained' and init_cfg.checkpoint == 'work_dirs/detco_backbone.pth'
    loaded = converted_model(path).backbone.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in backbone_files[0].items())


@pytest.mark.parametrize('path', MODEL_CONFIGS, ids=rel)
def test_backbone_loads_full_checkpoint_with_prefix(path, backbone_files):
    """The other option of the headers; the backbone's own init_cfg does the loading."""
    state, _, full_pth = backbone_files
    cfg = Config.fromfile(path)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': full_pth,
                         'model.backbone.init_cfg.prefix': 'backbone.'})
    init_default_scope(cfg.default_scope)
    backbone = REGISTRIES[cfg.default_scope].build(cfg.model.backbone)
    backbone.init_weights()
    loaded = backbone.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in state.items())


@pytest.mark.parametrize('path', LINEAR_CONFIGS, ids=rel)
def test_linear_moco_protocol(path):
    """[P 4.4] "same as MoCo": mmselfsup's MoCo v1/v2 linear evaluation."""
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmcls'
    assert cfg.model.backbone.frozen_stages == 4 and cfg.model.backbone.norm_eval
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.optim_wrapper.optimizer.lr == 30.
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.
    assert cfg.param_scheduler.type == 'MultiStepLR'
    assert cfg.param_scheduler.milestones == [60, 80]
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size == 32  # x 8 GPUs = 256

    model = build_model(cfg)
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(not m.training for m in model.backbone.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    assert all(p.requires_grad for p in model.head.parameters())


@pytest.mark.parametrize('path', LINEAR_CONFIGS, ids=rel)
def test_linear_head_matches_stage(path):
    """The head reads the channels of the stage the backbone returns, and gives logits."""
    cfg = Config.fromfile(path)
    cfg.model.head.num_classes = 5
    model = build_model(cfg).eval()
    with torch.no_grad():
        feats = model.backbone(torch.rand(2, 3, 64, 64))
        logits = model(torch.rand(2, 3, 64, 64), mode='tensor')
    stage = f'res{cfg.model.backbone.out_indices[-1] + 2}'  # mmcls ResNet: 0..3 = res2..res5
    assert feats[-1].shape[1] == STAGE_CHANNELS[stage] == cfg.model.head.in_channels
    assert logits.shape == (2, 5)


@pytest.mark.parametrize('path', SVM_CONFIGS, ids=rel)
def test_svm_extracts_res2_to_res5(path, tmp_path, synthetic_root, converted_model):
    """Table 2 features through mmselfsup's Extractor: the dataset and pooling of
    svm_voc07.py, the model's own preprocessor, out indices 1..4 = res2..res5,
    named feat2..feat5, at the ~9k dims of the Goyal et al. benchmark."""
    cfg = Config.fromfile(path)
    assert tuple(cfg.model.backbone.out_indices) == (1, 2, 3, 4)
    data_cfg = Config.fromfile(SVM_DATA_CONFIG)
    assert data_cfg.split_name == ['voc07_trainval', 'voc07_test']
    assert tuple(data_cfg.pool_cfg.in_indices) == (1, 2, 3, 4)

    # a VOC07-like folder of 2 synthetic images
    images = sorted(os.listdir(osp.join(synthetic_root, 'train', 'synthetic')))[:2]
    os.symlink(osp.join(synthetic_root, 'train', 'synthetic'), tmp_path / 'JPEGImages')
    (tmp_path / 'Lists').mkdir()
    (tmp_path / 'Lists' / 'trainvaltest.txt').write_text(''.join(f'{i}\n' for i in images))
    dataset_cfg = data_cfg.extract_dataloader.extract_dataset
    dataset_cfg.data_root = str(tmp_path)
    dataset = DATASETS.build(dataset_cfg)
    # default_collate: SelfSupDataPreprocessor rejects extract.py's pseudo_collate (see the
    # config header)
    loader = DataLoader(dataset, batch_size=2, collate_fn=default_collate)

    feats = Extractor(loader, pool_cfg=data_cfg.pool_cfg.to_dict())(converted_model(path))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        'feat2': (2, 9216), 'feat3': (2, 8192), 'feat4': (2, 9216), 'feat5': (2, 8192)}
