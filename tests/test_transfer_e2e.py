# Copyright (c) detco_mm contributors. All rights reserved.
"""Pretrain (tiny DetCo) -> convert -> fine-tune an mmdet Mask R-CNN -> CocoMetric, end to end,
through `make transfer-demo`'s script in its tiny size; and the runs that must not start:
a pretrained file that would leave part of the backbone (or res5 of C4) at random."""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmselfsup.registry import MODELS

from conftest import ROOT, tool
from detco_ckpt import CheckpointError

DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_r18_fpn_tiny_synthetic.py')
LINEAR_CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'classification', 'imagenet',
                         'resnet50_linear-8xb32-steplr-100e_in1k.py')
SVM_CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'classification', 'voc07',
                      'resnet50_svm-res2-res5_voc07.py')
C4_CONFIG = osp.join(ROOT, 'configs', 'benchmarks', 'mmdetection', 'coco',
                     'mask-rcnn_r50-c4_ms-12k_coco.py')
# 2 steps; 4 of the 16 held-out images predicted (CocoMetric still scores all 16)
TINY_RUN = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
            'val_dataloader.dataset.indices=4', 'custom_hooks.2.num_iter=1']


@pytest.mark.e2e
@pytest.mark.slow(50)
@pytest.mark.parametrize('pretrain_run', ['tiny_pretrain_dir', 'mmpretrain_pretrain_dir'],
                         ids=['mmselfsup', 'mmpretrain'])
def test_transfer_demo_tiny(tmp_path, pretrain_run, request):
    """From the shared tiny pretraining of each face."""
    tiny_pretrain_dir = request.getfixturevalue(pretrain_run)
    data, work_dir = tmp_path / 'data', tmp_path / 'transfer'
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'data', 'make_synthetic_images.py'),
                    '--out', str(data), '--num', '8', '--size', '128'], check=True,
                   capture_output=True)
    env = dict(os.environ, PRETRAIN=str(tiny_pretrain_dir / 'epoch_1.pth'), DEMO_DATA=str(data),
               WORK_DIR=str(work_dir),
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'benchmarks', 'transfer_demo.sh'),
                           *TINY_RUN], env=env, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]

    backbone = work_dir / 'detco_backbone.pth'
    assert (data / 'annotations' / 'instances_val.json').is_file()  # held-out set generated
    loaded = re.search(rf'model\.backbone: (\d+) of (\d+) tensors from {backbone} \(checked\)',
                       log)
    assert loaded and loaded.group(1) == loaded.group(2)
    assert re.search(r'transfer demo: bbox AP [\d.]+ \(AP50 [\d.]+\), segm AP [\d.]+', proc.stdout)
    # the detector started from the pretrained backbone: conv1 moved only by 2 SGD steps
    # (measured: 4 % of its norm; from another initialisation it is ~140 %). The largest single
    # change is no measure: 6 % of the largest weight in one run, under 5 % in earlier ones.
    pretrained = torch.load(backbone, weights_only=True)['state_dict']['conv1.weight']
    tuned = torch.load(work_dir / 'finetune' / 'iter_2.pth', weights_only=True)
    stem = tuned['state_dict']['backbone.conv1.weight']
    assert (stem - pretrained).norm() < 0.2 * pretrained.norm()

    # PreciseBN (1 batch here) ran after the last of the 2 iterations, before the checkpoint:
    # the statistics of the backbone and the FPN come from 1 batch, not 2
    assert 'PreciseBN: BN statistics of' in log
    tracked = {k: int(v) for k, v in tuned['state_dict'].items()
               if k.endswith('num_batches_tracked')}
    assert tracked and all(k.startswith(('backbone.', 'neck.')) for k in tracked)
    assert set(tracked.values()) == {1}


