# ImageNet linear classification on a frozen DetCo ResNet-50 [P 4.4, Table 8]. "The training
# epoch and learning rate is same as MoCo": mmselfsup's MoCo v1/v2 protocol,
# mmselfsup::benchmarks/classification/imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py:
# SGD lr 30, momentum 0.9, weight decay 0, 8 GPUs x 32 images, 100 epochs, lr x0.1 at 60 and 80;
# pillow-resized crops, a linear head on the globally pooled Res5.
# That file is restated here on its mmcls bases, not inherited: through `mmselfsup::` every
# inherited dict gets _scope_='mmselfsup', and ImageClassifier, ImageNet and Accuracy are mmcls
# classes ("ImageClassifier is not in the mmselfsup::model registry").
#
# From a backbone state dict OUT (tools/model_converters/detco_to_backbone.py IN OUT), 8 GPUs:
#   CFG=configs/benchmarks/classification/imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py
#   TRAIN=$(python -c "import mmcls; print(mmcls.__path__[0])")/.mim/tools/train.py
#   torchrun --nproc_per_node=8 $TRAIN $CFG --launcher pytorch \
#       --cfg-options model.backbone.init_cfg.checkpoint=OUT
# (`mim train mmcls $CFG --launcher pytorch -G 8` fails with torch >= 2.0: its
# torch.distributed.launch passes --local-rank, which mmcls's train.py rejects.) In one process:
# `mim train mmcls $CFG --cfg-options ... train_dataloader.batch_size=256` keeps the batch of 256.
# From a full DetCo checkpoint instead, also pass model.backbone.init_cfg.prefix=backbone.
_base_ = [
    'mmcls::_base_/models/resnet50.py',
    'mmcls::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmcls::_base_/schedules/imagenet_bs256.py',
    'mmcls::_base_/default_runtime.py',
]

model = dict(
    backbone=dict(
        frozen_stages=4,  # the stem and res2..res5: only the head learns
        norm_eval=True,  # batch-norm statistics stay those of pretraining
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/detco_backbone.pth')))

optim_wrapper = dict(optimizer=dict(lr=30., weight_decay=0.))
param_scheduler = dict(milestones=[60, 80])

# detco_mm's CrashSafeCheckpointHook: atomic files, old ones deleted after the new one
default_hooks = dict(
    checkpoint=dict(type='mmselfsup.CrashSafeCheckpointHook', interval=10, max_keep_ckpts=3))

# detco_mm's hooks, registered in mmselfsup's HOOKS: the run stops before the first iteration
# unless the backbone loaded completely from the file (PretrainedCheckHook); checkpoints that
# --resume loads under torch's weights_only=True default (WeightsOnlyCheckpointHook).
custom_imports = dict(imports=['detco_mm'], allow_failed_imports=False)
custom_hooks = [
    dict(type='mmselfsup.PretrainedCheckHook'),
    dict(type='mmselfsup.WeightsOnlyCheckpointHook'),
    # norm_eval keeps the backbone's BN statistics, and a DetCo checkpoint's are about half
    # those of the 64 px local patches: re-estimate them on 200 training batches (global views)
    # first (docs/evaluation.md, "Batch-norm statistics of frozen features").
    dict(type='mmselfsup.ReestimateBNHook', num_batches=200),
]
