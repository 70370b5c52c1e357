# Copyright (c) detco_mm contributors. All rights reserved.
"""The mmdet benchmark configs keep MoCo's fine-tuning protocol [P 4.2], and the tools they
rely on do what the configs expect."""
import copy
import functools
import glob
import json
import os.path as osp
import re
import subprocess
import sys
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

import detco_mm  # noqa: F401  (the registry repair, as in every other test)
from conftest import ROOT, run_tool, tool

CONFIG_DIR = osp.join(ROOT, 'configs', 'benchmarks', 'mmdetection')
CONFIGS = sorted(
    path for path in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, CONFIG_DIR).split(osp.sep))
TOOLS = osp.join(ROOT, 'tools')

# schedule in the file name -> iterations [P 4.2, 6.1, 6.2]
SCHEDULES = {'12k': 12000, '1x': 90000, '2x': 180000, '24k': 24000}
DATA_ROOTS = ('data/coco/', 'data/VOCdevkit/', 'data/cityscapes/', 'data/lvis_v1/')


@pytest.fixture(scope='module', autouse=True)
def mmdet_modules():
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)


@pytest.fixture(scope='module', autouse=True)
def direct_mmdet_paths():
    """Find ``mmdet::<path>`` bases directly under mmdet/.mim/configs, which is where mmengine
    ends up for every base these configs name. Before that, mmengine 0.10.7 reads all ~400 of
    mmdet's metafile.yml each time (0.6 s per base, 2.4 s per config); only a bare model name
    needs them."""
    with mock.patch('mmengine.config.utils._get_cfg_metainfo', side_effect=ValueError):
        yield


@functools.lru_cache(maxsize=None)
def load_config(path):
    return Config.fromfile(path)


def build_detector(cfg):
    from mmdet.registry import MODELS
    return MODELS.build(cfg.model)


def batch_norms(module):
    return [m for m in module.modules() if isinstance(m, _BatchNorm)]


def train_datasets(dataset):
    """The leaf datasets under dataset wrappers (Repeat, ClassBalanced, Concat)."""
    if 'datasets' in dataset:
        return [leaf for d in dataset.datasets for leaf in train_datasets(d)]
    if 'dataset' in dataset:
        return train_datasets(dataset.dataset)
    return [dataset]


NORMS = (_BatchNorm, torch.nn.GroupNorm, torch.nn.LayerNorm)


def norms(module):
    return [m for m in module.modules() if isinstance(m, NORMS)]


def check_heads_and_norms_as_official(model):
    """SyncBN in the backbone (RESNETS.NORM), the FPN (FPN.NORM) and C4's res5 head
    (Res5ROIHeadsExtraNorm); no norm anywhere else."""
    synced = [model.backbone, *([model.neck] if model.with_neck else [])]
    if hasattr(model, 'roi_head') and model.roi_head.with_shared_head:
        synced.append(model.roi_head.shared_head)
    for part in synced:
        assert batch_norms(part), f'{part.__class__.__name__} has no SyncBN'
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in norms(model))
    assert len(norms(model)) == sum(len(norms(part)) for part in synced)

    if model.__class__.__name__ == 'RetinaNet':  # Base-RetinaNet: P6 from C5, P7 from relu(P6)
        assert model.neck.add_extra_convs == 'on_input' and model.neck.relu_before_extra_convs
    elif not model.roi_head.with_shared_head:  # Base-RCNN-FPN
        bbox_head, mask_head = model.roi_head.bbox_head, model.roi_head.mask_head
        assert bbox_head.__class__.__name__ == 'Shared2FCBBoxHead'  # NUM_FC: 2, FC_DIM 1024
        assert (bbox_head.num_shared_convs, bbox_head.num_shared_fcs) == (0, 2)
        assert bbox_head.fc_out_channels == 1024
        assert mask_head.num_convs == 4 and mask_head.conv_out_channels == 256  # NUM_CONV: 4


