# Copyright (c) detco_mm contributors. All rights reserved.
"""mmselfsup 1.0.0's VOC07 SVM feature extraction (``svm_voc07/extract.py``), made to run.

The shipped script batches with ``pseudo_collate``, whose tuples ``SelfSupDataPreprocessor``
cannot index (``TypeError: tuple indices must be integers or slices, not tuple``). This
wrapper swaps in ``default_collate`` (what the pretraining dataloaders use) and runs the
script unchanged, with the same arguments:

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

import detco_mm  # noqa: F401  (repairs mmselfsup's registries)

SCRIPT = osp.join(mmselfsup.__path__[0], '.mim', 'tools', 'benchmarks', 'classification',
                  'svm_voc07', 'extract.py')

if __name__ == '__main__':
    mmengine.dataset.pseudo_collate = mmengine.dataset.default_collate
    sys.argv[0] = SCRIPT
    runpy.run_path(SCRIPT, run_name='__main__')
