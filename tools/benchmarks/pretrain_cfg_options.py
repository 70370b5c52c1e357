# Copyright (c) detco_mm contributors. All rights reserved.
"""Print the ``--cfg-options`` that initialise a benchmark detector from a DetCo file.

The file is either a backbone state_dict (keys ``conv1.weight``, ``layer1.0...``) or a whole
training checkpoint of DetCo from either backend, mmselfsup or mmpretrain (keys ``backbone.*``
under ``state_dict``, next to the key encoder, the necks and the queues), from which
``prefix=backbone.`` picks the query backbone. In R50-C4 detectors res5 is the RoI head's shared head, not part of the backbone, so
it loads the same file (its ``layer4.*`` keys) through its own ``init_cfg``.

Example:
    mim train mmdet CONFIG --cfg-options \
        $(python tools/benchmarks/pretrain_cfg_options.py CONFIG PRETRAIN)
"""
import argparse
from typing import List

import torch
from mmengine.config import Config


def checkpoint_prefix(path: str) -> str:
    """``'backbone.'`` for a whole DetCo checkpoint, ``''`` for a backbone state_dict."""
    # weights_only=True explicitly (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 turns off only the
    # default), as the detector's init will do; mmap avoids reading the queues and the key
    # encoder.
    checkpoint = torch.load(path, map_location='cpu', mmap=True, weights_only=True)
    state_dict = checkpoint.get('state_dict', checkpoint)
    return 'backbone.' if any(k.startswith('backbone.') for k in state_dict) else ''


def pretrain_cfg_options(config: str, pretrain: str) -> List[str]:
    """``KEY=VALUE`` options pointing every pretrained part of ``config`` at ``pretrain``."""
    cfg = Config.fromfile(config, import_custom_modules=False)
    keys = ['model.backbone.init_cfg']
    if cfg.model.get('roi_head', {}).get('shared_head') is not None:
        keys.append('model.roi_head.shared_head.init_cfg')
    prefix = checkpoint_prefix(pretrain)
    options = []
    for key in keys:
        options.append(f'{key}.checkpoint={pretrain}')
        if prefix:
            options.append(f'{key}.prefix={prefix}')
    return options


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='benchmark config')
    parser.add_argument('pretrain', help='DetCo backbone state_dict or training checkpoint')
    args = parser.parse_args()
    print(' '.join(pretrain_cfg_options(args.config, args.pretrain)))


if __name__ == '__main__':
    main()
