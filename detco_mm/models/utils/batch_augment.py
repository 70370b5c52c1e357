# Copyright (c) detco_mm contributors. All rights reserved.
"""MoCo v2's view augmentation and DetCo's jigsaw cut, batched on tensors (any device).

``BatchViewAugment`` reads the same transform configs as the CPU pipeline (the configs'
``view_augs``) and applies their torch equivalent to a batch, every sample with its own
random parameters, drawn from the ``generator`` given to the call (the global torch
generator when None). [C] Plain torch, no new dependency: kornia's ColorJitter draws one order
of the four factors per batch, mmselfsup's ``ColorJitter`` one per image, and this keeps the
latter. Semantics follow pillow, the CPU path's backend (mmcv ``adjust_*`` with
``backend='pillow'``); what differs is listed in docs/speed.md.

Images are (N, 3, H, W) float RGB in [0, 255]; values stay float between the steps (the CPU
path truncates to uint8 after each).
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ...contracts.mosaic import cell_crop_boxes, patches_to_mosaic

# pillow's "L" conversion (ITU-R 601-2 luma), used by ImageEnhance.Contrast and .Color.
LUMA_RGB = (0.299, 0.587, 0.114)


def _per_sample(v: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, 1), to broadcast one value per image."""
    return v.view(-1, 1, 1, 1)


def luma(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) pillow 'L' gray (not rounded)."""
    w = x.new_tensor(LUMA_RGB).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """pillow ImageEnhance.Brightness: blend with black."""
    return (x * _per_sample(factor)).clamp(0, 255)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """pillow ImageEnhance.Contrast: blend with the image's mean gray, rounded as pillow does."""
    mean = luma(x).mean(dim=(1, 2, 3), keepdim=True).round()
    return (mean + _per_sample(factor) * (x - mean)).clamp(0, 255)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """pillow ImageEnhance.Color (mmcv ``adjust_color``): blend with the gray image."""
    gray = luma(x)
    return (gray + _per_sample(factor) * (x - gray)).clamp(0, 255)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> HSV, hue in turns [0, 1)."""
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    d = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2. + rc - bc, 4. + gc - rc))
    h = torch.where(delta > 0, (h / 6.) % 1., torch.zeros_like(h))
    return torch.stack([h, s, maxc], 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``rgb_to_hsv``."""
    h, s, v = x.unbind(1)
    h6 = h * 6.
    i = torch.floor(h6)
    f = h6 - i
    i = (i.long() % 6).unsqueeze(1)
    p, q, t = v * (1. - s), v * (1. - s * f), v * (1. - s * (1. - f))
    # sector i -> (r, g, b): 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q)
    r = torch.stack([v, q, p, p, t, v], 1).gather(1, i)
    g = torch.stack([t, v, v, q, p, p], 1).gather(1, i)
    b = torch.stack([p, p, t, v, v, q], 1).gather(1, i)
    return torch.cat([r, g, b], 1)