def train_until_first_iteration(config, data_root, options, work_dir):
    """``Runner.train()`` of ``config`` on the synthetic set; returns its CheckpointError."""
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(options)
    cfg.train_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.merge_from_dict(dict(val_dataloader=None, val_cfg=None, val_evaluator=None,
                             test_dataloader=None, test_cfg=None, test_evaluator=None,
                             work_dir=str(work_dir)))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(CheckpointError) as error:
        runner.train()
    # refused before mmengine initialised the weights (and logged its size mismatches)
    assert runner.iter == 0 and not runner.model.is_init
    return str(error.value)


@pytest.mark.parametrize('case', ['depth', 'no_prefix'])
def test_detection_refuses_wrong_backbone(case, tiny_backbone, tiny_pretrain_dir,
                                          synthetic_root, tmp_path):
    if case == 'depth':  # docs/transfer.md's R50 benchmark config with the ResNet-18 demo file
        options = {'model.backbone.depth': 50, 'model.neck.in_channels': [256, 512, 1024, 2048],
                   'model.backbone.init_cfg.checkpoint': tiny_backbone}
        expected = (f'{tiny_backbone}: a ResNet-18 checkpoint into a ResNet-50 config: '
                    f'model.backbone.layer1.0.conv1.weight is (64, 64, 3, 3) in the file, '
                    f'(64, 64, 1, 1) in the model')
    else:  # a whole DetCo checkpoint without prefix=backbone.: nothing would load
        whole = str(tiny_pretrain_dir / 'epoch_1.pth')
        options = {'model.backbone.init_cfg.checkpoint': whole}
        expected = f'{whole}: none of the model.backbone tensors'
    message = train_until_first_iteration(DEMO_CONFIG, synthetic_root, options, tmp_path)
    assert message.startswith(expected) and '\n' not in message
    if case == 'no_prefix':
        assert 'a DetCo training checkpoint: set init_cfg.prefix=backbone.' in message


def test_detection_accepts_whole_checkpoint_with_prefix(tiny_pretrain_dir, synthetic_root,
                                                        tmp_path):
    """The right file with the right prefix passes the check, and its tensors are loaded."""
    whole = str(tiny_pretrain_dir / 'epoch_1.pth')
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': whole,
                         'model.backbone.init_cfg.prefix': 'backbone.'})
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from detco_mm.engine import check_pretrained_inits
    register_all_modules(init_default_scope=False)
    model = MODELS.build(cfg.model)
    model.init_weights()
    check_pretrained_inits(model)
    state = torch.load(whole, weights_only=True)['state_dict']
    assert torch.equal(model.backbone.layer4[1].conv2.weight,
                       state['backbone.layer4.1.conv2.weight'])


def test_c4_res5_head_is_checked(tiny_backbone, tmp_path):
    """res5 of R50-C4 lives in the RoI head and loads the backbone's file: a ResNet-18 file
    is refused there too; a ResNet-50 file loads all of res5 and leaves the extra norm."""
    import mmselfsup.models.utils.res_layer_extra_norm  # noqa: F401  (as the config imports)
    from mmdet.models.backbones import ResNet
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from detco_mm.engine import check_pretrained_inits
    register_all_modules(init_default_scope=True)
    head_cfg = Config.fromfile(C4_CONFIG).model.roi_head.shared_head
    head_cfg.init_cfg.checkpoint = tiny_backbone
    head = MODELS.build(head_cfg)
    head.init_weights()
    with pytest.raises(CheckpointError, match=r'a ResNet-18 checkpoint that does not fit '
                       r'model: model\.layer4\.0\.conv1\.weight is \(512, 256, 3, 3\) in the '
                       r'file, \(512, 1024, 1, 1\) in the model'):
        check_pretrained_inits(head)

    r50 = str(tmp_path / 'r50.pth')
    torch.save({'state_dict': ResNet(depth=50).state_dict(),
                'meta': {'source': 'test', 'encoder': 'backbone.'}}, r50)
    head_cfg.init_cfg.checkpoint = r50
    head = MODELS.build(head_cfg)
    head.init_weights()
    check_pretrained_inits(head)


@pytest.mark.parametrize('url', ['https://example.invalid/detco/backbone.pth',
                                 'torchvision://resnet50'])
