# Copyright (c) detco_mm contributors. All rights reserved.
"""Convert the ResNet of a DetCo checkpoint to a torchvision ResNet state_dict.

mmselfsup's ResNet already uses torchvision's names (conv1, bn1, layer1..layer4,
downsample.0/1), so the tensors are only checked against the torchvision model and saved as
a plain state_dict. It has no ``fc`` (DetCo trains none); load it with::

    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.load_state_dict(torch.load('detco_r50_tv.pth', weights_only=True), strict=True)
"""
import torch
from _detco_ckpt import converter_parser, parse_args, save, torchvision_resnet

from detco_ckpt import CheckpointError, load_backbone


def main(argv=None) -> None:
    parser = converter_parser(__doc__.splitlines()[0],
                              'output .pth (torchvision state_dict without fc)')
    args = parse_args(parser, argv)
    try:
        backbone, meta = load_backbone(args.checkpoint, args.momentum_encoder)
        arch = torchvision_resnet(backbone)
        save(backbone, args.output, torch.save)
    except CheckpointError as error:
        parser.exit(1, f'{parser.prog}: error: {error}\n')
    print(f'Wrote {len(backbone)} tensors of {meta["encoder"]}* to {args.output}; load them '
          f'into torchvision.models.{arch}() with fc = torch.nn.Identity()')


if __name__ == '__main__':
    main()
