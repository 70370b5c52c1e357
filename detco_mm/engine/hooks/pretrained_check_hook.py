# Copyright (c) detco_mm contributors. All rights reserved.
"""Stop a fine-tuning run whose pretrained init left part of the network at random."""
import os.path as osp
from typing import List, Tuple

from detco_ckpt import check_init
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import PretrainedInit, is_model_wrapper
from mmselfsup.registry import HOOKS
from torch import nn


def pretrained_inits(model: nn.Module) -> List[Tuple[str, nn.Module, dict]]:
    """``(name, module, init_cfg)`` of every module of ``model`` initialised from a local file
    (``init_cfg`` of type ``Pretrained``; ``torchvision://`` & co. URLs are not DetCo files)."""
    found = []
    for name, module in model.named_modules():
        init_cfgs = getattr(module, 'init_cfg', None) or []
        for init_cfg in [init_cfgs] if isinstance(init_cfgs, dict) else init_cfgs:
            if (init_cfg.get('type') in ('Pretrained', PretrainedInit)
                    and '://' not in str(init_cfg.get('checkpoint'))):
                found.append((name, module, init_cfg))
    return found


def check_pretrained_inits(model: nn.Module) -> None:
    """Check every ``Pretrained`` init of ``model`` with ``detco_ckpt.check_init``.

    Raises:
        detco_ckpt.CheckpointError: One line naming the file, the first key that did not load
        and both shapes.
    """
    if is_model_wrapper(model):
        model = model.module
    for name, module, init_cfg in pretrained_inits(model):
        target = f'model.{name}' if name else 'model'
        shapes = {key: tuple(value.shape) for key, value in module.state_dict().items()}
        loaded = check_init(shapes, init_cfg['checkpoint'], init_cfg.get('prefix'), target)
        print_log(f'{target}: {loaded} of {len(shapes)} tensors from '
                  f'{osp.abspath(init_cfg["checkpoint"])} (checked)', logger='current')


@HOOKS.register_module()
class PretrainedCheckHook(Hook):
    """Before the first iteration, check that each ``init_cfg=dict(type='Pretrained', ...)``
    initialised its whole module (backbone; res5 in the RoI head of C4 detectors).

    mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs size mismatches
    and missing keys, so a ResNet-18 file in a ResNet-50 config or a wrong ``prefix``
    fine-tunes from a mostly random backbone and reports its AP as DetCo's. The check reads
    the file again (``detco_ckpt``, weights-only) rather than replacing the init: mmengine
    and mmcls treat only ``type='Pretrained'`` as the pretrained load (it runs after the
    children's own init, and mmcls's ResNet then skips its zero-init of residual norms).
    """

    def before_train(self, runner) -> None:
        check_pretrained_inits(runner.model)
