# Copyright (c) detco_mm contributors. All rights reserved.
"""VOC training set with the "difficult" boxes, as detectron2 loads it (mmdet extra).

Imported by the detection benchmark configs (``custom_imports``), not by ``import detco_mm``:
mmdet is an optional dependency (``pip install .[det]``).
"""
from mmdet.datasets import VOCDataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class VOCWithDifficultDataset(VOCDataset):
    """``VOCDataset`` that trains on the objects marked difficult.

    MoCo's and DetCo's VOC fine-tuning (pascal_voc_R_50_C4_24k.yaml) reads VOC with
    detectron2's ``load_voc_instances``, which keeps difficult objects as ordinary boxes ("We
    include 'difficult' samples in training"); mmdet's loader flags them ``ignore_flag=1`` and
    ``PackDetInputs`` moves them out of the training targets. Here every object is read as not
    difficult; the other reason mmdet ignores a box (``filter_cfg.bbox_min_size``) still
    applies. For evaluation keep ``VOCDataset``: the VOC metric ignores difficult objects, in
    detectron2's evaluator as in mmdet's.
    """

    def _parse_instance_info(self, raw_ann_info, minus_one: bool = True):
        # raw_ann_info is this image's freshly parsed XML tree, read once and then dropped
        for difficult in raw_ann_info.iter('difficult'):
            difficult.text = '0'
        return super()._parse_instance_info(raw_ann_info, minus_one=minus_one)