def test_url_checkpoints_are_checked(url, tiny_backbone, tmp_path, monkeypatch):
    """A ResNet-18 file behind a URL (already in torch hub's cache: nothing is downloaded)
    is refused in a ResNet-50 backbone like a local one."""
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.runner.checkpoint import get_torchvision_models

    from detco_mm.engine import check_pretrained_inits
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    http = get_torchvision_models()['resnet50'] if url.startswith('torchvision') else url
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    shutil.copy(tiny_backbone, cache / osp.basename(http))
    backbone = MMDET_MODELS.build(dict(type='mmdet.ResNet', depth=50, init_cfg=dict(
        type='Pretrained', checkpoint=url)))
    with pytest.raises(CheckpointError) as error:
        check_pretrained_inits(backbone)
    assert str(error.value).startswith(f'{url}: a ResNet-18 checkpoint into a ResNet-50 '
                                       f'config: model.layer1.0.conv1.weight is (64, 64, 3, 3)')


@pytest.mark.e2e
def test_refusal_is_the_last_line_of_the_training_process(tiny_backbone, synthetic_root,
                                                          tmp_path):
    """mmdet's train.py (what ``mim train mmdet`` runs) with a ResNet-18 file in a ResNet-50
    detector: no size-mismatch lines, no traceback, the reason as the last line of stderr."""
    import mmdet
    options = ['model.backbone.depth=50', 'model.neck.in_channels=[256,512,1024,2048]',
               f'model.backbone.init_cfg.checkpoint={tiny_backbone}',
               f'train_dataloader.dataset.data_root={synthetic_root}',
               f'val_dataloader.dataset.data_root={synthetic_root}',  # only its training set
               'val_dataloader.dataset.ann_file=annotations/instances_train.json',
               f'val_evaluator.ann_file={synthetic_root}annotations/instances_train.json']
    proc = subprocess.run(
        [sys.executable, osp.join(mmdet.__path__[0], '.mim', 'tools', 'train.py'), DEMO_CONFIG,
         '--work-dir', str(tmp_path), '--cfg-options', *options],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f'CheckpointError: {tiny_backbone}: a ResNet-18 checkpoint into a ResNet-50 config: '
        f'model.backbone.layer1.0.conv1.weight is (64, 64, 3, 3) in the file, (64, 64, 1, 1) '
        f'in the model; use a config with a ResNet-18 backbone, or a ResNet-50 DetCo file')
    assert 'Traceback' not in proc.stderr
    assert 'size mismatch' not in proc.stdout + proc.stderr


def test_linear_classification_refuses_wrong_depth(tiny_backbone, synthetic_root, tmp_path):
    options = {'model.backbone.init_cfg.checkpoint': tiny_backbone,
               'train_dataloader.dataset.ann_file': 'meta/train.txt',
               'train_dataloader.dataset.data_prefix': 'train'}
    message = train_until_first_iteration(LINEAR_CONFIG, synthetic_root, options, tmp_path)
    assert message.startswith(f'{tiny_backbone}: a ResNet-18 checkpoint into a ResNet-50 config')


def test_voc07_svm_extraction_refuses_wrong_depth(tiny_backbone):
    """extract_voc07.py initialises the model outside a Runner: its own check refuses a
    ResNet-18 file in the ResNet-50 SVM config."""
    extract_voc07 = tool('benchmarks/classification/extract_voc07.py')
    cfg = Config.fromfile(SVM_CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = tiny_backbone
    cfg.model.neck.hid_channels = 16  # only the backbone matters; keep the model small
    cfg.model.head.queue_len = 64
    model = extract_voc07.checked_build(MODELS.build)(cfg.model)
    with pytest.raises(CheckpointError) as error:
        model.init_weights()
    assert str(error.value).startswith(
        f'{tiny_backbone}: a ResNet-18 checkpoint into a ResNet-50 config')
    assert not model.is_init  # refused before mmengine loaded the file
