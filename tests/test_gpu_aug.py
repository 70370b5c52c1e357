# Copyright (c) detco_mm contributors. All rights reserved.
"""The detco-gpuaug path (DetCoGPUAugDataPreprocessor) against the CPU pipeline it replaces.

Distribution tests draw a few thousand times through both paths (CPU: the mmselfsup/mmcv
transforms built from the main config's ``view_augs``; device: their batched version on CPU
tensors) and compare statistics of the outputs. Tolerances: ~4 standard errors of the
statistic at the stated sample size, plus, where said, the CPU path's uint8 truncations.
"""
import itertools
import os.path as osp
import random

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmselfsup.registry import DATASETS, MODELS, TRANSFORMS
from PIL import Image, ImageFilter

from conftest import ROOT, tiny_pretrain_options, train_in_process
from detco_mm.models.utils import BatchViewAugment, jigsaw_cut, jigsaw_params
from detco_mm.models.utils import batch_augment as B

CONFIGS = osp.join(ROOT, 'configs', 'detco')
MAIN = osp.join(CONFIGS, 'detco_resnet50_8xb32-coslr-200e_in1k.py')
GPUAUG = osp.join(CONFIGS, 'detco-gpuaug_resnet50_8xb32-coslr-200e_in1k.py')
TINY_GPUAUG = osp.join(CONFIGS, 'detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py')
N = 3000  # draws per path


def view_augs(*types):
    """The main config's view_augs (all, or those of the given types)."""
    augs = Config.fromfile(MAIN).view_augs
    return [a.to_dict() for a in augs if not types or a['type'] in types]


def cpu_draws(transforms, img_bgr, n=N):
    """n outputs of the CPU transforms, (n, 3, H, W) float RGB."""
    pipe = [TRANSFORMS.build(t) for t in transforms]
    out = []
    for _ in range(n):
        r = dict(img=img_bgr.copy())
        for t in pipe:
            r = t(r)
        out.append(r['img'][..., ::-1])
    return torch.from_numpy(np.stack(out).astype(np.float32)).permute(0, 3, 1, 2)


def to_rgb_tensor(img_bgr, n=1):
    return torch.from_numpy(img_bgr[..., ::-1].astype(np.float32).copy()).permute(2, 0, 1)[
        None].repeat(n, 1, 1, 1)


def device_draws(transforms, img_bgr, n=N):
    return BatchViewAugment(transforms)(to_rgb_tensor(img_bgr, n))


def ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    a, b = np.sort(np.asarray(a)), np.sort(np.asarray(b))
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, 'right') / len(a) -
                  np.searchsorted(b, grid, 'right') / len(b)).max()


def hsv(x):
    """(n, 3, H, W) RGB [0, 255] -> hue, saturation, value of pixel (0, 0)."""
    h, s, v = B.rgb_to_hsv(x[:, :, :1, :1] / 255.)[:, :, 0, 0].T.numpy()
    return h, s, v


@pytest.fixture(autouse=True)
def seeded():
    np.random.seed(0)
    torch.manual_seed(0)