def test_every_paper_experiment_has_a_config():
    names = {osp.basename(path) for path in CONFIGS}
    assert 'faster-rcnn_r50-c4_ms-24k_voc0712.py' in names  # Table 6
    for schedule in ('12k', '1x', '2x'):  # Tables 3, 4, 13 and 5
        assert f'mask-rcnn_r50-c4_ms-{schedule}_coco.py' in names
        assert f'mask-rcnn_r50_fpn_ms-{schedule}_coco.py' in names
        assert f'retinanet_r50_fpn_ms-{schedule}_coco.py' in names
    for fraction in ('0.01', '0.02', '0.05', '0.1'):  # Tables 10-12
        assert f'mask-rcnn_r50_fpn_ms-12k_semi-{fraction}-coco.py' in names
        assert f'retinanet_r50_fpn_ms-12k_semi-{fraction}-coco.py' in names
    assert 'mask-rcnn_r50_fpn_ms-24k_cityscapes.py' in names  # Table 7
    assert 'mask-rcnn_r50_fpn_sample1e-3_ms-2x_lvis-v1.py' in names  # Table 14


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_config_builds_with_protocol(path):
    cfg = load_config(path)
    model = build_detector(cfg)

    # iteration schedule named in the file, lr decayed inside it after a linear warm-up
    iters = SCHEDULES[re.search(r'_ms-(\w+?)_', osp.basename(path)).group(1)]
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == iters
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and not warmup.by_epoch
    assert steps.type == 'MultiStepLR' and not steps.by_epoch and steps.end == iters
    assert all(0 < m < iters for m in steps.milestones)
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    # lr 0.02 for 16 images (RetinaNet 0.01), scaled from the batch of 8 GPUs
    lr_per_image = 0.01 / 16 if model.__class__.__name__ == 'RetinaNet' else 0.02 / 16
    assert cfg.auto_scale_lr.base_batch_size == 8 * cfg.train_dataloader.batch_size
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(
        lr_per_image * cfg.auto_scale_lr.base_batch_size)

    # whole backbone fine-tuned from the pretrained file
    assert cfg.model.backbone.init_cfg.type == 'Pretrained'
    assert model.backbone.frozen_stages == -1 and model.backbone.norm_eval is False
    check_heads_and_norms_as_official(model)

    for dataset in train_datasets(cfg.train_dataloader.dataset):
        assert dataset.data_root.startswith(DATA_ROOTS)


def official_protocol(path):
    """What the authors' yaml (xieenze/DetCo benchmarks/detection/configs, see
    configs/benchmarks/mmdetection/README.md) and detectron2's defaults set for ``path``:
    SOLVER.STEPS, SOLVER.WARMUP_ITERS, INPUT.MAX_SIZE_TRAIN, INPUT.MIN_SIZE_TRAIN and
    (MAX_SIZE_TEST, MIN_SIZE_TEST)."""
    name = osp.basename(path)
    if 'voc0712' in name:  # pascal_voc_R_50_C4_24k_moco.yaml
        return dict(steps=[18000, 22000], warmup=100, max_size=1333,
                    shorter=range(480, 801, 32), test=(1333, 800))
    if 'cityscapes' in name:  # Cityscapes/mask_rcnn_R_50_FPN_moco.yaml
        return dict(steps=[18000], warmup=1000, max_size=2048, shorter=range(800, 1025, 32),
                    test=(2048, 1024))
    schedule = re.search(r'_ms-(\w+?)_', name).group(1)
    return dict(
        steps={'12k': [9000, 11000], '1x': [60000, 80000], '2x': [120000, 160000]}[schedule],
        warmup=1000,
        # MAX_SIZE_TRAIN: 1200 in coco_R_50_C4_2x_moco.yaml, the base of every COCO C4 yaml
        max_size=1200 if 'r50-c4' in name else 1333,
        shorter=range(640, 801, 32), test=(1333, 800))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_schedule_sizes_and_precise_bn_as_official(path):
    cfg, official = load_config(path), official_protocol(path)
    warmup, steps = cfg.param_scheduler
    assert steps.milestones == official['steps']
    assert warmup.end == official['warmup'] and warmup.start_factor == 0.001

    for dataset in train_datasets(cfg.train_dataloader.dataset):
        resize, = [t for t in dataset.pipeline if 'Resize' in t.type]
        assert resize.type == 'RandomChoiceResize' and resize.keep_ratio  # SAMPLING: choice
        assert [tuple(s) for s in resize.scales] == [
            (official['max_size'], shorter) for shorter in official['shorter']]
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        resize, = [t for t in loader.dataset.pipeline if 'Resize' in t.type]
        assert resize.type == 'Resize' and resize.keep_ratio
        assert tuple(resize.scale) == official['test']

    # TEST.PRECISE_BN.ENABLED: True, detectron2's NUM_ITER 200
    assert [h for h in cfg.custom_hooks if 'PreciseBN' in h.type] == [
        dict(type='mmselfsup.PreciseBNHook', num_iter=200)]


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'r50-c4' in osp.basename(p)],
                         ids=osp.basename)
