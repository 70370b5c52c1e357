# Copyright (c) detco_mm contributors. All rights reserved.
import numpy as np
import pytest
from mmselfsup.registry import TRANSFORMS


def coordinate_image(size=255):
    """Pixel (y, x) holds (x, y, 7): a patch's origin is readable from its first pixel."""
    yy, xx = np.mgrid[0:size, 0:size]
    return np.stack([xx, yy, np.full_like(xx, 7)], axis=2).astype(np.uint8)


def build(**kwargs):
    return TRANSFORMS.build(dict(type='JigsawPatches', **kwargs))


def test_shapes_and_every_patch_inside_its_cell():
    t = build()
    img = coordinate_image()
    for seed in range(5):
        np.random.seed(seed)
        out = t(dict(img=img.copy()))
        mosaic, perm, boxes = out['img'], out['jigsaw_perm'], out['jigsaw_boxes']
        assert mosaic.shape == (192, 192, 3) and mosaic.dtype == np.uint8
        assert out['img_shape'] == (192, 192)
        assert sorted(perm.tolist()) == list(range(9))
        for cell, (x1, y1, x2, y2) in enumerate(boxes):
            row, col = divmod(cell, 3)
            assert x2 - x1 == 64 and y2 - y1 == 64
            assert col * 85 <= x1 and x2 <= (col + 1) * 85
            assert row * 85 <= y1 and y2 <= (row + 1) * 85
        for slot, cell in enumerate(perm):
            r, c = divmod(slot, 3)
            patch = mosaic[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64]
            x1, y1, x2, y2 = boxes[cell]
            np.testing.assert_array_equal(patch, img[y1:y2, x1:x2])


def test_permutation_switch():
    np.random.seed(0)
    perms = [build()(dict(img=coordinate_image()))['jigsaw_perm'] for _ in range(5)]
    assert any(p.tolist() != list(range(9)) for p in perms)
    out = build(shuffle=False)(dict(img=coordinate_image()))
    assert out['jigsaw_perm'].tolist() == list(range(9))


def test_deterministic_under_seed():
    t = build()
    np.random.seed(123)
    a = t(dict(img=coordinate_image()))
    np.random.seed(123)
    b = t(dict(img=coordinate_image()))
    np.testing.assert_array_equal(a['img'], b['img'])
    np.testing.assert_array_equal(a['jigsaw_perm'], b['jigsaw_perm'])
    c = t(dict(img=coordinate_image()))
    assert not np.array_equal(a['jigsaw_boxes'], c['jigsaw_boxes'])


@pytest.mark.parametrize('img', [
    np.full((255, 255), 90, np.uint8),            # grayscale, 2-D
    np.full((255, 255, 1), 90, np.uint8),         # grayscale, 1 channel
    np.full((255, 255, 4), 90, np.uint8),         # RGBA
    np.full((100, 80, 3), 90, np.uint8),          # smaller than 255 px, not square
    np.full((400, 300, 3), 90, np.uint8),         # larger
])
def test_odd_inputs(img):
    out = build()(dict(img=img))
    assert out['img'].shape == (192, 192, 3)
    assert (out['img'] == 90).all()


def test_rgba_alpha_dropped():
    img = np.zeros((255, 255, 4), np.uint8)
    img[..., 3] = 255
    assert build()(dict(img=img))['img'].max() == 0


def test_configurable_sizes():
    out = build(grid=2, cell_size=32, patch_size=32)(dict(img=coordinate_image(64)))
    assert out['img'].shape == (64, 64, 3) and len(out['jigsaw_perm']) == 4


@pytest.mark.parametrize('kwargs', [dict(patch_size=90), dict(grid=0), dict(patch_size=0)])
def test_bad_sizes(kwargs):
    with pytest.raises(ValueError, match='JigsawPatches'):
        build(**kwargs)


def test_bad_image():
    with pytest.raises(ValueError, match='shape'):
        build()(dict(img=np.zeros((255, 255, 5), np.uint8)))
