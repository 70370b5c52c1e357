#!/usr/bin/env bash
# The GPU check of docs/speed.md, one command, <= 10 minutes on one H100/H200 with 16 cores.
#
#   bash tools/benchmarks/device_check.sh prepare DATA  # here (CPU machine, network): fills .devdata/
#   bash tools/benchmarks/device_check.sh           # on the GPU machine, with .devdata/ carried
#
# ``wheels`` (the wheels part of prepare) and ``install`` (step 1) are also used alone by
# tools/benchmarks/gpu_evidence.sh.
#
# .devdata/ (git-ignored, < 64 MiB): the wheels the GPU image lacks (its Python is 3.12, no
# network; STACK.md "On the H100 machine"), mmcv 2.0.1's sdist, DATA/imagenet_det_1k (1000 real
# JPEGs) and a 40-image subset of DATA/coco_mini (a COCO-layout set with masks). On the GPU machine it then
#   1. installs the wheels into .devdata/site (numpy < 2: numpy 2 crashes the CPU path's hue),
#   2. runs tools/benchmarks/throughput.py (MoCo v2 / DetCo / DetCo-gpuaug; data, preprocess,
#      model, e2e; batch 256, 16 workers, bf16, channels_last),
#   3. builds mmcv's CUDA ops in the background (~4 min, MAX_JOBS=16, CFLAGS=-g0) while a few
#      iterations of the bf16 gpuaug pretraining config run,
#   4. converts that checkpoint and fine-tunes Mask R-CNN R50-FPN a few iterations on the COCO
#      subset (CUDA RoIAlign / nms).
# Logs and outputs go to $OUT (the run tool's output folder) or work_dirs/device_check/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEV="$ROOT/.devdata"
MMCV=mmcv-2.0.1
log() { printf '[device_check %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

wheels() {
  mkdir -p "$DEV/wheels"
  local pip=(python -m pip download --disable-pip-version-check --no-deps -d "$DEV/wheels")
  "${pip[@]}" --only-binary :all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    numpy==1.26.4 pycocotools==2.0.11 shapely==2.0.7
  "${pip[@]}" mmengine==0.10.7 mmcls==1.0.0rc6 mmselfsup==1.0.0 mmdet==3.3.0 addict yapf \
    platformdirs termcolor modelindex model-index ordered-set mat4py terminaltables
  "${pip[@]}" --no-binary :all: "mmcv==2.0.1"
}

prepare() {
  [ $# -eq 1 ] || { echo "usage: $0 prepare DATA (a folder holding imagenet_det_1k/ and coco_mini/)" >&2; exit 2; }
  local DATA="$1"
  wheels
  mkdir -p "$DEV/data"
  cp -r "$DATA/imagenet_det_1k" "$DEV/data/"
  python - "$DATA/coco_mini" "$DEV/data/coco_mini" <<'PYEOF'
import json, os, shutil, sys
src, dst = sys.argv[1:]
ann = json.load(open(f'{src}/annotations/instances_train2017.json'))
imgs = [i for i in ann['images'] if any(a['image_id'] == i['id'] for a in ann['annotations'])][:40]
ids = {i['id'] for i in imgs}
ann.update(images=imgs, annotations=[a for a in ann['annotations'] if a['image_id'] in ids])
os.makedirs(f'{dst}/annotations', exist_ok=True)
os.makedirs(f'{dst}/train2017', exist_ok=True)
json.dump(ann, open(f'{dst}/annotations/instances_train2017.json', 'w'))
for i in imgs:
    shutil.copy(f"{src}/train2017/{i['file_name']}", f'{dst}/train2017/')
PYEOF
  du -sh "$DEV"
  log "carry .devdata to the GPU machine and run: bash tools/benchmarks/device_check.sh"
}

install() {
  python -m pip install --disable-pip-version-check --no-index --no-deps -q \
    --target "$DEV/site" "$DEV"/wheels/*.whl
  rm -rf "$DEV/$MMCV" && tar -xzf "$DEV/wheels/$MMCV.tar.gz" -C "$DEV"
  # torch's headers need C++20; mmcv 2.0.1's setup.py hard-codes -std=c++14 (STACK.md item 1).
  sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$DEV/$MMCV/setup.py"
  export PYTHONPATH="$ROOT:$DEV/site:$DEV/$MMCV" OMP_NUM_THREADS=1
  if ! python -c "import cv2, torch" 2>/dev/null; then
    # the image's own compiled packages may need its numpy 2: keep that one (then the CPU
    # paths' mmcv hue can crash, STACK.md item 2; the gpuaug path does not use it)
    log "numpy 1.26 breaks this image's cv2 or torch: using the image's numpy"
    rm -rf "$DEV"/site/numpy "$DEV"/site/numpy-* "$DEV"/site/numpy.libs
  fi
  python -c "import cv2, torch, mmselfsup, detco_mm, numpy; print('numpy', numpy.__version__)"
}

run() {
  local out="${OUT:-$ROOT/work_dirs/device_check}"
  mkdir -p "$out"
  exec > >(tee "$out/device_check.log") 2>&1
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  log "cores $(nproc); python $(python -V 2>&1)"

  log "1. wheels -> .devdata/site"
  install

  log "2. throughput (alternating MoCo v2 / DetCo / DetCo-gpuaug)"
  timeout 240 python tools/benchmarks/throughput.py "$DEV/data/imagenet_det_1k/" \
    --device cuda --batch 256 --workers 16 --rounds 1 --iters 6 --amp --channels-last \
    || log "throughput.py failed or timed out (rc $?)"

  log "3. mmcv CUDA ops build (background) + bf16 gpuaug pretraining, 1 epoch = 31 iterations"
  local arch
  arch=$(python -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
  (cd "$DEV/$MMCV" && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$arch" MAX_JOBS=16 \
     CFLAGS=-g0 CXXFLAGS=-g0 timeout 420 python setup.py build_ext --inplace \
     > "$out/mmcv_build.log" 2>&1) &
  local build=$!
  local selfsup
  selfsup=$(python -c "import mmselfsup, os; print(os.path.dirname(mmselfsup.__file__))")
  timeout 150 python "$selfsup/.mim/tools/train.py" \
    configs/detco/detco-gpuaug-amp_resnet50_8xb32-coslr-200e_in1k.py \
    --work-dir "$out/pretrain" --cfg-options \
    train_dataloader.dataset.data_root="$DEV/data/imagenet_det_1k/" train_cfg.max_epochs=1 \
    train_dataloader.num_workers=8 default_hooks.logger.interval=5 \
    || log "pretraining failed or timed out (rc $?)"
  wait $build || { log "mmcv build failed (rc $?): tail of $out/mmcv_build.log"; \
                   tail -n 20 "$out/mmcv_build.log"; exit 1; }
  python -c "import mmcv.ops; print('mmcv ops', mmcv.ops.__file__)"

  log "4. convert + Mask R-CNN R50-FPN, 20 iterations on the COCO subset (CUDA RoIAlign, nms)"
  python tools/model_converters/detco_to_backbone.py "$out/pretrain/epoch_1.pth" \
    "$out/backbone.pth"
  local mmdet
  mmdet=$(python -c "import mmdet, os; print(os.path.dirname(mmdet.__file__))")
  timeout 120 python "$mmdet/.mim/tools/train.py" \
    configs/benchmarks/mmdetection/coco/mask-rcnn_r50_fpn_ms-12k_coco.py \
    --work-dir "$out/finetune" --cfg-options \
    model.backbone.init_cfg.checkpoint="$out/backbone.pth" \
    train_dataloader.dataset.data_root="$DEV/data/coco_mini/" train_dataloader.batch_size=8 \
    train_dataloader.num_workers=8 train_cfg.max_iters=20 train_cfg.val_interval=1000 \
    val_cfg=None val_dataloader=None val_evaluator=None test_cfg=None test_dataloader=None \
    test_evaluator=None default_hooks.logger.interval=5 \
    || log "fine-tuning failed or timed out (rc $?)"
  log "done; logs in $out"
}

case "${1:-run}" in
  prepare) shift; prepare "$@" ;;
  wheels) wheels ;;
  install) install ;;
  run) run ;;
  *) echo "usage: $0 [prepare DATA|wheels|install|run]" >&2; exit 2 ;;
esac
