# Images and pooling for the VOC07 SVM benchmark of frozen features [P Table 2; Table 8, VOC07
# column]: mmselfsup's svm_voc07.py (the Goyal et al. 2019 protocol) kept as is, except that only
# Res2..Res5 are pooled, as in Table 2; out index 0 (the stem) is not evaluated. Each stage is
# average-pooled to ~9k dims (res2 6x6x256, res3 4x4x512, res4 3x3x1024, res5 2x2x2048) and
# saved as feat2..feat5. Used by tools/benchmarks/classification/extract_voc07.py (its default
# --dataset-config, from the repository root); see voc07/resnet50_svm-res2-res5_voc07.py.
_base_ = 'mmselfsup::benchmarks/classification/svm_voc07.py'

# _delete_ drops the _scope_ that `mmselfsup::` inheritance adds: the extractor passes every
# key but `type` to MultiPooling.
pool_cfg = dict(
    _delete_=True, type='MultiPooling', pool_type='specified', in_indices=(1, 2, 3, 4))
