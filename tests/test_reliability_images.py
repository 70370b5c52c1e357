# Copyright (c) detco_mm contributors. All rights reserved.
"""Bad and unusual images (issue 10, item 1): each is decoded right or skipped with a warning
naming it; image-list problems are one-line errors before training."""
import contextlib
import copy
import os
import shutil
import signal
import struct
import types
import zlib

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.logging import MMLogger
from mmselfsup.registry import DATASETS, HOOKS, TRANSFORMS
from mmselfsup.structures import SelfSupDataSample
from PIL import Image

from conftest import (
    TINY_CONFIG,
    TINY_MMPRETRAIN,
    needs_mmpretrain,
    tiny_pretrain_options,
    train_in_process,
)
from detco_mm.datasets import SKIPPED_KEY, BadImageError
from detco_mm.datasets.transforms import loading

NON_UTF8 = b'caf\xe9.png'  # a latin-1 file name: not valid UTF-8


def noise(h, w, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), np.uint8)


def write_good(folder):
    """Unusual but valid images, each one solid colour -> {file name: (shape, BGR colour)}."""
    expected = {}

    def save(name, img, bgr, **kwargs):
        img.save(os.path.join(folder, name), **kwargs)
        expected[name] = ((img.height, img.width, 3), bgr)

    save('gray.png', Image.new('L', (40, 30), 90), (90, 90, 90))
    save('rgba.png', Image.new('RGBA', (40, 30), (200, 100, 50, 128)), (50, 100, 200))
    palette = Image.new('P', (40, 30), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    save('palette.png', palette, (30, 20, 10))
    # 16-bit gray: 40000 / 256 -> 156 in 8 bits
    save('gray16.png', Image.fromarray(np.full((30, 40), 40000, np.uint16)), (156, 156, 156))
    save('cmyk.jpg', Image.new('CMYK', (40, 30), (0, 255, 255, 0)), (0, 0, 255), quality=100)
    save('one_pixel.png', Image.new('RGB', (1, 1), (7, 8, 9)), (9, 8, 7))
    save('thin.png', Image.new('RGB', (10, 3000), (1, 2, 3)), (3, 2, 1))
    with open(os.path.join(os.fsencode(folder), NON_UTF8), 'wb') as file:
        Image.new('RGB', (40, 30), (5, 6, 7)).save(file, format='PNG')
    expected[os.fsdecode(NON_UTF8)] = ((30, 40, 3), (7, 6, 5))
    return expected


def write_bad(folder):
    """Files that cannot be used -> {file name: words of the expected reason}."""
    Image.fromarray(noise(64, 64)).save(os.path.join(folder, 'full.jpg'), quality=95)
    Image.fromarray(noise(64, 64)).save(os.path.join(folder, 'full.png'))
    for ext in ('jpg', 'png'):
        with open(os.path.join(folder, f'full.{ext}'), 'rb') as file:
            data = file.read()
        with open(os.path.join(folder, f'truncated.{ext}'), 'wb') as file:
            file.write(data[:len(data) // 2])
        os.remove(os.path.join(folder, f'full.{ext}'))
    open(os.path.join(folder, 'zero.jpg'), 'wb').close()
    with open(os.path.join(folder, 'text.jpg'), 'w') as file:
        file.write('not an image\n')
    return {'truncated.jpg': 'truncated JPEG', 'truncated.png': 'truncated PNG',
            'zero.jpg': 'empty file', 'text.jpg': 'not a decodable image',
            'missing.jpg': 'no such file'}


@pytest.fixture(scope='module')
def image_root(tmp_path_factory):
    """data_root with train/ holding every case and meta/train.txt listing them all; the
    bad files first, lines with and without labels, one file name that is not UTF-8."""
    root = tmp_path_factory.mktemp('bad_images')
    train = root / 'train'
    train.mkdir()
    good, bad = write_good(str(train)), write_bad(str(train))
    (root / 'meta').mkdir()
    lines = [f'{name} 0' for name in bad] + [
        name if i % 2 else f'{name} 3' for i, name in enumerate(good)]
    (root / 'meta' / 'train.txt').write_bytes('\n'.join(lines).encode('utf-8', 'surrogateescape'))
    return types.SimpleNamespace(root=str(root) + '/', train=str(train), good=good, bad=bad)


def load(path):
    return TRANSFORMS.build(dict(type='LoadImageChecked'))(dict(img_path=path))


def test_unusual_images_decode_right(image_root):
    for name, (shape, bgr) in image_root.good.items():
        img = load(os.path.join(image_root.train, name))['img']
        assert img.dtype == np.uint8 and img.shape == shape, name
        # pixels within 3 levels of the colour (JPEG is lossy); a grid of them for speed
        pixels = img[::max(1, img.shape[0] // 64), ::max(1, img.shape[1] // 64)].reshape(-1, 3)
        assert (np.abs(pixels.min(0).astype(int) - bgr) <= 3).all(), name
        assert (np.abs(pixels.max(0).astype(int) - bgr) <= 3).all(), name


def test_huge_image_decodes(tmp_path):
    """8000 x 8000 (kept out of the image list: decoding it takes seconds)."""
    Image.new('RGB', (8000, 8000), (0, 128, 255)).save(tmp_path / 'huge.jpg', quality=90)
    img = load(str(tmp_path / 'huge.jpg'))['img']
    assert img.shape == (8000, 8000, 3)
    assert (np.abs(img[::500, ::500].astype(int) - (255, 128, 0)) <= 3).all()


def test_bad_images_raise_naming_the_file(image_root):
    for name, reason in image_root.bad.items():
        with pytest.raises(BadImageError) as error:
            load(os.path.join(image_root.train, name))
        message = str(error.value)
        assert message.startswith(os.path.join(image_root.train, name)) and reason in message
        assert '\n' not in message


def build_dataset(cfg, root, **kwargs):
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=root, **kwargs)
    return DATASETS.build(dataset_cfg)


def test_every_listed_image_gives_a_full_sample(tiny_cfg, image_root):
    """The tiny config's own dataset and pipeline: unusual images (1x1, 10x3000, 16-bit,
    CMYK, ...) become the 4 views; a bad one is replaced and named in the metainfo."""
    dataset = build_dataset(tiny_cfg, image_root.root)
    names = list(image_root.bad) + list(image_root.good)
    assert len(dataset) == len(names)
    np.random.seed(0)
    for i, name in enumerate(names):
        sample = dataset[i]
        assert [tuple(x.shape) for x in sample['inputs']] == [(3, 64, 64)] * 2 + [(3, 72, 72)] * 2
        skipped = sample['data_samples'].metainfo.get(SKIPPED_KEY, [])
        if name in image_root.bad:
            # the replacement may itself be bad: the first record is this file
            assert skipped[0].startswith(os.path.join(image_root.train, name)), skipped
        else:
            assert skipped == [], name
    # the batch keeps its size and the records travel through collate
    batch = default_collate([dataset[i] for i in range(4)])
    assert batch['inputs'][0].shape[0] == 4


def test_skipping_can_be_switched_off(tiny_cfg, image_root):
    dataset = build_dataset(tiny_cfg, image_root.root, skip_bad_images=False)
    with pytest.raises(BadImageError, match=r'truncated\.jpg: truncated JPEG .*'
                       r'skip_bad_images=True'):
        dataset[0]


def test_only_bad_images_fail_clearly(tiny_cfg, image_root, tmp_path):
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text('zero.jpg\ntext.jpg\n')
    os.symlink(image_root.train, tmp_path / 'train')
    dataset = build_dataset(tiny_cfg, f'{tmp_path}/', max_refetch=5)
    with pytest.raises(BadImageError, match=r'^6 images in a row could not be used, the last '
                       r'one: .*(zero|text)\.jpg: .*check train_dataloader.dataset.data_root'):
        dataset[0]


@pytest.mark.parametrize('content, message', [
    (b'', 'lists no images'),
    (b'\n  \n', 'lists no images'),
])
def test_empty_image_list_fails_before_training(tiny_cfg, tmp_path, content, message):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_bytes(content)
    with pytest.raises(ValueError, match=message):
        build_dataset(tiny_cfg, str(tmp_path) + '/')


def test_missing_list_or_folder_fails_before_training(tiny_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'meta/train.txt .* does not exist'):
        build_dataset(tiny_cfg, str(tmp_path) + '/')
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'train.txt').write_text('a.jpg\n')
    with pytest.raises(FileNotFoundError, match=r'image folder .*train/ .* does not exist'):
        build_dataset(tiny_cfg, str(tmp_path) + '/')


def runner_with(dataset_len, fraction):
    logger = MMLogger.get_instance('test_skipped_images', log_level='WARNING')
    dataset = type('Dataset', (), dict(max_skipped_fraction=fraction,
                                       __len__=lambda self: dataset_len))()
    return types.SimpleNamespace(logger=logger, epoch=0,
                                 train_dataloader=types.SimpleNamespace(dataset=dataset))


def batch_with(*records):
    samples = [SelfSupDataSample() for _ in range(2)]
    samples[0].set_metainfo({SKIPPED_KEY: list(records)})
    return dict(inputs=[torch.zeros(2, 3, 4, 4)], data_samples=samples)


def test_skipped_images_hook_counts_and_stops(capsys):
    hook = HOOKS.build(dict(type='SkippedImagesHook'))
    runner = runner_with(dataset_len=100, fraction=0.02)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0, batch_with('a.jpg: empty file (0 bytes)'))
    hook.after_train_iter(runner, 1, batch_with())
    hook.after_train_iter(runner, 2, batch_with('a.jpg: empty file (0 bytes)',
                                                'b.jpg: no such file'))
    log = capsys.readouterr().out
    assert 'a.jpg: empty file (0 bytes)' in log and '1 distinct skipped so far' in log
    assert 'b.jpg: no such file' in log and '2 distinct skipped so far' in log
    hook.after_train_epoch(runner)
    assert 'epoch 1: 3 bad image(s) skipped' in capsys.readouterr().out
    with pytest.raises(RuntimeError, match=r'3 of 100 images could not be used, more than '
                       r'train_dataloader.dataset.max_skipped_fraction=0.02'):
        hook.after_train_iter(runner, 3, batch_with('c.jpg: no such file'))


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
@pytest.mark.parametrize('config', [TINY_CONFIG, TINY_MMPRETRAIN], ids=['mmselfsup',
                                                                       'mmpretrain'])
def test_run_skips_bad_images_and_keeps_full_batches(config, tmp_path, synthetic_root,
                                                     image_root):
    """A real run on 8 good images after 3 bad ones (listed first, no shuffle, so all are
    met): it trains, every skip is in the log, and the queues took whole batches; with the
    tiny config of each face (a path-only list, as the first lines are)."""
    if config == TINY_MMPRETRAIN:
        needs_mmpretrain()
    root = tmp_path / 'data'
    (root / 'meta').mkdir(parents=True)
    train = root / 'train'
    shutil.copytree(os.path.join(synthetic_root, 'train'), train)
    for name in ('truncated.jpg', 'zero.jpg'):
        shutil.copy(os.path.join(image_root.train, name), train / name)
    good = (open(os.path.join(synthetic_root, 'meta', 'train.txt')).read().split('\n'))
    (root / 'meta' / 'train.txt').write_text(
        '\n'.join(['truncated.jpg', 'zero.jpg', 'missing.jpg 0'] + good))
    log = train_in_process(config, tmp_path / 'work', cfg_options=[
        *tiny_pretrain_options(f'{root}/', 1), 'train_dataloader.sampler.shuffle=False',
        'train_dataloader.dataset.max_skipped_fraction=0.5'])
    for name, reason in (('truncated.jpg', 'truncated JPEG'), ('zero.jpg', 'empty file'),
                         ('missing.jpg', 'no such file')):
        assert f'{train / name}: {reason}' in log
    assert 'distinct skipped so far' in log
    state = torch.load(tmp_path / 'work' / 'epoch_1.pth', weights_only=True)['state_dict']
    assert state['head.queue_g_ptr'].tolist() == [8] * 4  # 2 full batches of 4


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts a blocking open() (e.g. of a FIFO)."""
    def expire(signum, frame):
        raise TimeoutError(f'blocked for {seconds} s')
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def gray_png(path, width, height):
    """A valid all-black 8-bit gray PNG, compressed row by row (never whole in memory): 1 MB
    for 16000 x 16000 px at zlib's fastest level, 249 KB at its best."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data)))
    pack = zlib.compressobj(1)
    row = bytes(1 + width)  # filter byte 0 + the row
    idat = b''.join(pack.compress(row) for _ in range(height)) + pack.flush()
    with open(path, 'wb') as file:
        file.write(loading.PNG_START + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height,
                                                                   8, 0, 0, 0, 0)) +
                   chunk(b'IDAT', idat) + chunk(b'IEND', b''))


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if an image is decoded."""
    def decode(*args, **kwargs):
        raise AssertionError('decoded')
    monkeypatch.setattr(loading.mmcv, 'imfrombytes', decode)


@pytest.fixture(scope='module')
def special_root(tmp_path_factory):
    """data_root whose list names a FIFO, a directory and a device, each called like an
    image, two images over the default pixel limit and one good image."""
    root = tmp_path_factory.mktemp('special_files')
    train = root / 'train'
    train.mkdir()
    os.mkfifo(train / 'fifo.jpg')
    (train / 'folder.jpg').mkdir()
    os.symlink(os.devnull, train / 'device.jpg')
    # 100 Mpx: over PIL's 89.5 Mpx limit; 256 Mpx: over twice it, where PIL gives no size
    gray_png(train / 'huge.png', 10000, 10000)
    gray_png(train / 'bomb.png', 16000, 16000)
    Image.new('RGB', (40, 30), (1, 2, 3)).save(train / 'good.png')
    reasons = {'fifo.jpg': 'a FIFO (named pipe), not a regular file; not opened',
               'folder.jpg': 'a directory, not a regular file; not opened',
               'device.jpg': 'a character device, not a regular file; not opened',
               'huge.png': '10000x10000 = 100000000 pixels, more than '
                           f'LoadImageChecked(max_pixels={Image.MAX_IMAGE_PIXELS}); not decoded',
               'bomb.png': f'more than {2 * Image.MAX_IMAGE_PIXELS} pixels, more than '
                           f'LoadImageChecked(max_pixels={Image.MAX_IMAGE_PIXELS}); not decoded'}
    (root / 'meta').mkdir()
    (root / 'meta' / 'train.txt').write_text('\n'.join([*reasons, 'good.png']))
    return types.SimpleNamespace(root=f'{root}/', train=str(train), reasons=reasons)


def test_special_files_and_huge_images_refused_without_opening_or_decoding(special_root,
                                                                            no_decoding):
    for name, reason in special_root.reasons.items():
        with time_limit(10), pytest.raises(BadImageError) as error:
            load(os.path.join(special_root.train, name))
        assert str(error.value) == f'{os.path.join(special_root.train, name)}: {reason}'


def test_pixel_limit_is_a_switch(tmp_path):
    Image.new('RGB', (100, 80), (1, 2, 3)).save(tmp_path / 'img.png')
    path = str(tmp_path / 'img.png')
    small = TRANSFORMS.build(dict(type='LoadImageChecked', max_pixels=7999))
    with pytest.raises(BadImageError, match=r'img.png: 100x80 = 8000 pixels, more than '
                       r'LoadImageChecked\(max_pixels=7999\); not decoded'):
        small(dict(img_path=path))
    for limit in (8000, None):
        out = TRANSFORMS.build(dict(type='LoadImageChecked', max_pixels=limit))(
            dict(img_path=path))
        assert out['img'].shape == (80, 100, 3)
    with pytest.raises(ValueError, match=r"max_pixels='1e6' must be a positive integer"):
        TRANSFORMS.build(dict(type='LoadImageChecked', max_pixels='1e6'))


def test_special_files_in_the_list_are_skipped_naming_them(tiny_cfg, special_root):
    """Through the tiny config's dataset: every sample is full, every special file and huge
    image is named as skipped, and nothing blocks."""
    dataset = build_dataset(tiny_cfg, special_root.root, max_skipped_fraction=1.)
    with time_limit(60):
        for i, name in enumerate(special_root.reasons):
            sample = dataset[i]
            assert [tuple(x.shape) for x in sample['inputs']] == [(3, 64, 64)] * 2 + [
                (3, 72, 72)] * 2
            skipped = sample['data_samples'].metainfo[SKIPPED_KEY]
            assert skipped[0] == f'{os.path.join(special_root.train, name)}: ' \
                                 f'{special_root.reasons[name]}'
            assert sample['data_samples'].img_path.endswith('good.png')
