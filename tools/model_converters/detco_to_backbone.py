# Copyright (c) detco_mm contributors. All rights reserved.
"""Extract the ResNet of a DetCo checkpoint for mmdet / mmcls / mmselfsup fine-tuning.

The output is ``{'state_dict': {name: tensor}, 'meta': {...}}`` in the naming that mmselfsup,
mmcls and mmdet ResNets share (conv1, bn1, layer1..layer4), with tensors, strings and ints
only, so ``torch.load(weights_only=True)`` reads it and a detector loads it with::

    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='detco_r50.pth'))
"""
import torch
from _detco_ckpt import converter_parser, parse_args, save

from detco_ckpt import CheckpointError, load_backbone


def backbone_checkpoint(backbone: dict, meta: dict) -> dict:
    """The file content: mmengine's ``PretrainedInit`` reads the ``state_dict`` entry.

    Args:
        backbone (dict[str, Tensor]): Backbone state_dict.
        meta (dict): Where it came from (see ``load_backbone``).

    Returns:
        dict: ``{'state_dict': backbone, 'meta': meta}``.
    """
    return dict(state_dict=backbone, meta=meta)


def main(argv=None) -> None:
    parser = converter_parser(
        __doc__.splitlines()[0], 'output .pth, for init_cfg=dict(type="Pretrained", ...)')
    args = parse_args(parser, argv)
    try:
        backbone, meta = load_backbone(args.checkpoint, args.momentum_encoder)
        save(backbone_checkpoint(backbone, meta), args.output, torch.save)
    except CheckpointError as error:
        parser.exit(1, f'{parser.prog}: error: {error}\n')
    print(f'Wrote {len(backbone)} tensors of {meta["encoder"]}* to {args.output}')


if __name__ == '__main__':
    main()
