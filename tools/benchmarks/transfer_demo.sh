#!/usr/bin/env bash
# `make transfer-demo`: DetCo checkpoint -> detco_to_backbone.py -> Mask R-CNN R18-FPN fine-tuned
# and evaluated on the CPU (one process) -> box and mask AP. Minutes, not a benchmark: it shows
# the whole transfer path working on a small set.
#
#   bash tools/benchmarks/transfer_demo.sh [--data PATH] [KEY=VALUE ...]
#
# Without --data: the images of `make demo` (DEMO_DATA, default data/detco_demo) train, and a
# held-out set generated into the same folder (--split val, another seed) evaluates, with
# configs/demo/mask-rcnn_r18_fpn_tiny_synthetic.py. With --data PATH: a set in the COCO 2017
# layout with the 80 COCO classes (train2017/, val2017/,
# annotations/instances_{train,val}2017.json), with configs/demo/mask-rcnn_r18_fpn_tiny_coco.py.
# Relative paths are from the repository root.
# KEY=VALUE words continue --cfg-options (e.g. train_cfg.max_iters=100).
# PRETRAIN (default work_dirs/detco_demo/epoch_2.pth, from `make demo`) is the DetCo checkpoint;
# WORK_DIR (default work_dirs/transfer_demo) receives the converted backbone and the run.
set -e
cd "$(dirname "$0")/../.."

PRETRAIN=${PRETRAIN:-work_dirs/detco_demo/epoch_2.pth}
DEMO_DATA=${DEMO_DATA:-data/detco_demo}
WORK_DIR=${WORK_DIR:-work_dirs/transfer_demo}
DATA=
if [ "$1" = --data ]; then
    DATA=${2%/}
    shift 2
fi
if [ ! -f "$PRETRAIN" ]; then
    echo "transfer_demo.sh: $PRETRAIN does not exist: run 'make demo' first, or set PRETRAIN" >&2
    exit 1
fi

if [ -n "$DATA" ]; then
    CFG=configs/demo/mask-rcnn_r18_fpn_tiny_coco.py
    ROOT=$DATA
    VAL_ANN=$ROOT/annotations/instances_val2017.json
else
    CFG=configs/demo/mask-rcnn_r18_fpn_tiny_synthetic.py
    ROOT=$DEMO_DATA
    VAL_ANN=$ROOT/annotations/instances_val.json
    if [ ! -f "$VAL_ANN" ]; then
        python tools/data/make_synthetic_images.py --out "$ROOT" --split val --num 16 --seed 1
    fi
fi
for ann in "$ROOT"/annotations/instances_train*.json "$VAL_ANN"; do
    if [ ! -f "$ann" ]; then
        echo "transfer_demo.sh: $ann does not exist (see the layout at the top of $0)" >&2
        exit 1
    fi
done

BACKBONE=$WORK_DIR/detco_backbone.pth
python tools/model_converters/detco_to_backbone.py "$PRETRAIN" "$BACKBONE"
WORK_DIR=$WORK_DIR/finetune bash tools/benchmarks/mim_dist_train_mmdet.sh "$CFG" "$BACKBONE" 0 \
    train_dataloader.dataset.data_root="$ROOT/" val_dataloader.dataset.data_root="$ROOT/" \
    test_dataloader.dataset.data_root="$ROOT/" val_evaluator.ann_file="$VAL_ANN" \
    test_evaluator.ann_file="$VAL_ANN" "$@"

# the last evaluation of the run (mmengine's scalars.json, one JSON object per line)
SCALARS=$(ls -t "$WORK_DIR"/finetune/*/vis_data/scalars.json | head -n 1)
python - "$SCALARS" <<'PY'
import json
import sys

results = [r for r in map(json.loads, open(sys.argv[1])) if 'coco/bbox_mAP' in r]
if not results:  # CocoMetric logs no AP when the detector output no box at all
    sys.exit('transfer demo: the detector predicted no box on the validation images, so '
             'there is no AP (train longer: train_cfg.max_iters=...)')
r = results[-1]
print(f"transfer demo: bbox AP {r['coco/bbox_mAP']:.3f} (AP50 {r['coco/bbox_mAP_50']:.3f}), "
      f"segm AP {r['coco/segm_mAP']:.3f} (AP50 {r['coco/segm_mAP_50']:.3f})")
PY
