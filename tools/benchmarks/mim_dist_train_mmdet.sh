#!/usr/bin/env bash
# Fine-tune a DetCo backbone with a benchmark config of configs/benchmarks/mmdetection on GPUS
# GPUs of this machine (mmdet's tools/train.py through `mim train mmdet --launcher pytorch`),
# or in one process on the CPU with GPUS=0 (or --cpu).
#
#   bash tools/benchmarks/mim_dist_train_mmdet.sh CONFIG PRETRAIN GPUS [KEY=VALUE ...] [OPTIONS]
#
# PRETRAIN is a DetCo backbone file (tools/model_converters/detco_to_backbone.py) or a whole
# DetCo training checkpoint: pretrain_cfg_options.py refuses anything else and points the
# backbone (and, in R50-C4, the res5 RoI head) at it, adding prefix=backbone. for a whole
# checkpoint; the run's PretrainedCheckHook stops before the first iteration unless all their
# tensors loaded. The arguments after GPUS continue the --cfg-options list (KEY=VALUE); options
# of mmdet's train.py may follow (e.g. --auto-scale-lr, --amp). WORK_DIR=... overrides the
# work dir.
#
# The configs train on 16 images per iteration, 8 GPUs x 2 (Cityscapes: 8 x 1). With fewer
# GPUs, add --auto-scale-lr to scale the lr linearly with the total batch (the configs'
# auto_scale_lr.base_batch_size), or keep 16 images with train_dataloader.batch_size=N where
# N x GPUS = 16.
#
# SyncBN needs no change on one GPU: torch's SyncBatchNorm computes plain batch norm at world
# size 1, and a non-distributed run (`mim train mmdet CONFIG --gpus 1`) reverts it to BN
# (mmengine Runner.wrap_model). To name BN explicitly anyway, add
#   FPN (Mask R-CNN, RetinaNet): model.backbone.norm_cfg.type=BN model.neck.norm_cfg.type=BN
#   R50-C4: model.backbone.norm_cfg.type=BN model.roi_head.shared_head.norm_cfg.type=BN
# Batch norm over 2 images per GPU is noisy, which is why the protocol syncs it over 8 GPUs.
set -e

CFG=$1
PRETRAIN=$2
GPUS=$3
PY_ARGS=("${@:4}")

# one work_dir per config and pretrained file
NAME=$(basename "${CFG%.py}")/$(basename "${PRETRAIN%.*}")
WORK_DIR=${WORK_DIR:-work_dirs/benchmarks/mmdetection/$NAME}
INIT_OPTIONS=$(python "$(dirname "$0")/pretrain_cfg_options.py" "$CFG" "$PRETRAIN")

if [ "$GPUS" = 0 ] || [ "$GPUS" = --cpu ]; then
    # mim runs train.py in this process's environment (no torch.distributed launcher, no
    # NVIDIA driver needed); hiding the GPUs keeps mmengine on the CPU where there are some
    export CUDA_VISIBLE_DEVICES=
    LAUNCH=(--gpus 0)
else
    LAUNCH=(--launcher pytorch --gpus "$GPUS")
fi

set -x
# shellcheck disable=SC2086  # INIT_OPTIONS is a list of KEY=VALUE words
mim train mmdet "$CFG" \
    "${LAUNCH[@]}" \
    --work-dir "$WORK_DIR" \
    --cfg-options $INIT_OPTIONS "${PY_ARGS[@]}"
