# Copyright (c) detco_mm contributors. All rights reserved.
"""``mim train detco_mm CONFIG ...``: run the training script of the toolbox the config is for.

mim runs ``<package>/.mim/tools/train.py`` of the package it is given. This project trains with
the stock scripts of mmselfsup or mmpretrain (pretraining: ``configs/detco/`` or
``configs/detco_mmpretrain/``), mmdet (detection benchmarks) and mmcls (linear
classification), so this file only picks one from the config's ``default_scope`` and runs it
unchanged with the same arguments. ``mim train detco_mm detco_resnet18_1xb4-coslr-2e_tiny.py``
then works from any directory: mim finds the config by name inside the installed package.
"""
import importlib
import importlib.util
import os.path as osp
import runpy
import sys

from mmengine.config import Config

TOOLBOXES = ('mmselfsup', 'mmpretrain', 'mmdet', 'mmcls')


def train_script(toolbox: str) -> str:
    """The ``tools/train.py`` that ``toolbox`` installs in its ``.mim`` folder."""
    return osp.join(importlib.import_module(toolbox).__path__[0], '.mim', 'tools', 'train.py')


def config_toolbox(config: str) -> str:
    """One of ``TOOLBOXES``, from ``config``'s ``default_scope``; it must be installed."""
    scope = Config.fromfile(config, import_custom_modules=False).get('default_scope')
    if scope not in TOOLBOXES:
        sys.exit(f'train.py: {config}: default_scope is {scope!r}, not one of '
                 f'{", ".join(TOOLBOXES)}; run that toolbox\'s tools/train.py')
    if importlib.util.find_spec(scope) is None:
        hint = ('; `pip install detco_mm[mmpretrain]`, or DETCO_BACKENDS=mmselfsup,mmpretrain '
                'bash tools/setup_env.sh' if scope == 'mmpretrain' else '')
        sys.exit(f'train.py: {config}: default_scope is {scope!r}, which is not installed'
                 f'{hint}')
    return scope


if __name__ == '__main__':
    config = next((arg for arg in sys.argv[1:] if not arg.startswith('-')), None)
    # `mim train` first runs `train.py -h` (no config) to see whether the script takes --gpus;
    # mmselfsup's answer serves, since none of the four does.
    sys.argv[0] = train_script(config_toolbox(config) if config else 'mmselfsup')
    runpy.run_path(sys.argv[0], run_name='__main__')
