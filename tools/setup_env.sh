#!/usr/bin/env bash
# One unattended set-up into a project-local venv (.venv/).
#
#   bash tools/setup_env.sh            # idempotent: steps already done are skipped
#
# Environment:
#   DETCO_VENV          venv path (default: <repo>/.venv)
#   DETCO_WHEEL_CACHE   where the mmcv 2.0.1 wheel with compiled ops is kept between set-ups
#                       (default: ~/.cache/detco_mm/wheels; outside the repo on purpose)
#   DETCO_PYTHON        interpreter for the venv (default: python3.11, else python3)
#   DETCO_BACKENDS      toolboxes DetCo is registered into, comma-separated, from mmselfsup
#                       (always installed: detco_mm's core is written on it) and mmpretrain
#                       (adds mmpretrain for `mim train mmpretrain configs/detco_mmpretrain/...`;
#                       `make test` and CI use mmselfsup,mmpretrain). Default: mmselfsup
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# absolute: the mmcv build below runs in another directory
VENV="$(realpath -m "${DETCO_VENV:-$ROOT/.venv}")"
CACHE="$(realpath -m "${DETCO_WHEEL_CACHE:-$HOME/.cache/detco_mm/wheels}")"
CONSTRAINTS="$ROOT/requirements/constraints.txt"  # ROOT is absolute
MMCV_VERSION=2.0.1
STEP="start"

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
trap 'rc=$?; [ $rc -ne 0 ] && printf "[setup] FAILED at step \"%s\" (exit %d). Re-run the same command after fixing the cause; finished steps are skipped.\n" "$STEP" "$rc" >&2' EXIT

step() { STEP="$1"; log "step: $1"; }

BACKENDS="${DETCO_BACKENDS:-mmselfsup}"
WITH_MMPRETRAIN=0
for backend in ${BACKENDS//,/ }; do
  case "$backend" in
    mmselfsup) ;;
    mmpretrain) WITH_MMPRETRAIN=1 ;;
    *) echo "[setup] DETCO_BACKENDS=$BACKENDS: unknown backend '$backend'; use mmselfsup or mmselfsup,mmpretrain" >&2; exit 2 ;;
  esac
done

PY="${DETCO_PYTHON:-}"
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi

step "create venv ($VENV with $PY)"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip install --disable-pip-version-check --progress-bar off -c "$CONSTRAINTS")

step "install torch, torchvision and build tools"
if ! "$VPY" -c "import torch, torchvision, numpy, wheel, ninja, setuptools" >/dev/null 2>&1; then
  "${PIP[@]}" torch torchvision numpy setuptools wheel ninja
fi

step "mmcv $MMCV_VERSION with compiled ops"
if "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" >/dev/null 2>&1; then
  log "mmcv.ops already importable: skipping build"
else
  mkdir -p "$CACHE"
  WHEEL="$(ls "$CACHE"/mmcv-$MMCV_VERSION-*.whl 2>/dev/null | head -n 1 || true)"
  if [ -z "$WHEEL" ]; then
    BUILD="$(mktemp -d)"
    log "no cached wheel in $CACHE: building from source (about 15 min on 2 cores)"
    "$VPY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
      -d "$BUILD" "mmcv==$MMCV_VERSION"
    tar -xzf "$BUILD"/mmcv-$MMCV_VERSION.tar.gz -C "$BUILD"
    # torch >= 2.x headers need C++20; mmcv 2.0.1's setup.py hard-codes -std=c++14/17.
    sed -i 's/-std=c++14/-std=c++20/g; s/-std=c++17/-std=c++20/g' "$BUILD/mmcv-$MMCV_VERSION/setup.py"
    # CFLAGS=-g0 drops Python's default -g: the build is ~2.5x faster and the wheel ~2 MB.
    (cd "$BUILD/mmcv-$MMCV_VERSION" && \
      MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" CFLAGS=-g0 CXXFLAGS=-g0 \
      "$VPY" -m pip wheel --disable-pip-version-check --no-deps --no-build-isolation \
        -w "$BUILD/dist" . )
    cp "$BUILD"/dist/mmcv-$MMCV_VERSION-*.whl "$CACHE/"
    rm -rf "$BUILD"
    WHEEL="$(ls "$CACHE"/mmcv-$MMCV_VERSION-*.whl | head -n 1)"
  else
    log "using cached wheel $WHEEL"
  fi
  "${PIP[@]}" --no-deps "$WHEEL"
  "${PIP[@]}" addict packaging pillow pyyaml yapf
fi

step "install OpenMMLab stack, tensorboard and test tools"
# tensorboard: the configs' TensorboardVisBackend imports it when a run starts.
# pytest-xdist: `make test` runs the suite in two processes (one per core of CI).
# ruff: `make lint` (configured in pyproject.toml).
"${PIP[@]}" mmengine mmcls mmselfsup mmdet openmim pycocotools tensorboard pytest pytest-xdist ruff

if [ "$WITH_MMPRETRAIN" = 1 ]; then
  step "install the mmpretrain backend"
  "${PIP[@]}" mmpretrain
fi

step "install detco_mm (editable)"
"${PIP[@]}" --no-deps -e "$ROOT"

step "check imports"
"$VPY" - <<'PYEOF'
import mmcv.ops, mmdet, mmselfsup, torch, numpy
from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (the configs log to TensorBoard)
import detco_mm  # noqa: F401  (registers DetCo, DetCoNeck, DetCoHead, JigsawPatches)
print(f'torch {torch.__version__}, numpy {numpy.__version__}, mmcv {mmcv.__version__}, '
      f'mmselfsup {mmselfsup.__version__}, mmdet {mmdet.__version__}')
PYEOF
if [ "$WITH_MMPRETRAIN" = 1 ]; then
  "$VPY" -c "import detco_mm.backends.mmpretrain, mmpretrain; print(f'mmpretrain {mmpretrain.__version__}')"
  touch "$VENV/.detco_mmpretrain_done"
fi
touch "$VENV/.detco_setup_done"
STEP="done"
log "done: activate with 'source $VENV/bin/activate'"
