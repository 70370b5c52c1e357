# Copyright (c) detco_mm contributors. All rights reserved.
"""Misconfigurations fail before training with one line naming the key, value and fix
(issue 10, item 2), and the jigsaw mosaic has one contract (item 3)."""
import copy
import importlib.util
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmselfsup.registry import DATASETS, MODELS, TRANSFORMS

from conftest import ROOT, TINY_CONFIG, tiny_pretrain_options, train_in_process
from detco_mm.contracts import mosaic_to_patches, patches_to_mosaic

TINY_GPUAUG = osp.join(ROOT, 'configs', 'detco', 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py')
TINY_MMPRETRAIN = osp.join(ROOT, 'configs', 'detco_mmpretrain',
                           'detco_resnet18_1xb4-coslr-2e_tiny_mmpretrain.py')
# A 2x2 jigsaw of 36 px patches: a 72 px mosaic, like the tiny configs' 3x3 of 24 px, so
# nothing in the shapes tells the 9-patch neck that it re-cuts other patches.
TWO_BY_TWO = dict(grid=2, cell_size=48, patch_size=36)


@pytest.mark.parametrize('key, value, message', [
    ('neck.in_channels', [64, 128, 256, 1024],
     r'model.neck.in_channels=\[64, 128, 256, 1024\] but the backbone returns '
     r'\[64, 128, 256, 512\] .* set model.neck.in_channels=\[64, 128, 256, 512\]'),
    ('head.feat_dim', 64, r'model.neck.out_channels=128 but model.head.feat_dim=64'),
    ('neck.out_channels', 32, r'model.neck.out_channels=32 but model.head.feat_dim=128'),
    ('momentum', 1.5, r'model.momentum=1.5 must be in \(0, 1\)'),
    ('momentum', 1.0, r'model.momentum=1.0 must be in \(0, 1\)'),
    ('momentum', 0, r'model.momentum=0 must be in \(0, 1\)'),
    ('head.temperature', 0, r'model.head.temperature=0 must be > 0'),
    ('head.temperature', -0.2, r'model.head.temperature=-0.2 must be > 0'),
    ('head.contrasts', ['g2g', 'x2y'], r"model.head.contrasts=\('g2g', 'x2y'\) .*unknown: "
     r"\['x2y'\]"),
    ('head.loss_weights', [1, 1, 1], r'model.head.loss_weights=\(1, 1, 1\) has 3 values but '
     r'model.head.stages=.* has 4'),
    ('backbone.out_indices', [0, 1, 2, 3], r'backbone.out_indices=\(0, 1, 2, 3\) gives'),
    ('neck.num_patches', 8, r'model.neck.num_patches=8 is not .* square jigsaw grid'),
])
def test_model_misconfigurations_fail_at_build(tiny_cfg, key, value, message):
    cfg = copy.deepcopy(tiny_cfg.model)
    *parents, leaf = key.split('.')
    node = cfg
    for parent in parents:
        node = node[parent]
    node[leaf] = value
    with pytest.raises(ValueError, match=message) as error:
        MODELS.build(cfg)
    assert '\n' not in str(error.value)


@pytest.mark.parametrize('changes, error, message', [
    (dict(head=dict(loss_weights=[0, 0, 0, 0])), ValueError,
     r'model.head.loss_weights=\(0, 0, 0, 0\) are all 0, so the loss is 0'),
    (dict(head=dict(loss_weights=[0.1, -0.4, 0.7, 1.0])), ValueError,
     r'model.head.loss_weights=\(0.1, -0.4, 0.7, 1.0\) has a negative weight'),
    (dict(neck=dict(hid_channels=0)), ValueError, r'model.neck.hid_channels=0 must be >= 1'),
    (dict(neck=dict(out_channels=0), head=dict(feat_dim=0)), ValueError,
     r'model.neck.out_channels=0 must be >= 1'),
    (dict(head=dict(feat_dim=0)), ValueError, r'model.head.feat_dim=0 must be >= 1'),
    (dict(head=dict(temperature='0.2')), TypeError,
     r"model.head.temperature='0.2' is a str, but it must be a number"),
    (dict(head=dict(loss_weights=['0.1', 0.4, 0.7, 1.0])), TypeError,
     r"model.head.loss_weights=\('0.1', 0.4, 0.7, 1.0\) holds '0.1', a str, but"),
    (dict(head=dict(queue_len=64.0)), TypeError,
     r'model.head.queue_len=64.0 is a float, but it must be an integer'),
    (dict(momentum='0.999'), TypeError, r"model.momentum='0.999' is a str"),
    (dict(neck=dict(num_patches='9')), TypeError, r"model.neck.num_patches='9' is a str"),
    (dict(neck=dict(hid_channels=True)), TypeError, r'model.neck.hid_channels=True is a bool'),
])
def test_configs_that_cannot_learn_fail_at_build(tiny_cfg, changes, error, message):
    """Zero or negative weights, zero widths and quoted numbers would train (or crash at
    step 1 with a raw error); they are refused when the model is built, naming the key."""
    cfg = copy.deepcopy(tiny_cfg.model)
    for part, values in changes.items():
        if isinstance(values, dict):
            cfg[part].update(values)
        else:
            cfg[part] = values
    with pytest.raises(error, match=message) as excinfo:
        MODELS.build(cfg)
    assert '\n' not in str(excinfo.value)


def test_backbone_channel_check_leaves_the_backbone_untouched(tiny_cfg):
    """The channel check runs the backbone on meta tensors: no batch-norm update."""
    model = MODELS.build(tiny_cfg.model)
    assert int(model.backbone.bn1.num_batches_tracked) == 0
    assert model.backbone.conv1.weight.device.type == 'cpu'


def test_mosaic_round_trip():
    torch.manual_seed(0)
    patches = torch.randn(2 * 9, 3, 5, 5)
    mosaic = patches_to_mosaic(patches, 3)
    assert mosaic.shape == (2, 3, 15, 15)
    # row-major: slot 5 of image 1 sits at row 1, column 2
    torch.testing.assert_close(mosaic[1, :, 5:10, 10:15], patches[9 + 5])
    torch.testing.assert_close(mosaic_to_patches(mosaic, 3), patches)
    # numpy, channels last (the transform's layout) gives the same mosaic
    hwc = patches.permute(0, 2, 3, 1).numpy()
    np_mosaic = patches_to_mosaic(hwc, 3, channels_last=True)
    np.testing.assert_array_equal(np_mosaic, mosaic.permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(mosaic_to_patches(np_mosaic, 3, channels_last=True), hwc)
    with pytest.raises(ValueError, match='not a square mosaic of 4x4'):
        mosaic_to_patches(mosaic, 4)


def test_jigsaw_mosaic_cut_by_the_model_gives_the_transforms_patches():
    """The transform tiles with patches_to_mosaic, the model cuts with mosaic_to_patches."""
    np.random.seed(0)
    img = np.random.randint(0, 256, (255, 255, 3), np.uint8)
    out = TRANSFORMS.build(dict(type='JigsawPatches'))(dict(img=img))
    assert out['jigsaw_grid'] == 3
    cut = mosaic_to_patches(torch.from_numpy(out['img']).permute(2, 0, 1)[None], 3)
    for slot, cell in enumerate(out['jigsaw_perm']):
        x1, y1, x2, y2 = out['jigsaw_boxes'][cell]
        np.testing.assert_array_equal(cut[slot].permute(1, 2, 0).numpy(), img[y1:y2, x1:x2])


def local_pipeline_batch(cfg, data_root, **jigsaw):
    """A batch of the tiny config's pipeline with other JigsawPatches sizes."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = data_root
    dataset_cfg.pipeline[1].transforms[1][-1].update(jigsaw)
    dataset = DATASETS.build(dataset_cfg)
    return default_collate([dataset[i] for i in range(4)])


@pytest.mark.parametrize('jigsaw, num_patches, message', [
    # a 2x2 jigsaw of 36 px patches: a 72 px mosaic, the size of the 3x3 one of 24 px
    (dict(grid=2, cell_size=48, patch_size=36), 9,
     r'model.neck.num_patches=9 cuts each local view into 3x3 patches, but JigsawPatches '
     r'\(input view 2\) tiles it as a 2x2 grid; set model.neck.num_patches=4 or '
     r'JigsawPatches\(grid=3\)'),
    (dict(), 4, r'model.neck.num_patches=4 cuts .* 2x2 patches, but JigsawPatches \(input '
     r'view 2\) tiles it as a 3x3 grid'),
])
def test_jigsaw_grid_recorded_and_checked_against_the_neck(tiny_cfg, synthetic_root, jigsaw,
                                                           num_patches, message):
    batch = local_pipeline_batch(tiny_cfg, synthetic_root, **jigsaw)
    assert batch['data_samples'][0].jigsaw_grid[2:] == [jigsaw.get('grid', 3)] * 2
    cfg = copy.deepcopy(tiny_cfg.model)
    cfg.neck.num_patches = num_patches
    model = MODELS.build(cfg)
    inputs, data_samples = model.data_preprocessor(batch, True)
    with pytest.raises(ValueError, match=message):
        model.loss(inputs, data_samples)
    assert int(model.head.queue_g_ptr[0]) == 0  # refused before anything was enqueued


def test_device_jigsaw_checked_against_the_neck_at_build():
    cfg = Config.fromfile(TINY_GPUAUG).model
    cfg.data_preprocessor.jigsaw.update(TWO_BY_TWO)
    with pytest.raises(ValueError, match=(
            r'^model.neck.num_patches=9 cuts each local view into 3x3 patches, but '
            r'model.data_preprocessor.jigsaw tiles it as a 2x2 grid; set '
            r'model.neck.num_patches=4 or model.data_preprocessor.jigsaw.grid=3$')):
        MODELS.build(cfg)
    cfg.neck.num_patches = 4
    assert MODELS.build(cfg).grid == 2


def refused_before_step_1(config, tmp_path, data_root, edit_local_views) -> str:
    """The message of a tiny run whose local views' pipeline ``edit_local_views`` changed;
    asserts that it stopped before any step."""
    cfg = Config.fromfile(config)
    edit_local_views(cfg.train_dataloader.dataset.pipeline[1].transforms[1])
    cfg.dump(tmp_path / 'config.py')
    work_dir = tmp_path / 'work'
    with pytest.raises(ValueError) as error:
        train_in_process(str(tmp_path / 'config.py'), work_dir,
                         cfg_options=tiny_pretrain_options(data_root, 1))
    scalars = list(work_dir.glob('*/vis_data/scalars.json'))
    assert not list(work_dir.glob('*.pth')) and not any(f.read_text() for f in scalars)
    assert '\n' not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize('edit, message', [
    (lambda local: local[-1].update(TWO_BY_TWO),
     r'^model.neck.num_patches=9 cuts each local view into 3x3 patches, but '
     r'JigsawPatches\(grid=2, cell_size=48, patch_size=36, .*\) in '
     r'train_dataloader.dataset.pipeline tiles it as a 2x2 grid; set '
     r'model.neck.num_patches=4 or JigsawPatches\(grid=3\)$'),
    (lambda local: local.pop(),
     r"use local views, but neither train_dataloader.dataset.pipeline has a JigsawPatches "
     r"nor model.data_preprocessor a jigsaw"),
    # 72 px mosaics resized to 96: the model would cut 32 px squares across the patches
    (lambda local: local.append(dict(type='Resize', scale=(96, 96))),
     r'local view 2 reaches the model as \(96, 96\) px, but the JigsawPatches of '
     r'train_dataloader.dataset.pipeline write 72x72 px mosaics'),
], ids=['2x2-into-9-patches', 'no-jigsaw', 'resized-after-jigsaw'])
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_pipeline_jigsaw_checked_before_step_1(tmp_path, synthetic_root, edit, message):
    """JigsawCheckHook reads the pipeline's JigsawPatches, not the samples' metainfo."""
    assert re.search(message, refused_before_step_1(TINY_CONFIG, tmp_path, synthetic_root,
                                                    edit))


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_mmpretrain_jigsaw_checked_before_step_1(tmp_path, synthetic_root):
    """mmpretrain's MultiView and PackInputs drop the jigsaw metainfo: the hook still sees it."""
    if importlib.util.find_spec('mmpretrain') is None:
        pytest.skip('mmpretrain is not installed (`make test` installs it)')
    message = refused_before_step_1(TINY_MMPRETRAIN, tmp_path, synthetic_root,
                                    lambda local: local[-1].update(TWO_BY_TWO))
    assert re.search(r'^model.neck.num_patches=9 .* JigsawPatches\(grid=2, .* tiles it as a '
                     r'2x2 grid', message)
