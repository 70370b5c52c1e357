# Copyright (c) detco_mm contributors. All rights reserved.
"""Test-only hook (tests/test_two_processes.py): after every step, each process writes what
it holds to ``work_dir/probe_iter{I}_rank{R}.pth``. Loaded by the test's own config, of either
face: registered into mmselfsup's hooks and, where it is installed, mmpretrain's."""
import importlib.util
import os.path as osp

import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmselfsup.registry import HOOKS


class DistProbeHook(Hook):
    """Records the images of the step, the inputs of the query and key backbones, the loss,
    the queues with their pointers and a checksum of every parameter and buffer."""

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.model, self.query_inputs, self.key_inputs = model, [], []
        model.backbone.register_forward_pre_hook(
            lambda module, args: self.query_inputs.append(args[0].detach().clone()))
        model.encoder_k.module.backbone.register_forward_pre_hook(
            lambda module, args: self.key_inputs.append(args[0].detach().clone()))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        head = self.model.head
        probe = dict(
            rank=get_rank(), world_size=get_world_size(),
            img_paths=[sample.img_path for sample in data_batch['data_samples']],
            loss=outputs['loss'].detach().clone(),
            # first call of each backbone: the global view (query: own images; key: shuffled)
            query_global=self.query_inputs[0], key_global=self.key_inputs[0],
            queue_g=head.queue_g.clone(), queue_l=head.queue_l.clone(),
            queue_g_ptr=head.queue_g_ptr.clone(), queue_l_ptr=head.queue_l_ptr.clone(),
            checksums={name: value.double().sum().item()
                       for name, value in self.model.state_dict().items()})
        torch.save(probe, osp.join(runner.work_dir,
                                   f'probe_iter{runner.iter + 1}_rank{get_rank()}.pth'))
        self.query_inputs, self.key_inputs = [], []


HOOKS.register_module(module=DistProbeHook)
if importlib.util.find_spec('mmpretrain') is not None:
    from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
    MMPRETRAIN_HOOKS.register_module(module=DistProbeHook)
