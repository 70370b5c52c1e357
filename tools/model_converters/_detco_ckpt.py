# Copyright (c) detco_mm contributors. All rights reserved.
"""Command-line pieces the converters in this folder share; what a DetCo file is and its
backbone come from ``detco_ckpt``, the package's one checkpoint reader (torch only, so the
converters start fast and run where only torch is installed)."""
import argparse
import os
from typing import Dict

import torch

from detco_ckpt import MOMENTUM_PREFIX, QUERY_PREFIX, CheckpointError, atomic_file

# The ResNets whose key names mmselfsup/mmcls and torchvision share (conv1, bn1, layer1..4,
# downsample.0/1); deep stems (ResNetV1c/V1d) and ``avg_down`` have no torchvision twin.
TORCHVISION_RESNETS = ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152')


def converter_parser(description: str, output_help: str) -> argparse.ArgumentParser:
    """The command line all converters share.

    Args:
        description (str): What the converter writes.
        output_help (str): Help of the output argument.

    Returns:
        argparse.ArgumentParser: Positional ``checkpoint``, ``output`` and the
        ``--momentum-encoder`` flag.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('checkpoint', help='DetCo training checkpoint, e.g. '
                        'work_dirs/detco_resnet50_8xb32-coslr-200e_in1k/epoch_200.pth')
    parser.add_argument('output', help=output_help)
    parser.add_argument('--momentum-encoder', action='store_true',
                        help=f'convert the momentum (key) encoder {MOMENTUM_PREFIX}* instead '
                        f'of the query encoder {QUERY_PREFIX}*')
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parse the command line of ``converter_parser``; refuse an output that is the input.

    Writing over the input (the same path, a relative spelling of it, a symlink or a hard
    link to it) would destroy the training checkpoint the conversion reads.
    """
    args = parser.parse_args(argv)
    same = os.path.realpath(args.output) == os.path.realpath(args.checkpoint) or (
        os.path.exists(args.output) and os.path.exists(args.checkpoint)
        and os.path.samefile(args.output, args.checkpoint))
    if same:
        parser.error(f'output {args.output} is the input checkpoint {args.checkpoint}; '
                     f'choose another output path')
    return args


def torchvision_resnet(backbone: Dict[str, torch.Tensor]) -> str:
    """Name of the torchvision ResNet whose keys and shapes (``fc`` aside) ``backbone`` has.

    Args:
        backbone (dict[str, Tensor]): Backbone state_dict in mmselfsup ResNet naming.

    Returns:
        str: One of ``TORCHVISION_RESNETS``.

    Raises:
        CheckpointError: No torchvision ResNet has exactly these tensors.
    """
    # Imported here: torchvision adds ~2 s to the start of every converter, and failing
    # fast on a wrong file should not wait for it.
    import torchvision

    shapes = {key: tuple(value.shape) for key, value in backbone.items()}
    for name in TORCHVISION_RESNETS:
        # The meta device gives the names and shapes without allocating weights.
        with torch.device('meta'):
            model = getattr(torchvision.models, name)()
        expected = {key: tuple(value.shape) for key, value in model.state_dict().items()
                    if not key.startswith('fc.')}
        if shapes == expected:
            return name
    raise CheckpointError(
        f'the backbone is not a torchvision {"/".join(TORCHVISION_RESNETS)} without fc '
        f'(a deep stem, avg_down or another layout has no torchvision equivalent)')


def save(obj: object, path: str, saver) -> None:
    """Write ``obj`` to ``path`` with ``saver(obj, file)``, creating the folder; whole or not
    at all (``detco_ckpt.atomic_file``): a full disk leaves no partial output to fine-tune from.

    Args:
        obj: What to write.
        path (str): Output file.
        saver (callable): ``torch.save`` or ``pickle.dump``.
    """
    try:
        with atomic_file(path) as file:
            saver(obj, file)
    except OSError as error:
        raise CheckpointError(f'{path}: cannot write ({error.strerror or error})') from None
