# Copyright (c) detco_mm contributors. All rights reserved.
"""mmselfsup 1.0.0's VOC07 SVM feature extraction (``svm_voc07/extract.py``), made to run.

The shipped script batches with ``pseudo_collate``, whose tuples ``SelfSupDataPreprocessor``
cannot index (``TypeError: tuple indices must be integers or slices, not tuple``). This
wrapper swaps in ``default_collate`` (what the pretraining dataloaders use), checks that the
backbone loaded completely from the pretrained file (as ``PretrainedCheckHook`` does in every
training run: the script builds and initialises the model itself, outside a Runner) and runs
the script unchanged, with the same arguments:

    python tools/benchmarks/classification/extract_voc07.py \
        configs/benchmarks/classification/voc07/resnet50_svm-res2-res5_voc07.py \
        --layer-ind 1,2,3,4 --work-dir work_dirs/svm_voc07 \
        --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/detco_backbone.pth
"""
import os.path as osp
import runpy
import sys

import mmengine.dataset
import mmselfsup
from mmselfsup.registry import MODELS

from detco_ckpt import CheckpointError
from detco_mm.engine import check_pretrained_inits

SCRIPT = osp.join(mmselfsup.__path__[0], '.mim', 'tools', 'benchmarks', 'classification',
                  'svm_voc07', 'extract.py')


def checked_build(build):
    """``MODELS.build`` whose algorithms (models with a ``backbone``) check their pretrained
    load in ``init_weights()``, the call extract.py makes, before mmengine loads the file."""
    def build_model(cfg, *args, **kwargs):
        model = build(cfg, *args, **kwargs)
        if getattr(model, 'backbone', None) is not None:
            init_weights = model.init_weights

            def checked_init_weights():
                check_pretrained_inits(model)
                init_weights()
            model.init_weights = checked_init_weights
        return model
    return build_model


def main() -> None:
    mmengine.dataset.pseudo_collate = mmengine.dataset.default_collate
    MODELS.build = checked_build(MODELS.build)
    sys.argv[0] = SCRIPT
    try:
        runpy.run_path(SCRIPT, run_name='__main__')
    except CheckpointError as error:
        sys.exit(f'extract_voc07.py: error: {error}')


if __name__ == '__main__':
    main()
