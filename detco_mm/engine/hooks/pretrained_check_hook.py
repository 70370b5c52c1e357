# Copyright (c) detco_mm contributors. All rights reserved.
"""Stop a fine-tuning run whose pretrained init would leave part of the network at random."""
import os.path as osp
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import PretrainedInit
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

from detco_ckpt import check_init

from ..utils import unwrap_model


def pretrained_inits(model: nn.Module) -> List[Tuple[str, nn.Module, dict]]:
    """``(name, module, init_cfg)`` of every module of ``model`` initialised from a file or a
    URL (``init_cfg`` of type ``Pretrained``)."""
    found = []
    for name, module in model.named_modules():
        init_cfgs = getattr(module, 'init_cfg', None) or []
        for init_cfg in [init_cfgs] if isinstance(init_cfgs, dict) else init_cfgs:
            if init_cfg.get('type') in ('Pretrained', PretrainedInit):
                found.append((name, module, init_cfg))
    return found


def check_pretrained_inits(model: nn.Module) -> None:
    """Check every ``Pretrained`` init of ``model`` with ``detco_ckpt.check_init``.

    Raises:
        detco_ckpt.CheckpointError: One line naming the file, the first key that did not load
        and both shapes.
    """
    model = unwrap_model(model)
    for name, module, init_cfg in pretrained_inits(model):
        target = f'model.{name}' if name else 'model'
        shapes = {key: tuple(value.shape) for key, value in module.state_dict().items()}
        path = str(init_cfg['checkpoint'])
        # A URL is read as PretrainedInit reads it: mmengine's schemes (torchvision://,
        # open-mmlab://...) name files in tables only mmengine has; the repaired loaders
        # read them weights-only, from the cache after the first time. A local file is
        # mapped by check_init instead (only the tensors it compares are read).
        checkpoint = (CheckpointLoader.load_checkpoint(path, map_location='cpu')
                      if '://' in path else None)
        loaded = check_init(shapes, path, init_cfg.get('prefix'), target, checkpoint)
        print_log(f'{target}: {loaded} of {len(shapes)} tensors from '
                  f'{path if checkpoint is not None else osp.abspath(path)} (checked)',
                  logger='current')


class PretrainedCheckHook(Hook):
    """Before mmengine initialises the weights, check that each
    ``init_cfg=dict(type='Pretrained', ...)`` will initialise its whole module (backbone; res5
    in the RoI head of C4 detectors), by names and shapes.

    mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs size mismatches
    and missing keys, so a ResNet-18 file in a ResNet-50 config or a wrong ``prefix``
    fine-tunes from a mostly random backbone and reports its AP as DetCo's. The check reads
    the file itself (``detco_ckpt``, weights-only) rather than replacing the init: mmengine
    and mmcls treat only ``type='Pretrained'`` as the pretrained load (it runs after the
    children's own init, and mmcls's ResNet then skips its zero-init of residual norms).
    """

    def before_run(self, runner) -> None:
        # before_run precedes Runner._init_model_weights: a file that does not fit is refused
        # before mmengine loads it and logs a page of size mismatches.
        check_pretrained_inits(runner.model)