def test_color_jitter_and_grayscale_distribution():
    """Whole view_augs on a one-colour image (crop, blur and flip leave it unchanged)."""
    img = np.full((4, 4, 3), (60, 90, 120), np.uint8)  # BGR; muted so little clipping
    cpu, dev = cpu_draws(view_augs(), img), device_draws(view_augs(), img)
    h0, _, _ = hsv(to_rgb_tensor(img))
    stats = {}
    for name, x in (('cpu', cpu), ('dev', dev)):
        gray = (x[:, 0] == x[:, 1]).all((1, 2)) & (x[:, 1] == x[:, 2]).all((1, 2))
        h, s, v = hsv(x[~gray])
        shift = (h - h0[0] + 0.5) % 1. - 0.5
        stats[name] = dict(gray=gray.float().mean().item(), v=v, s=s, shift=shift,
                           mean=x[~gray].mean((1, 2, 3)).numpy())
    c, d = stats['cpu'], stats['dev']
    # RandomGrayscale p=0.2: 4 SE of a proportion at n=3000 is 0.03
    assert abs(c['gray'] - 0.2) < 0.03 and abs(d['gray'] - 0.2) < 0.03
    for key, quantum in (('v', 1 / 255), ('mean', 1.), ('s', 1 / 255)):
        sd = c[key].std()
        # 4 SE of the mean + 3 uint8 truncations (CPU path); std within 5 %; KS 0.07 =
        # 0.1 % critical value at n=3000 (0.05) + steps of the CPU path's uint8 outputs
        assert abs(c[key].mean() - d[key].mean()) < 4 * sd * np.sqrt(2 / N) + 3 * quantum, key
        assert abs(c[key].std() / d[key].std() - 1) < 0.05, key
        assert ks(c[key], d[key]) < 0.07, key
    # hue shift: 20 % no jitter, 80 % U[-0.1, 0.1] turns; the CPU path shifts by whole 1/255
    # steps and quantises hue to 1/255, so 2/255 for the mean and a 0.08 KS bound
    assert abs(c['shift'].mean() - d['shift'].mean()) < 4 * 0.06 * np.sqrt(2 / N) + 2 / 255
    assert abs(np.abs(c['shift']).max() - 0.1) < 3 / 255
    assert abs(np.abs(d['shift']).max() - 0.1) < 1e-3
    assert abs(c['shift'].std() / d['shift'].std() - 1) < 0.05
    assert ks(c['shift'], d['shift']) < 0.08
    # the unjittered 20 % of the non-gray images keep their hue exactly on the device
    assert abs((np.abs(d['shift']) < 1e-6).mean() - 0.2) < 0.03


def edge_sigma(x):
    """Blur sigma read from a blurred vertical step edge: std of the edge's derivative."""
    d = np.diff(x[:, 0, 4].numpy().astype(np.float64), axis=1)
    pos = np.arange(d.shape[1])
    w = d / d.sum(1, keepdims=True)
    mean = (w * pos).sum(1, keepdims=True)
    return np.sqrt((w * (pos - mean) ** 2).sum(1))


def test_blur_sigma_distribution():
    img = np.full((9, 48, 3), 40, np.uint8)
    img[:, 24:] = 200
    augs = view_augs('RandomGaussianBlur')
    cpu, dev = edge_sigma(cpu_draws(augs, img)), edge_sigma(device_draws(augs, img))
    # sigma ~ U[0.1, 2] with p=0.5: P(sigma > s) = 0.5 (2 - s) / 1.9. Below ~0.7 px the edge
    # does not tell (pillow's uint8 box passes drop small tails, the sampled kernel is narrower
    # than sigma), so compare from 0.75 px; 0.03 = 4 SE of a proportion at n=3000.
    for s in (0.75, 1.0, 1.25, 1.5, 1.75):
        expect = 0.5 * (2 - s) / 1.9
        assert abs((cpu > s).mean() - expect) < 0.03, s
        assert abs((dev > s).mean() - expect) < 0.03, s
    big_c, big_d = cpu[cpu > 0.75], dev[dev > 0.75]
    # mean sigma of the clearly blurred ones: 4 SE (0.02 px) + 0.03 px for pillow's truncations
    assert abs(big_c.mean() - big_d.mean()) < 0.05
    assert (dev < 1e-6).mean() == pytest.approx(0.5, abs=0.03)


def test_flip_rate():
    img = np.zeros((2, 2, 3), np.uint8)
    img[:, 0] = 255
    augs = view_augs('RandomFlip')
    for x in (cpu_draws(augs, img), device_draws(augs, img)):
        assert abs((x[:, 0, 0, 1] == 255).float().mean().item() - 0.5) < 0.03


