# VOC07 SVM classification of the frozen Res2..Res5 features of a DetCo ResNet-50 [P 4.3,
# Table 2]; feat5 alone is the VOC07 column of Table 8. mmselfsup's SVM tools extract features
# with a registered mmselfsup algorithm: this is DetCo, of which only the data preprocessor and
# the backbone run (mode='tensor' returns one map per out index; 1..4 = res2..res5). Only the
# backbone weights are loaded, so any ResNet-50 backbone (e.g. the MoCo v2 row of Table 2) is
# evaluated the same way. Images and pooling: ../svm_voc07.py.
#
# Data: mmselfsup's tools/dataset_converters/prepare_voc07_cls.sh DATA (JPEGImages, Lists and
# SVMLabels under data/VOCdevkit/VOC2007). From the repository root, with OUT written by
# tools/model_converters/detco_to_backbone.py IN OUT:
#   CFG=configs/benchmarks/classification/voc07/resnet50_svm-res2-res5_voc07.py
#   WORK=work_dirs/svm_voc07 LABELS=data/VOCdevkit/VOC2007/SVMLabels
#   python tools/benchmarks/classification/extract_voc07.py $CFG --layer-ind 1,2,3,4 \
#       --work-dir $WORK --cfg-options model.backbone.init_cfg.checkpoint=OUT
#   for feat in feat2 feat3 feat4 feat5; do
#     mim run mmselfsup train_svm_kfold_parallel --costs_list 1.0,10.0,100.0 \
#         --data_file $WORK/features/voc07_trainval_$feat.npy \
#         --targets_data_file $LABELS/train_labels.npy --output_path $WORK/svm/$feat
#     mim run mmselfsup test_svm --costs_list 1.0,10.0,100.0 \
#         --data_file $WORK/features/voc07_test_$feat.npy --json_targets $LABELS/test_targets.json \
#         --targets_data_file $LABELS/test_labels.npy --generate_json 1 \
#         --output_path $WORK/svm/$feat
#   done
# The SVM steps are those of mmselfsup's svm_voc07/tools/eval_svm_full.sh; test_svm logs the
# mean AP. tools/benchmarks/classification/extract_voc07.py runs mmselfsup 1.0.0's extract.py
# with default_collate instead of its pseudo_collate, which SelfSupDataPreprocessor rejects.
# --layer-ind is required by extract.py and overrides out_indices; DetCo checks that it gives
# res2..res5. From a full DetCo checkpoint, also pass model.backbone.init_cfg.prefix=backbone.
_base_ = [
    '../../../detco/_base_/models/detco_r50.py',
    '../../../detco/_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/detco_backbone.pth')))
