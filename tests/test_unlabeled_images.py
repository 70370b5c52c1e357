# Copyright (c) detco_mm contributors. All rights reserved.
"""UnlabeledImages: pretraining on a folder of images or a COCO-format file, by config switch."""
import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmselfsup.registry import DATASETS
from PIL import Image

from conftest import ROOT
from detco_mm.datasets import SKIPPED_KEY, BadImageError

COCO_CONFIG = osp.join(ROOT, 'configs', 'detco', 'detco_resnet50_8xb32-coslr-800e_coco.py')
FOLDER_CONFIG = osp.join(ROOT, 'configs', 'detco', 'detco_resnet50_8xb32-coslr-200e_folder.py')


def paths(dataset) -> list:
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def imagenet_layout_paths(tiny_cfg, root: str) -> list:
    """The same images read through the ImageNet layout (meta/train.txt) of the tiny config."""
    tiny_cfg.train_dataloader.dataset.update(data_root=root, pipeline=[])
    return sorted(paths(DATASETS.build(tiny_cfg.train_dataloader.dataset)))


def test_folder_is_scanned_recursively_without_meta_file(tmp_path):
    for name in ('top.png', 'a/b/deep.JPG', 'a/mid.jpeg'):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (8, 8)).save(tmp_path / name, format='PNG')
    (tmp_path / 'a' / 'notes.txt').write_text('not an image')
    dataset = DATASETS.build(dict(type='UnlabeledImages', data_root=str(tmp_path)))
    assert paths(dataset) == [str(tmp_path / n) for n in ('a/b/deep.JPG', 'a/mid.jpeg',
                                                          'top.png')]


def test_folder_and_coco_file_give_the_imagenet_layout_images(tiny_cfg, synthetic_root,
                                                               tmp_path):
    expected = imagenet_layout_paths(tiny_cfg, synthetic_root)
    folder = DATASETS.build(dict(type='UnlabeledImages', data_root=synthetic_root,
                                 data_prefix=dict(img_path='train/')))
    assert paths(folder) == expected
    coco = DATASETS.build(dict(type='UnlabeledImages', data_root=synthetic_root,
                               ann_file='annotations/instances_train.json'))
    assert sorted(paths(coco)) == expected
    # a file with the images only (no annotations, no categories) is enough
    full = json.load(open(osp.join(synthetic_root, 'annotations', 'instances_train.json')))
    (tmp_path / 'images.json').write_text(json.dumps(dict(images=full['images'])))
    images_only = DATASETS.build(dict(type='UnlabeledImages', data_root=synthetic_root,
                                      ann_file=str(tmp_path / 'images.json')))
    assert paths(images_only) == paths(coco)


@pytest.mark.parametrize('config', [COCO_CONFIG, FOLDER_CONFIG])
def test_config_switch_feeds_the_detco_pipeline(config, synthetic_root):
    cfg = Config.fromfile(config)
    dataset_cfg = cfg.train_dataloader.dataset
    if dataset_cfg.ann_file:  # the COCO config: point it at the synthetic COCO-format file
        dataset_cfg.update(ann_file='annotations/instances_train.json', data_prefix=dict(
            img_path=''))
    dataset_cfg.data_root = synthetic_root
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 8
    views = dataset[0]['inputs']  # [global q, global k, local q, local k] as DetCo reads them
    assert [tuple(v.shape) for v in views] == [(3, 224, 224)] * 2 + [(3, 192, 192)] * 2


@pytest.mark.parametrize('kwargs, words', [
    (dict(data_root='{tmp}/missing'), ['does not exist', 'data_root']),
    (dict(data_root='{tmp}'), ['no file ending in', '.jpg', 'data_root']),
    (dict(data_root='{tmp}', ann_file='missing.json'), ['missing.json', 'does not exist',
                                                        'ann_file']),
    (dict(data_root='{tmp}', ann_file='{tmp}/bad.json'), ['not a COCO-format', '"images"',
                                                          'ann_file']),
    (dict(data_root='{tmp}', ann_file='{tmp}/coco.json'), ["'x/1.jpg'",
                                                           'data_prefix.img_path']),
])
def test_bad_data_stops_with_one_line_naming_the_key(kwargs, words, tmp_path):
    (tmp_path / 'bad.json').write_text(json.dumps(dict(annotations=[])))
    (tmp_path / 'coco.json').write_text(json.dumps(dict(images=[dict(id=1,
                                                                     file_name='x/1.jpg')])))
    kwargs = {k: v.format(tmp=tmp_path) for k, v in kwargs.items()}
    with pytest.raises((FileNotFoundError, ValueError)) as err:
        DATASETS.build(dict(type='UnlabeledImages', **kwargs))
    message = str(err.value)
    assert '\n' not in message
    for word in words:
        assert word in message, message


def test_folder_skips_bad_files_like_the_image_list(tmp_path):
    """The folder reader shares CheckedImageList's skipping: a bad file gives a full sample
    naming the skipped file, or stops naming it when skipping is off."""
    Image.new('RGB', (8, 8)).save(tmp_path / 'good.png')
    (tmp_path / 'empty.jpg').write_bytes(b'')
    pipeline = [dict(type='LoadImageChecked'),
                dict(type='PackSelfSupInputs', meta_keys=['img_path'])]
    dataset = DATASETS.build(dict(type='UnlabeledImages', data_root=str(tmp_path),
                                  pipeline=pipeline, max_skipped_fraction=0.5))
    bad = paths(dataset).index(str(tmp_path / 'empty.jpg'))
    sample = dataset[bad]
    assert sample['data_samples'].img_path == str(tmp_path / 'good.png')
    assert sample['data_samples'].metainfo[SKIPPED_KEY][0].startswith(str(tmp_path / 'empty.jpg'))
    strict = DATASETS.build(dict(type='UnlabeledImages', data_root=str(tmp_path),
                                 pipeline=pipeline, skip_bad_images=False))
    with pytest.raises(BadImageError, match='empty.jpg'):
        strict[bad]
