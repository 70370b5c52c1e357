#!/usr/bin/env bash
# The evidence benchmark of docs/evidence.md at its GPU size, on one GPU, in <= 8 minutes with
# the install: DetCo and MoCo v2 img/s (CPU pipeline vs gpu-aug, bf16 AMP; throughput.py), then
# mini_benchmark.py --size gpu (64 px crops, batch 128, 100 epochs, 3 seeds, 4 runs at once)
# on imagenet_det_1k with the imagenette_96 readouts, and its table.
#
#   bash tools/benchmarks/gpu_evidence.sh prepare IMAGENET_DET_1K IMAGENETTE_96
#       here (CPU machine, network): the wheels of device_check.sh and the two sets at 96 px
#       into .devdata/ (git-ignored; ~35 MB, under 60 MB)
#   bash tools/benchmarks/gpu_evidence.sh           # on the GPU machine, with .devdata/ carried
#   bash tools/benchmarks/gpu_evidence.sh tiny      # the same steps on CPU at the tiny size,
#       on generated images (CI: tests/test_mini_benchmark.py)
# Logs and outputs go to $OUT (the run tool's output folder) or work_dirs/gpu_evidence/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
DEV="$ROOT/.devdata"
log() { printf '[gpu_evidence %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

prepare() {
  [ $# -eq 2 ] || { echo "usage: $0 prepare IMAGENET_DET_1K IMAGENETTE_96" >&2; exit 2; }
  bash tools/benchmarks/device_check.sh wheels
  python tools/data/resize_image_sets.py "$1" "$2" --out "$DEV/evidence" --short-side 96
  du -sh "$DEV/wheels" "$DEV/evidence"
  log "carry .devdata to the GPU machine and run: bash tools/benchmarks/gpu_evidence.sh"
}

# $1: size of mini_benchmark.py; $2, $3: the pool and the probe set; $4...: throughput.py's
# arguments after the data folder
benchmark() {
  local size=$1 pool=$2 probe=$3 out="${OUT:-$ROOT/work_dirs/gpu_evidence}"
  shift 3
  mkdir -p "$out"
  exec > >(tee "$out/gpu_evidence.log") 2>&1
  log "1. throughput (alternating MoCo v2 / DetCo / DetCo-gpuaug)"
  timeout 150 python tools/benchmarks/throughput.py "$pool/" "$@" \
    || log "throughput.py failed or timed out (rc $?)"
  log "2. mini_benchmark.py --size $size"
  local args=(--size "$size" --pretrain-data "$pool" --probe-data "$probe" "${PROBE_ARGS[@]}"
              --work-dir "$out/evidence")
  timeout 330 python tools/benchmarks/mini_benchmark.py "${args[@]}" > "$out/benchmark.log" 2>&1 \
    || log "mini_benchmark.py failed or timed out (rc $?): the table has the runs that finished"
  python tools/benchmarks/mini_benchmark.py "${args[@]}" --report-only
  log "done in ${SECONDS} s; results in $out/evidence/results.{md,json,png}"
}

gpu() {
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  log "0. wheels -> .devdata/site"
  # device_check.sh's install; its PYTHONPATH for this shell
  bash tools/benchmarks/device_check.sh install
  export PYTHONPATH="$ROOT:$DEV/site:$DEV/mmcv-2.0.1" OMP_NUM_THREADS=1
  PROBE_ARGS=()
  benchmark gpu "$DEV/evidence/imagenet_det_1k" "$DEV/evidence/imagenette_96" \
    --device cuda --batch 256 --workers 16 --rounds 1 --iters 4 --amp --channels-last
}

tiny() {
  local data
  data=$(mktemp -d)
  python tools/data/make_synthetic_images.py --out "$data" --num 8 --size 64 > /dev/null
  export OMP_NUM_THREADS=1
  PROBE_ARGS=(--probe-val-ann meta/train.txt --probe-prefix train/)
  benchmark tiny "$data" "$data" --device cpu --batch 2 --workers 0 --rounds 1 --iters 1 \
    --modes data --configs configs/detco/detco_resnet18_1xb4-coslr-2e_tiny.py \
    configs/detco/detco-gpuaug_resnet18_1xb4-coslr-2e_tiny.py
  rm -rf "$data"
}

case "${1:-gpu}" in
  prepare) shift; prepare "$@" ;;
  gpu) gpu ;;
  tiny) tiny ;;
  *) echo "usage: $0 [prepare IMAGENET_DET_1K IMAGENETTE_96|gpu|tiny]" >&2; exit 2 ;;
esac
