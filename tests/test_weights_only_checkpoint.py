# Copyright (c) detco_mm contributors. All rights reserved.
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from detco_mm.engine.hooks.weights_only_checkpoint_hook import decode_checkpoint, encode_checkpoint


def training_checkpoint():
    """What mmengine 0.10.7 puts in a checkpoint besides tensors."""
    hub = MessageHub.get_instance('detco_test_hub')
    for i in range(3):
        hub.update_scalar('train/loss', 1.5 - i * 0.1)
    hub.update_info('iter', np.int64(12))
    return OrderedDict(
        meta=dict(epoch=1, iter=12, seed=np.int64(3), cfg='model = dict()'),
        state_dict=OrderedDict(w=torch.ones(2)),
        message_hub=hub.state_dict(),
        extra=[np.float32(0.5), (np.arange(3), 'x')])


def test_plain_mmengine_checkpoint_is_refused_by_weights_only(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save(training_checkpoint(), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_encoded_checkpoint_loads_weights_only_and_decodes(tmp_path):
    original = training_checkpoint()
    path = tmp_path / 'encoded.pth'
    torch.save(encode_checkpoint(original), path)
    loaded = decode_checkpoint(torch.load(path, weights_only=True))

    buf = loaded['message_hub']['log_scalars']['train/loss']
    ref = original['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.max_length == ref.max_length
    np.testing.assert_allclose(buf.data[0], ref.data[0])
    np.testing.assert_allclose(buf.data[1], ref.data[1])
    assert buf.mean() == pytest.approx(ref.mean())
    assert loaded['message_hub']['runtime_info']['iter'] == 12
    assert loaded['meta']['seed'] == 3 and isinstance(loaded['meta']['seed'], int)
    assert isinstance(loaded['state_dict'], OrderedDict)
    assert loaded['extra'][0] == pytest.approx(0.5)
    np.testing.assert_array_equal(loaded['extra'][1][0], np.arange(3))
    assert isinstance(loaded['extra'][1], tuple)


def test_unknown_objects_are_reported():
    class Custom:
        pass

    with pytest.warns(UserWarning, match=r"checkpoint\['meta'\]\['thing'\]"):
        encode_checkpoint({'meta': {'thing': Custom()}}, 'checkpoint')
