# Copyright (c) detco_mm contributors. All rights reserved.
"""NaN/Inf stops the run before a checkpoint of it is written; runs that would train on
nothing are refused; the converters refuse non-finite weights and OUT == IN (issue 10,
item 6)."""
import os
import re
import types
from pathlib import Path

import pytest
import torch
from mmselfsup.registry import HOOKS, MODELS

from conftest import TINY_CONFIG, tiny_pretrain_options, tool, train_in_process

detco_to_backbone = tool('model_converters/detco_to_backbone.py')


def fake_runner(model, epoch=0, iteration=3):
    return types.SimpleNamespace(model=model, epoch=epoch, iter=iteration)


def test_first_non_finite_loss_term_is_named():
    hook = HOOKS.build(dict(type='NonFiniteCheckHook'))
    runner = fake_runner(torch.nn.Linear(2, 2))
    finite = dict(loss=torch.tensor(1.), loss_g2g_res2=torch.tensor(0.5),
                  nce_g2g_res2=torch.tensor(5.))
    hook.after_train_iter(runner, 3, None, finite)
    outputs = dict(loss=torch.tensor(float('nan')), loss_g2g_res2=torch.tensor(0.5),
                   loss_l2g_res4=torch.tensor(float('inf')),
                   loss_l2g_res5=torch.tensor(float('nan')))
    with pytest.raises(FloatingPointError,
                       match=r'^loss_l2g_res4 is inf at epoch 1, iteration 4 of the run; .*lr'):
        hook.after_train_iter(runner, 3, None, outputs)


def test_non_finite_weights_stop_the_run_and_are_never_saved():
    hook = HOOKS.build(dict(type='NonFiniteCheckHook', weights_interval=5))
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    runner = fake_runner(model, epoch=1, iteration=9)
    with torch.no_grad():
        model[0].bias[1] = float('nan')
    # the weights are read every 5th iteration: the 9th is not, the 10th is
    hook.after_train_iter(fake_runner(model, epoch=1, iteration=8), 8, None,
                          dict(loss=torch.tensor(1.)))
    with pytest.raises(FloatingPointError, match=r'0.bias holds nan after the step at epoch '
                       r'2, iteration 10 of the run'):
        hook.after_train_iter(runner, 9, None, dict(loss=torch.tensor(1.)))
    with torch.no_grad():
        model[0].bias[1] = 0
    hook.after_train_iter(runner, 9, None, dict(loss=torch.tensor(1.)))
    model[1].running_var[0] = float('inf')  # batch-norm statistics are checked too
    with pytest.raises(FloatingPointError, match=r'1.running_var holds inf after the step'):
        hook.after_train_iter(runner, 9, None, dict(loss=torch.tensor(1.)))
    with pytest.raises(FloatingPointError, match=r'1.running_var holds inf in the checkpoint of '
                       r'epoch 2; not saving'):
        hook.before_save_checkpoint(runner, dict(state_dict=model.state_dict()))
    with pytest.raises(ValueError, match='weights_interval=0; use a positive number'):
        HOOKS.build(dict(type='NonFiniteCheckHook', weights_interval=0))


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_diverging_run_stops_without_nan_checkpoint(tmp_path, synthetic_root):
    """The issue's case: lr=1e6 on the tiny config went NaN from iteration 4 and finished
    with rc 0 and NaN checkpoints."""
    # a loss term at the step it turns non-finite, or (a batch-norm variance that overflows
    # leaves the training loss finite) a weight before the next save
    with pytest.raises(FloatingPointError, match=r'(is|holds) -?(nan|inf) (at epoch \d+, '
                       r'iteration \d+ of the run|in the checkpoint of epoch \d+; not saving)'):
        train_in_process(TINY_CONFIG, tmp_path, cfg_options=[
            *tiny_pretrain_options(synthetic_root, 6), 'optim_wrapper.optimizer.lr=1e6'])
    for checkpoint in tmp_path.glob('*.pth'):
        state = torch.load(checkpoint, weights_only=True)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_run_refuses_dataset_shorter_than_a_batch(tmp_path, synthetic_root):
    """8 images, batch 16: 0 steps per epoch, which used to 'train' and save epoch_1.pth."""
    with pytest.raises(ValueError, match=re.escape(
            'the training set has 8 images, fewer than one global batch of 16 '
            '(train_dataloader.batch_size=16 x 1 processes)')):
        train_in_process(TINY_CONFIG, tmp_path, cfg_options=[
            *tiny_pretrain_options(synthetic_root, 1), 'train_dataloader.batch_size=16'])
    assert not list(tmp_path.glob('*.pth'))


@pytest.fixture
def tiny_checkpoint(tiny_cfg, tmp_path):
    path = tmp_path / 'epoch_1.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': MODELS.build(tiny_cfg.model).state_dict()},
               path)
    return path


def test_converter_refuses_non_finite_weights(tiny_checkpoint, tmp_path, capsys):
    checkpoint = torch.load(tiny_checkpoint, weights_only=True)
    checkpoint['state_dict']['backbone.layer3.0.conv1.weight'][0, 0, 0, 0] = float('nan')
    torch.save(checkpoint, tiny_checkpoint)
    out = tmp_path / 'backbone.pth'
    with pytest.raises(SystemExit) as error:
        detco_to_backbone.main([str(tiny_checkpoint), str(out)])
    assert error.value.code == 1 and not out.exists()
    assert (f'{tiny_checkpoint}: backbone.layer3.0.conv1.weight holds NaN or Inf (1 of '
            in capsys.readouterr().err)


def test_converter_refuses_to_overwrite_its_input(tiny_checkpoint, tmp_path, capsys,
                                                  monkeypatch):
    before = tiny_checkpoint.read_bytes()
    link = tmp_path / 'link.pth'
    link.symlink_to(tiny_checkpoint)
    hard = tmp_path / 'hard.pth'
    os.link(tiny_checkpoint, hard)
    monkeypatch.chdir(tmp_path)
    for output in (str(tiny_checkpoint), 'epoch_1.pth', f'../{tmp_path.name}/epoch_1.pth',
                   str(link), str(hard)):
        with pytest.raises(SystemExit) as error:
            detco_to_backbone.main([str(tiny_checkpoint), output])
        assert error.value.code == 2
        assert f'output {output} is the input checkpoint' in capsys.readouterr().err
    assert Path(tiny_checkpoint).read_bytes() == before
