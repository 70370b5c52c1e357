# Copyright (c) detco_mm contributors. All rights reserved.
"""Convert the ResNet of a DetCo checkpoint to a detectron2 ``.pkl``.

The names and the file layout are those of MoCo's
``detection/convert-pretrain-to-detectron2.py`` (also used by OpenSelfSup and mmselfsup's
detectron2 benchmark), so the DetCo paper's detectron2 configs take the file as
``MODEL.WEIGHTS``: ``stem.conv1``, ``stem.conv1.norm``, ``res2``..``res5``, ``shortcut``,
``convN.norm``; numpy arrays; ``matching_heuristics`` on.

mmselfsup 1.0.0 ships that mapping only as ``tools/benchmarks/detectron2/
convert-pretrain-to-detectron2.py``: a hyphenated script whose logic sits under
``if __name__ == '__main__'`` and that loads with ``torch.load``'s pickle defaults, so
there is nothing to import and ``detectron2_name`` restates it.
"""
import pickle
from typing import Dict

import torch
from _detco_ckpt import converter_parser, parse_args, save, torchvision_resnet

from detco_ckpt import CheckpointError, load_backbone


def detectron2_name(key: str) -> str:
    """torchvision/mmselfsup ResNet name -> detectron2 name, as MoCo's converter does.

    Args:
        key (str): E.g. ``layer1.0.downsample.1.running_mean``.

    Returns:
        str: E.g. ``res2.0.shortcut.norm.running_mean``.
    """
    if 'layer' not in key:
        key = 'stem.' + key
    for t in (1, 2, 3, 4):
        key = key.replace(f'layer{t}', f'res{t + 1}')
    for t in (1, 2, 3):
        key = key.replace(f'bn{t}', f'conv{t}.norm')
    return key.replace('downsample.0', 'shortcut').replace('downsample.1', 'shortcut.norm')


def detectron2_checkpoint(backbone: Dict[str, torch.Tensor]) -> dict:
    """detectron2's pickle layout; ``matching_heuristics`` lets it find ``backbone.bottom_up``.

    Args:
        backbone (dict[str, Tensor]): Backbone state_dict in torchvision naming.

    Returns:
        dict: ``model`` (numpy arrays), ``__author__`` and ``matching_heuristics``.
    """
    model = {detectron2_name(k): v.numpy() for k, v in backbone.items()}
    return {'model': model, '__author__': 'detco_mm', 'matching_heuristics': True}


def main(argv=None) -> None:
    parser = converter_parser(__doc__.splitlines()[0], 'output .pkl for MODEL.WEIGHTS')
    args = parse_args(parser, argv)
    # detectron2's Checkpointer unpickles only files named *.pkl; others go to torch.load.
    if not args.output.endswith('.pkl'):
        parser.error(f'output must end with .pkl, got {args.output}')
    try:
        backbone, meta = load_backbone(args.checkpoint, args.momentum_encoder)
        torchvision_resnet(backbone)
        save(detectron2_checkpoint(backbone), args.output, pickle.dump)
    except CheckpointError as error:
        parser.exit(1, f'{parser.prog}: error: {error}\n')
    print(f'Wrote {len(backbone)} arrays of {meta["encoder"]}* to {args.output}')


if __name__ == '__main__':
    main()
