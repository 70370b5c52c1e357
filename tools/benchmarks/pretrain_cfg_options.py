# Copyright (c) detco_mm contributors. All rights reserved.
"""Print the ``--cfg-options`` that initialise a benchmark model from a DetCo file.

The file is a converted backbone (``tools/model_converters/detco_to_backbone.py``) or a whole
DetCo training checkpoint of either backend (mmselfsup or mmpretrain), from which
``prefix=backbone.`` picks the query encoder's backbone; ``detco_ckpt`` decides which, and
refuses anything else in one line. In R50-C4 detectors res5 is the RoI head's shared head, not
part of the backbone, so it loads the same file (its
``layer4.*`` keys) through its own ``init_cfg``. The run's ``PretrainedCheckHook`` then checks
that every tensor loaded.

Example:
    mim train mmdet CONFIG --cfg-options \
        $(python tools/benchmarks/pretrain_cfg_options.py CONFIG PRETRAIN)
"""
import argparse
import sys
from typing import List

from mmengine.config import Config

from detco_ckpt import QUERY_PREFIX, CheckpointError, kind, load


def pretrain_cfg_options(config: str, pretrain: str) -> List[str]:
    """``KEY=VALUE`` options pointing every pretrained part of ``config`` at ``pretrain``.

    Raises:
        CheckpointError: ``pretrain`` is not a DetCo file.
    """
    prefix = QUERY_PREFIX if kind(load(pretrain, mmap=True), pretrain) == 'detco' else ''
    cfg = Config.fromfile(config, import_custom_modules=False)
    keys = ['model.backbone.init_cfg']
    if cfg.model.get('roi_head', {}).get('shared_head') is not None:
        keys.append('model.roi_head.shared_head.init_cfg')
    options = []
    for key in keys:
        options.append(f'{key}.checkpoint={pretrain}')
        if prefix:
            options.append(f'{key}.prefix={prefix}')
    return options


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='benchmark config')
    parser.add_argument('pretrain', help='DetCo backbone file or training checkpoint')
    args = parser.parse_args(argv)
    try:
        print(' '.join(pretrain_cfg_options(args.config, args.pretrain)))
    except CheckpointError as error:
        sys.exit(f'{parser.prog}: error: {error}')


if __name__ == '__main__':
    main()
