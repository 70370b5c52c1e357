# Copyright (c) detco_mm contributors. All rights reserved.
import pytest
import torch
from mmselfsup.registry import MODELS

CHANNELS = (8, 16, 32, 64)


def build_neck(**kwargs):
    return MODELS.build(dict(type='DetCoNeck', in_channels=CHANNELS, hid_channels=12,
                             out_channels=5, **kwargs))


def test_global_and_local_shapes_per_stage():
    neck = build_neck()
    maps = [torch.randn(2, c, 16 // 2**i, 16 // 2**i) for i, c in enumerate(CHANNELS)]
    out = neck(maps, 'g')
    assert [tuple(o.shape) for o in out] == [(2, 5)] * 4
    patches = [torch.randn(2 * 9, c, 4, 4) for c in CHANNELS]
    out = neck(patches, 'l')
    assert [tuple(o.shape) for o in out] == [(2, 5)] * 4
    assert [m[0].in_features for m in neck.local_mlps] == [9 * c for c in CHANNELS]


def test_local_head_concatenates_patches_of_one_image_in_order():
    neck = build_neck()
    patches = [torch.randn(2 * 9, c, 2, 2) for c in CHANNELS]
    out = neck(patches, 'l')
    # image 1 alone gives the same embedding: no mixing across images
    alone = neck([p[9:] for p in patches], 'l')
    for a, b in zip(out, alone):
        torch.testing.assert_close(a[1:], b)
    # swapping two patches of an image changes its embedding (order is kept)
    swapped = [p.clone() for p in patches]
    for s in swapped:
        s[[0, 1]] = s[[1, 0]]
    assert not torch.allclose(neck(swapped, 'l')[3][0], out[3][0])


def test_no_parameters_shared():
    neck = build_neck()
    heads = list(neck.global_mlps) + list(neck.local_mlps)
    assert len(heads) == 8
    ptrs = [p.data_ptr() for h in heads for p in h.parameters()]
    assert len(ptrs) == len(set(ptrs))
    assert sum(p.numel() for p in neck.parameters()) == sum(
        p.numel() for h in heads for p in h.parameters())


def test_errors():
    neck = build_neck(with_local=False)
    maps = [torch.randn(1, c, 2, 2) for c in CHANNELS]
    with pytest.raises(ValueError, match='with_local=False'):
        neck(maps, 'l')
    with pytest.raises(ValueError, match='view'):
        neck(maps, 'x')
    with pytest.raises(ValueError, match='expected one per stage'):
        neck(maps[:3], 'g')