def test_c4_res5_head_has_extra_norm_and_pretrained_init(path):
    cfg = load_config(path)
    res5 = build_detector(cfg).roi_head.shared_head
    assert res5.norm_eval is False
    assert isinstance(res5.norm, torch.nn.SyncBatchNorm) and res5.norm.num_features == 2048
    # res5 loads the backbone's file: in C4 it is not part of the backbone
    assert cfg.model.roi_head.shared_head.init_cfg == cfg.model.backbone.init_cfg
    res5.eval()
    x = torch.randn(1, 1024, 4, 4)
    with torch.no_grad():
        assert torch.equal(res5(x), res5.norm(res5.layer4(x)))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_anchors_across_the_border_are_kept_as_in_detectron2(path):
    """detectron2's RPN.BOUNDARY_THRESH: -1 (mmdet's allowed_border=-1); RetinaNet's head
    samples every anchor in both."""
    model = build_detector(load_config(path))
    head = model.bbox_head if model.__class__.__name__ == 'RetinaNet' else model.rpn_head
    assert head.train_cfg['allowed_border'] == -1


def semi_percent(path):
    match = re.search(r'_semi-([\d.]+)-coco', osp.basename(path))
    return float(match.group(1)) * 100 if match else None


@pytest.mark.parametrize('path', [p for p in CONFIGS if semi_percent(p)], ids=osp.basename)
def test_semi_config_reads_its_split(path):
    ann_file = load_config(path).train_dataloader.dataset.ann_file
    assert ann_file == f'semi_anns/instances_train2017.1@{semi_percent(path):g}.json'


@pytest.fixture(scope='module')
def detco_checkpoints(tmp_path_factory):
    """A random ResNet-50 as a converted backbone file (detco_to_backbone.py's layout) and
    inside a whole DetCo checkpoint, and as a bare state_dict (not a DetCo file)."""
    from mmdet.models.backbones import ResNet
    torch.manual_seed(0)
    state_dict = ResNet(depth=50).state_dict()
    root = tmp_path_factory.mktemp('detco_ckpt')
    files = {name: str(root / f'{name}.pth') for name in ('backbone', 'full', 'bare')}
    torch.save({'state_dict': state_dict,
                'meta': {'source': files['full'], 'encoder': 'backbone.'}}, files['backbone'])
    torch.save({'meta': {'epoch': 200},
                'state_dict': {**{f'backbone.{k}': v for k, v in state_dict.items()},
                               'neck.global_mlps.3.0.weight': torch.zeros(2, 2)}},
               files['full'])
    torch.save(state_dict, files['bare'])
    return state_dict, files


@pytest.fixture(scope='module')
def pretrain_cfg_options():
    return tool('benchmarks/pretrain_cfg_options.py').pretrain_cfg_options


@pytest.mark.parametrize('kind', ['backbone', 'full'])
def test_pretrain_options_load_backbone_and_res5(kind, detco_checkpoints,
                                                 pretrain_cfg_options):
    state_dict, files = detco_checkpoints
    path = osp.join(CONFIG_DIR, 'voc0712', 'faster-rcnn_r50-c4_ms-24k_voc0712.py')
    cfg = copy.deepcopy(load_config(path))
    options = pretrain_cfg_options(path, files[kind])
    assert ('model.backbone.init_cfg.prefix=backbone.' in options) == (kind == 'full')
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options))
    model = build_detector(cfg)
    model.init_weights()
    for name in ('conv1.weight', 'layer1.0.conv1.weight', 'layer3.5.bn3.running_mean'):
        assert torch.equal(model.backbone.state_dict()[name], state_dict[name])
    for name in ('layer4.0.conv1.weight', 'layer4.2.bn3.weight'):
        assert torch.equal(model.roi_head.shared_head.state_dict()[name], state_dict[name])


def test_pretrain_options_fpn_only_backbone(detco_checkpoints, pretrain_cfg_options):
    path = osp.join(CONFIG_DIR, 'coco', 'retinanet_r50_fpn_ms-1x_coco.py')
    full = detco_checkpoints[1]['full']
    assert pretrain_cfg_options(path, full) == [
        f'model.backbone.init_cfg.checkpoint={full}', 'model.backbone.init_cfg.prefix=backbone.']


def test_pretrain_options_refuse_other_files(detco_checkpoints, capsys):
    path = osp.join(CONFIG_DIR, 'coco', 'retinanet_r50_fpn_ms-1x_coco.py')
    bare = detco_checkpoints[1]['bare']
    code, out, err = run_tool('benchmarks/pretrain_cfg_options.py', path, bare, capsys=capsys)
    assert code == 1 and not out
    assert err.count('\n') == 1
    assert f'{bare}: a bare state_dict' in err