def test_crop_scale_and_aspect_same_in_both_configs():
    """The gpuaug configs' CPU crops are the default ones: scale and aspect distributions."""
    def crops(cfg_path):
        multi = Config.fromfile(cfg_path).train_pipeline[1]
        return [TRANSFORMS.build(pipe[0]) for pipe in multi.transforms]
    img = np.zeros((375, 500, 3), np.uint8)
    for cpu_t, dev_t in zip(crops(MAIN), crops(GPUAUG)):
        assert cpu_t.size == dev_t.size
        stats = []
        for t in (cpu_t, dev_t):
            boxes = np.array([t.get_params(img, t.scale, t.ratio) for _ in range(N // 2)])
            h, w = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
            stats.append((h * w / img[..., 0].size, np.log(w / h)))
        for a, b in zip(*stats):
            assert abs(a.mean() - b.mean()) < 4 * a.std() * np.sqrt(4 / N)
            assert ks(a, b) < 0.07


def test_contiguous_crop_is_mmselfsups_crop():
    """Same random draws, same pixels (only the copy before pillow differs)."""
    img = np.random.RandomState(2).randint(0, 256, (120, 90, 3), np.uint8)
    cfg = dict(size=40, scale=(0.2, 1.), backend='pillow')
    ref = TRANSFORMS.build(dict(type='RandomResizedCrop', **cfg))
    fast = TRANSFORMS.build(dict(type='ContiguousRandomResizedCrop', **cfg))
    for seed in range(20):
        outs = []
        for t in (ref, fast):
            random.seed(seed)
            outs.append(t(dict(img=img.copy()))['img'])
        assert outs[0].shape == (40, 40, 3) and np.array_equal(*outs)


def test_jigsaw_positions_and_permutations_distribution():
    cpu_t = TRANSFORMS.build(Config.fromfile(MAIN).jigsaw)
    img = np.zeros((255, 255, 3), np.uint8)
    cpu = [cpu_t(dict(img=img)) for _ in range(N)]
    cpu_boxes = np.stack([r['jigsaw_boxes'] for r in cpu])
    cpu_perm = np.stack([r['jigsaw_perm'] for r in cpu])
    dev_boxes, dev_perm = jigsaw_params(N, 3, 85, 64, True)
    for boxes, perm in ((cpu_boxes, cpu_perm), (dev_boxes, dev_perm)):
        offsets = boxes[..., :2] - np.stack(np.divmod(np.arange(9), 3)[::-1], 1) * 85
        assert offsets.min() == 0 and offsets.max() == 85 - 64
        # uniform on 0..21: mean 10.5, std 6.34; 4 SE at n=27000 per axis: 0.15
        assert abs(offsets.mean() - 10.5) < 0.15 and abs(offsets.std() - 6.34) < 0.1
        assert (np.sort(perm, 1) == np.arange(9)).all()
        # cell c in slot s with probability 1/9: 4 SE at n=3000 is 0.023
        freq = np.stack([(perm == c).mean(0) for c in range(9)])
        assert np.abs(freq - 1 / 9).max() < 0.023


def test_jigsaw_cut_equals_cpu_mosaic():
    """Given the same boxes and permutation, the device mosaic is the CPU one, exactly."""
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (5, 255, 255, 3), np.uint8)
    t = TRANSFORMS.build(Config.fromfile(MAIN).jigsaw)
    outs = [t(dict(img=im)) for im in imgs]
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2)
    mosaic = jigsaw_cut(x, np.stack([o['jigsaw_boxes'] for o in outs]),
                        np.stack([o['jigsaw_perm'] for o in outs]), 3)
    expect = torch.from_numpy(np.stack([o['img'] for o in outs])).permute(0, 3, 1, 2)
    assert torch.equal(mosaic, expect)


def natural_image():
    """Smooth colours and sharp edges, (64, 64, 3) uint8 BGR."""
    rng = np.random.RandomState(1)
    small = Image.fromarray(rng.randint(0, 256, (8, 8, 3), np.uint8))
    img = np.array(small.resize((64, 64), Image.BILINEAR))
    img[20:30, 10:50] = (250, 30, 10)
    return img


@pytest.mark.parametrize('step,cpu_fn,factor,mean_tol,max_tol', [
    # pillow truncates its blend to uint8: < 1 level
    ('brightness', lambda im, f: mmcv.adjust_brightness(im, f, backend='pillow'), 1.3, 0.6, 1),
    ('contrast', lambda im, f: mmcv.adjust_contrast(im, f, backend='pillow'), 0.7, 0.6, 1),
    ('saturation', lambda im, f: mmcv.adjust_color(im, f, backend='pillow'), 1.35, 0.7, 1.5),
    # pillow's 8-bit HSV round trip: up to 7 levels on saturated pixels, 0.7 on average
    ('hue', lambda im, f: mmcv.adjust_hue(im, f, backend='pillow'), 0.07, 0.7, 7),
    ('hue', lambda im, f: mmcv.adjust_hue(im, f, backend='pillow'), -0.09, 0.7, 7),
])
def test_fixed_parameter_color_steps_pixelwise(step, cpu_fn, factor, mean_tol, max_tol):
    img = natural_image()
    cpu = to_rgb_tensor(cpu_fn(img, factor))
    # mmcv shifts pillow's 8-bit hue by np.uint8(factor * 255): whole 1/255 turns (docs/speed.md)
    dev_factor = np.trunc(factor * 255) / 255 if step == 'hue' else factor
    dev = getattr(B, f'adjust_{step}')(to_rgb_tensor(img), torch.tensor([dev_factor]))
    diff = (cpu - dev).abs()
    assert diff.mean() < mean_tol and diff.max() <= max_tol, (diff.mean(), diff.max())


def test_fixed_parameter_grayscale_flip_blur_pixelwise():
    img = natural_image()
    x = to_rgb_tensor(img)
    gray_t = TRANSFORMS.build(dict(view_augs('RandomGrayscale')[0], prob=1.))
    gray = B.build_step(dict(view_augs('RandomGrayscale')[0], prob=1.))(x)
    # mmcv truncates the weighted sum to uint8: < 1 level
    assert ((to_rgb_tensor(gray_t(dict(img=img))['img']) - gray).abs().max() < 1)
    flip = B.RandomFlip(prob=1.)(x)
    assert torch.equal(flip, to_rgb_tensor(mmcv.imflip(img)))
    for sigma in (1.0, 2.0):
        pil = np.array(Image.fromarray(img[..., ::-1]).filter(ImageFilter.GaussianBlur(sigma)))
        cpu = torch.from_numpy(pil.astype(np.float32)).permute(2, 0, 1)[None]
        dev = B.gaussian_blur(x, torch.tensor([sigma]), radius=8)
        diff = (cpu - dev).abs()
        # pillow's three box passes approximate the Gaussian (same variance, flatter top)
        assert diff.mean() < 1.5 and diff.max() < 12, (sigma, diff.mean(), diff.max())


def test_color_jitter_order_is_drawn_per_image():
    """Fixed factors, so only the order varies: the frequencies of the resulting outputs agree
    between the paths (mmselfsup draws one of the 24 orders per image)."""
    jitter = dict(type='ColorJitter', brightness=(1.4, 1.4), contrast=(0.5, 0.5),
                  saturation=(1.5, 1.5), hue=(0.1, 0.1))
    img = np.array([[[30, 200, 90], [220, 40, 60], [128, 128, 20]]], np.uint8)
    cpu, dev = cpu_draws([jitter], img, 2400), device_draws([jitter], img, 2400)
    refs = []
    steps = [B.adjust_brightness, B.adjust_contrast, B.adjust_saturation, B.adjust_hue]
    factors = [1.4, 0.5, 1.5, 0.1]
    for order in itertools.permutations(range(4)):
        y = to_rgb_tensor(img)
        for i in order:
            y = steps[i](y, torch.tensor([factors[i]]))
        refs.append(y.flatten())
    refs = torch.stack(refs)
    # merge orders whose outputs are within 4 levels (they commute on this image)
    label = list(range(24))
    for i in range(24):
        for j in range(i):
            if (refs[i] - refs[j]).abs().max() < 4:
                label[i] = label[j]
                break
    classes = sorted(set(label))
    assert len(classes) >= 6
    freq = {}
    for name, x in (('cpu', cpu), ('dev', dev)):
        nearest = torch.cdist(x.flatten(1), refs).argmin(1).numpy()
        lab = np.array(label)[nearest]
        freq[name] = np.array([(lab == c).mean() for c in classes])
    expect = np.array([label.count(c) / 24 for c in classes])
    # 4 SE of a proportion of at most 1/2 at n=2400: 0.04
    assert np.abs(freq['cpu'] - expect).max() < 0.04
    assert np.abs(freq['dev'] - expect).max() < 0.04


def test_preprocessor_outputs_of_tiny_gpuaug_config(synthetic_root):
    cfg = Config.fromfile(TINY_GPUAUG)
    cfg.train_dataloader.dataset.data_root = synthetic_root
    data = default_collate([DATASETS.build(cfg.train_dataloader.dataset)[i] for i in range(4)])
    assert [tuple(v.shape[-2:]) for v in data['inputs']] == [(64, 64)] * 2 + [(96, 96)] * 2
    pre = MODELS.build(cfg.model.data_preprocessor)
    views, _ = pre(data, True)
    assert [tuple(v.shape) for v in views] == [(4, 3, 64, 64)] * 2 + [(4, 3, 72, 72)] * 2
    assert all(v.dtype == torch.float32 and v.abs().max() < 3 for v in views)


def test_preprocessor_draws_per_rank_and_from_the_global_torch_state(monkeypatch):
    """The draws depend on the rank and on the global torch generator's state (which
    mmengine seeds and CrashSafeCheckpointHook restores on resume), on nothing else: not on
    numpy's global generator. The real two-process run: tests/test_two_processes.py."""
    from detco_mm.models.data_preprocessors import gpu_aug_data_preprocessor as module
    pre = MODELS.build(Config.fromfile(TINY_GPUAUG).model.data_preprocessor)
    images = torch.Generator().manual_seed(1)
    batch = [torch.randint(0, 256, (4, 3, s, s), generator=images, dtype=torch.uint8)
             for s in (64, 64, 96, 96)]

    def views(rank, torch_state, numpy_seed):
        monkeypatch.setattr(module, 'get_rank', lambda: rank)
        torch.set_rng_state(torch_state)
        np.random.seed(numpy_seed)
        return pre(dict(inputs=[x.clone() for x in batch], data_samples=None), True)[0]

    state = torch.get_rng_state()
    rank0, rank1 = views(0, state, 0), views(1, state, 0)
    again = views(0, state, 1)
    torch.manual_seed(123)
    other = views(0, torch.get_rng_state(), 0)
    for view in range(4):
        assert not torch.equal(rank0[view], rank1[view]), view
        assert torch.equal(rank0[view], again[view]), view
        assert not torch.equal(rank0[view], other[view]), view


def test_preprocessor_bad_configs():
    cfg = Config.fromfile(TINY_GPUAUG).model.data_preprocessor
    bad = dict(cfg, view_augs=[dict(type='RandomSolarize')])
    with pytest.raises(ValueError, match="'RandomSolarize' has no device version"):
        MODELS.build(bad)
    pre = MODELS.build(cfg)
    data = dict(inputs=[torch.zeros(2, 3, 64, 64, dtype=torch.uint8)] * 2 +
                [torch.zeros(2, 3, 90, 90, dtype=torch.uint8)] * 2, data_samples=None)
    with pytest.raises(ValueError, match=r'local view 2 is .90, 90. px.*local crop size to 96'):
        pre(data, True)


@pytest.mark.slow(30)
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_tiny_gpuaug_resume_continues_the_draws(tmp_path, synthetic_root):
    """1 epoch, then --resume to 2, ends where 2 epochs in one go end: the preprocessor's
    draws of epoch 2 follow from the restored global generator states, not from the seed."""
    seeded = ['randomness.seed=3', 'randomness.deterministic=True']

    def train(work_dir, epochs, *options):
        train_in_process(TINY_GPUAUG, work_dir, cfg_options=[
            *tiny_pretrain_options(synthetic_root, epochs), *seeded, *options])
        return torch.load(work_dir / f'epoch_{epochs}.pth', weights_only=True)['state_dict']

    expected = train(tmp_path / 'straight', 2)
    train(tmp_path / 'resumed', 1)
    resumed = train(tmp_path / 'resumed', 2, 'resume=True')
    assert set(resumed) == set(expected)
    for key in expected:
        torch.testing.assert_close(resumed[key], expected[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_tiny_gpuaug_config_trains(tmp_path, synthetic_root):
    log = train_in_process(TINY_GPUAUG, tmp_path,
                           cfg_options=tiny_pretrain_options(synthetic_root, 1))
    assert 'DetCoGPUAugDataPreprocessor' in log
    assert 'loss_l2g_res5' in next(tmp_path.glob('*/vis_data/scalars.json')).read_text()
    assert (tmp_path / 'epoch_1.pth').exists()