def adjust_hue(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Shift the HSV hue by ``factor`` turns (mmcv ``adjust_hue``, pillow's HSV)."""
    hsv = rgb_to_hsv(x / 255.)
    h = (hsv[:, 0] + factor.view(-1, 1, 1)) % 1.
    return hsv_to_rgb(torch.stack([h, hsv[:, 1], hsv[:, 2]], 1)) * 255.


def to_grayscale(x: torch.Tensor, rgb_weights: Sequence[float]) -> torch.Tensor:
    """Weighted gray repeated to 3 channels (mmcv ``RandomGrayscale(keep_channels=True)``)."""
    w = x.new_tensor(rgb_weights) / sum(rgb_weights)
    return (x * w.view(1, 3, 1, 1)).sum(1, keepdim=True).expand_as(x)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Separable blur with a sampled Gaussian kernel of ``2 * radius + 1`` taps per image.

    [C] A true (sampled, normalised) Gaussian, replicated borders like pillow. pillow's
    ``GaussianBlur(radius=sigma)`` is three passes of an extended box filter whose variance
    equals sigma**2; for sigma < ~0.5 the sampled kernel is narrower than that (docs/speed.md).
    """
    n, c, h, w = x.shape
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (taps / sigma.to(x.dtype).view(-1, 1)) ** 2)  # N x taps
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # N*C x taps
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode='replicate'), k.view(n * c, 1, 1, -1),
                 groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode='replicate'), k.view(n * c, 1, -1, 1),
                 groups=n * c)
    return y.view(n, c, h, w)


def _rand(size, like: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """U[0, 1) on ``like``'s device; ``generator`` must live on that device."""
    return torch.rand(size, device=like.device, generator=generator)


def _uniform(n: int, low: float, high: float, like: torch.Tensor,
             generator: Optional[torch.Generator]) -> torch.Tensor:
    return _rand(n, like, generator) * (high - low) + low


def _on_subset(x: torch.Tensor, keep: torch.Tensor, fn: Callable) -> torch.Tensor:
    """Apply ``fn`` to the images where ``keep`` (N,) is True, in place of them."""
    idx = keep.nonzero().squeeze(1)
    if idx.numel():
        x = x.index_copy(0, idx, fn(x.index_select(0, idx)))
    return x


class ColorJitter:
    """mmselfsup ``ColorJitter``: per image, factors and a random order of the four steps."""

    def __init__(self, brightness=0., contrast=0., saturation=0., hue=0., backend='pillow'):
        if backend != 'pillow':
            raise ValueError(f"ColorJitter: backend='{backend}' has no device version; "
                             f"use backend='pillow' (the MoCo v2 configs' default)")
        self.ranges = [self._range(brightness, 1.), self._range(contrast, 1.),
                       self._range(saturation, 1.), self._range(hue, 0.)]
        self.steps = [adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue]

    @staticmethod
    def _range(value, center: float) -> Optional[Tuple[float, float]]:
        """mmselfsup ``ColorJitter._check_input``: v -> [center - v, center + v] (>= 0 but
        for hue); None (step skipped) for [center, center]."""
        if isinstance(value, (int, float)):
            value = (max(center - value, 0.) if center else -value, center + value)
        return None if value[0] == value[1] == center else tuple(value)

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        n = x.shape[0]
        factors = [None if r is None else _uniform(n, *r, x, generator) for r in self.ranges]
        order = _rand((n, 4), x, generator).argsort(1)  # a permutation per image
        for position in range(4):
            for step_id, step in enumerate(self.steps):
                keep = order[:, position] == step_id
                if self.ranges[step_id] is not None:
                    f = factors[step_id][keep]
                    x = _on_subset(x, keep, lambda v, s=step, f=f: s(v, f))
        return x


class RandomApply:
    """mmcv ``RandomApply``: the wrapped steps on each image with probability ``prob``."""

    def __init__(self, transforms: List[Callable], prob: float = 0.5):
        self.transforms, self.prob = transforms, prob

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        keep = _rand(x.shape[0], x, generator) < self.prob

        def run(v):
            for t in self.transforms:
                v = t(v, generator)
            return v
        return _on_subset(x, keep, run)


class RandomGrayscale:
    """mmcv ``RandomGrayscale(keep_channels=True)``; its weights are given in BGR order."""

    def __init__(self, prob=0.1, keep_channels=False, channel_weights=(1., 1., 1.),
                 color_format='bgr'):
        if not keep_channels or color_format != 'bgr':
            raise ValueError(f'RandomGrayscale: keep_channels={keep_channels}, '
                             f"color_format='{color_format}' has no device version; use "
                             f"keep_channels=True, color_format='bgr' (MoCo v2's)")
        self.prob, self.rgb_weights = prob, tuple(channel_weights)[::-1]

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        keep = _rand(x.shape[0], x, generator) < self.prob
        return torch.where(_per_sample(keep), to_grayscale(x, self.rgb_weights), x)


class RandomGaussianBlur:
    """mmselfsup ``RandomGaussianBlur``: sigma ~ U[sigma_min, sigma_max] per image."""

    def __init__(self, sigma_min: float, sigma_max: float, prob: float = 0.5):
        self.sigma_min, self.sigma_max, self.prob = sigma_min, sigma_max, prob
        self.radius = max(1, math.ceil(4 * sigma_max))  # [C] kernel mass beyond 4 sigma < 1e-4

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        n = x.shape[0]
        keep = _rand(n, x, generator) < self.prob
        sigma = _uniform(n, self.sigma_min, self.sigma_max, x, generator)
        return _on_subset(x, keep, lambda v: gaussian_blur(v, sigma[keep], self.radius))


class RandomFlip:
    """mmcv ``RandomFlip`` with a single float ``prob`` and the horizontal direction."""

    def __init__(self, prob=None, direction='horizontal'):
        if not isinstance(prob, float) or direction != 'horizontal':
            raise ValueError(f"RandomFlip: prob={prob}, direction='{direction}' has no device "
                             f"version; use one float prob and direction='horizontal'")
        self.prob = prob

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        keep = _rand(x.shape[0], x, generator) < self.prob
        return torch.where(_per_sample(keep), x.flip(-1), x)


STEPS = dict(ColorJitter=ColorJitter, RandomApply=RandomApply, RandomGrayscale=RandomGrayscale,
             RandomGaussianBlur=RandomGaussianBlur, RandomFlip=RandomFlip)


def build_step(cfg: dict) -> Callable:
    """One CPU transform config (mmselfsup/mmcv name and arguments) -> its batched version."""
    cfg = dict(cfg)
    name = cfg.pop('type')
    if name not in STEPS:
        raise ValueError(f"view_augs: transform '{name}' has no device version (supported: "
                         f"{', '.join(STEPS)}); keep it in the CPU pipeline (the default configs)")
    if name == 'RandomApply':
        cfg['transforms'] = [build_step(t) for t in cfg['transforms']]
    return STEPS[name](**cfg)


class BatchViewAugment:
    """The steps of a CPU view pipeline (e.g. the configs' ``view_augs``), batched.

    Args:
        transforms (list[dict]): CPU transform configs: ``RandomApply``, ``ColorJitter``,
            ``RandomGrayscale``, ``RandomGaussianBlur``, ``RandomFlip``, in pipeline order.
    """

    def __init__(self, transforms: List[dict]) -> None:
        self.steps = [build_step(t) for t in transforms]

    def __call__(self, x: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """(N, 3, H, W) float RGB in [0, 255] -> augmented, same shape; the draws come from
        ``generator`` (on ``x``'s device), or the global torch generator when None."""
        for step in self.steps:
            x = step(x, generator)
        return x


def jigsaw_params(num: int, grid: int, cell_size: int, patch_size: int,
                  shuffle: bool = True, rng: Optional[np.random.RandomState] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Per image, ``JigsawPatches``' draws: each cell's patch box and the slot permutation.

    Args:
        rng (np.random.RandomState, optional): Where to draw from. Defaults to None: numpy's
            global generator, as ``JigsawPatches``.

    Returns:
        tuple: boxes (num, grid**2, 4) (x1, y1, x2, y2) and perm (num, grid**2) (slot s holds
        the patch of cell ``perm[:, s]``).
    """
    rng = np.random if rng is None else rng
    boxes = cell_crop_boxes(grid, cell_size, patch_size, num=num, rng=rng)
    n = grid * grid
    perm = (np.argsort(rng.rand(num, n), axis=1) if shuffle
            else np.tile(np.arange(n), (num, 1)))
    return boxes, perm


def jigsaw_cut(x: torch.Tensor, boxes: np.ndarray, perm: np.ndarray, grid: int) -> torch.Tensor:
    """Cut each image's patches at ``boxes`` and tile them in ``perm`` order into the mosaic
    that ``JigsawPatches`` writes on the CPU.

    Args:
        x (Tensor): (N, C, S, S) local crops.
        boxes, perm: from ``jigsaw_params``.
        grid (int): Cells per side.

    Returns:
        Tensor: (N, C, grid * p, grid * p) mosaics.
    """
    n, c = x.shape[:2]
    p = int(boxes[0, 0, 2] - boxes[0, 0, 0])
    origin = torch.from_numpy(np.take_along_axis(boxes[..., :2], perm[..., None], 1)).to(x.device)
    ramp = torch.arange(p, device=x.device)
    ys = origin[..., 1, None] + ramp  # N x grid**2 x p
    xs = origin[..., 0, None] + ramp
    nn_ = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    patches = x[nn_, :, ys[..., :, None], xs[..., None, :]]  # N x grid**2 x p x p x C
    patches = patches.permute(0, 1, 4, 2, 3).reshape(n * grid * grid, c, p, p)
    return patches_to_mosaic(patches, grid)