def test_make_coco_semi_splits(tmp_path):
    images = [dict(id=i + 1, file_name=f'{i:012d}.jpg', width=64, height=48) for i in range(300)]
    # two boxes on even images, none on odd ones
    annotations = [dict(id=2 * i + j, image_id=i + 1, category_id=1, bbox=[0, 0, 8, 8],
                        area=64, iscrowd=0) for i in range(0, 300, 2) for j in range(2)]
    ann = tmp_path / 'instances_train2017.json'
    ann.write_text(json.dumps(dict(images=images, annotations=annotations,
                                   categories=[dict(id=1, name='thing')])))

    def split(out_name, seed, *percents):
        out = tmp_path / out_name
        result = subprocess.run(
            [sys.executable, osp.join(TOOLS, 'data', 'make_coco_semi_splits.py'), '--ann',
             str(ann), '--out-dir', str(out), '--seed', str(seed), '--percent', *percents],
            check=True, capture_output=True, text=True)
        return result.stdout

    stdout = split('splits', 1, '1', '2', '5', '10')
    assert '10%: 30 of 300 images' in stdout
    for percent, num in (('1', 3), ('2', 6), ('5', 15), ('10', 30)):
        coco = json.loads((tmp_path / 'splits' / f'instances_train2017.1@{percent}.json')
                          .read_text())
        ids = [img['id'] for img in coco['images']]
        assert len(ids) == len(set(ids)) == num
        assert coco['categories'] == [dict(id=1, name='thing')]
        assert sorted(a['id'] for a in coco['annotations']) == sorted(
            a['id'] for a in annotations if a['image_id'] in ids)

    def drawn(out_name, seed):
        coco = json.loads((tmp_path / out_name / f'instances_train2017.{seed}@10.json')
                          .read_text())
        return [img['id'] for img in coco['images']]

    split('again', 1, '10')
    split('seed2', 2, '10')
    assert drawn('again', 1) == drawn('splits', 1)  # seeded
    assert drawn('seed2', 2) != drawn('splits', 1)


VOC_XML = '''<annotation><size><width>64</width><height>48</height><depth>3</depth></size>
<object><name>dog</name><difficult>0</difficult>
<bndbox><xmin>5</xmin><ymin>5</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
<object><name>cat</name><difficult>1</difficult>
<bndbox><xmin>35</xmin><ymin>10</ymin><xmax>60</xmax><ymax>30</ymax></bndbox></object>
</annotation>'''


def test_voc_trains_on_difficult_boxes_and_evaluates_without(tmp_path):
    """detectron2's VOC loader keeps difficult objects for training (pascal_voc_R_50_C4_24k);
    the evaluation ignores them."""
    import numpy as np
    from mmcv import imwrite
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    import detco_mm.datasets.voc_with_difficult  # noqa: F401
    voc = tmp_path / 'VOC2007'
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (voc / sub).mkdir(parents=True)
    (voc / 'Annotations' / '000001.xml').write_text(VOC_XML)
    imwrite(np.zeros((48, 64, 3), np.uint8), str(voc / 'JPEGImages' / '000001.jpg'))
    for split in ('trainval', 'test'):
        (voc / 'ImageSets' / 'Main' / f'{split}.txt').write_text('000001\n')

    init_default_scope('mmdet')
    cfg = load_config(osp.join(CONFIG_DIR, 'voc0712', 'faster-rcnn_r50-c4_ms-24k_voc0712.py'))
    voc07 = [d for d in train_datasets(cfg.train_dataloader.dataset)
             if d.data_prefix.sub_data_root == 'VOC2007/']
    train = DATASETS.build(dict(copy.deepcopy(voc07[0]), data_root=str(tmp_path)))
    sample = train[0]['data_samples']
    labels = sorted(train.metainfo['classes'].index(c) for c in ('dog', 'cat'))
    assert sorted(sample.gt_instances.labels.tolist()) == labels
    assert len(sample.ignored_instances) == 0

    test = DATASETS.build(dict(copy.deepcopy(cfg.test_dataloader.dataset),
                               data_root=str(tmp_path)))
    assert [i['ignore_flag'] for i in test.get_data_info(0)['instances']] == [0, 1]
    assert len(test[0]['data_samples'].ignored_instances) == 1
