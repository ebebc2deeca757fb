#!/usr/bin/env bash
# The one command a GPU session runs on the device machine, from the repository root:
#
#     TISSUE_GIT_COMMIT=<sha> bash benchmarks/gpu_suite.sh      (with .wheels carried)
#
# 1. prints the machine (nvidia-smi, Python); 2. installs pydantic, tomli-w and tifffile from the
# wheels in .wheels/ (made here by `make gpu-wheels`) unless they import already; 3. puts
# the checkout on PYTHONPATH and checks that tissue and CuPy import and see a device;
# 4. runs the GPU tests (pytest -m gpu; "no tests collected" is not a failure);
# 5. runs the diffusion, cells, memory and scenario benchmarks with --backend gpu (the py-pde
# comparison is CPU-only: make bench); 6. copies logs and JSON results to $OUT (when set) and
# prints the result tables and a summary. Budget: under the device tool's 600 s per command
# (each step has its own time limit, 45 + 110 + 100 + 90 + 45 + 190 s); a normal run takes
# a few minutes.
#
# Environment: PYTHON (default python3), OUT (folder for logs and results),
# TISSUE_GIT_COMMIT (the commit, recorded in the JSON where the copy has no .git),
# TISSUE_DIFFUSION_SIZES / TISSUE_CELLS_SIZES (e.g. "64,128" / "1e4,1e5") to override sizes,
# TISSUE_SCENARIO_CASES (e.g. "whole-lung,cancer-immune") to choose scenario cases.
set -u -o pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$PWD
PY=${PYTHON:-python3}
DEST=${OUT:-}
LOGDIR=${DEST:-$(mktemp -d /tmp/tissue-gpu-suite.XXXXXX)}
mkdir -p "$LOGDIR"
LOG=$LOGDIR/gpu-suite.log
: >"$LOG"
STARTED=$(mktemp /tmp/tissue-gpu-suite-start.XXXXXX)  # results newer than this are this run's
export PYTHONUNBUFFERED=1
export PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
SUITE_START=$SECONDS

STEP_NAMES=()
STEP_STATUS=()
STEP_CODES=()
STEP_SECONDS=()

say() { echo "$*" | tee -a "$LOG"; }

record() {  # name status code seconds
  STEP_NAMES+=("$1")
  STEP_STATUS+=("$2")
  STEP_CODES+=("$3")
  STEP_SECONDS+=("$4")
}

# run_step NAME LIMIT_S STEP_LOG OK_CODES COMMAND...: run with a time limit, output to the
# screen, the suite log and STEP_LOG (if not "-"); OK_CODES is a space-separated list.
run_step() {
  local name=$1 limit=$2 step_log=$3 ok_codes=$4
  shift 4
  local t0=$SECONDS rc status
  say ""
  say "=== $name (limit ${limit}s): $*"
  if [ "$step_log" = "-" ]; then
    timeout --kill-after=15 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
  else
    : >"$step_log"
    timeout --kill-after=15 "$limit" "$@" 2>&1 | tee -a "$step_log" "$LOG"
    rc=${PIPESTATUS[0]}
  fi
  status=FAIL
  for code in $ok_codes; do
    [ "$rc" -eq "$code" ] && status=ok
  done
  [ "$rc" -eq 5 ] && [ "$status" = ok ] && [ "$name" = "gpu tests" ] && status="ok (none collected)"
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status="TIMEOUT"
  record "$name" "$status" "$rc" $((SECONDS - t0))
  [ "${status%% *}" = ok ]
}

summary() {
  say ""
  say "=== summary ($((SECONDS - SUITE_START)) s in all; logs and results in $LOGDIR)"
  say "| step | status | exit code | seconds |"
  say "| --- | --- | --- | --- |"
  local i failed=0
  for i in "${!STEP_NAMES[@]}"; do
    say "| ${STEP_NAMES[$i]} | ${STEP_STATUS[$i]} | ${STEP_CODES[$i]} | ${STEP_SECONDS[$i]} |"
    [ "${STEP_STATUS[$i]%% *}" = ok ] || failed=1
  done
  return $failed
}

# --- 1. the machine ------------------------------------------------------------------
say "tissue GPU suite: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) in $ROOT"
say "python: $(command -v "$PY") $("$PY" --version 2>&1)"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi 2>&1 | tee -a "$LOG"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
    --format=csv 2>&1 | tee -a "$LOG"
else
  say "nvidia-smi: not found"
fi

# --- 2. packages the machine lacks -----------------------------------------------------
t0=$SECONDS
if "$PY" -c "import pydantic, tomli_w, tifffile" 2>/dev/null; then
  record "pydantic, tomli-w, tifffile" "ok (present)" 0 $((SECONDS - t0))
elif [ -d .wheels ]; then
  say "installing pydantic, tomli-w and tifffile from .wheels"
  if ! "$PY" -m pip install --quiet --disable-pip-version-check --no-index \
    --find-links .wheels pydantic tomli-w tifffile 2>&1 | tee -a "$LOG"; then
    say "pip install into the interpreter failed; installing into /tmp/tissue-site instead"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-index --find-links .wheels \
      --target /tmp/tissue-site pydantic tomli-w tifffile 2>&1 | tee -a "$LOG"
    export PYTHONPATH="$PYTHONPATH:/tmp/tissue-site"
  fi
  if "$PY" -c "import pydantic, tomli_w, tifffile" 2>>"$LOG"; then
    record "pydantic, tomli-w, tifffile" "ok (installed)" 0 $((SECONDS - t0))
  else
    record "pydantic, tomli-w, tifffile" "FAIL" 1 $((SECONDS - t0))
  fi
else
  say "pydantic, tomli-w or tifffile missing and no .wheels/: run 'make gpu-wheels' and carry .wheels"
  record "pydantic, tomli-w, tifffile" "FAIL (no .wheels)" 1 $((SECONDS - t0))
fi

# --- 3. tissue and CuPy ------------------------------------------------------------------
if ! run_step "import tissue + cupy" 45 - 0 "$PY" -c "
import cupy, numpy, tissue
from tissue.backend import get_backend
backend = get_backend('gpu')
rt = cupy.cuda.runtime
print('tissue', tissue.__version__, '| numpy', numpy.__version__, '| cupy', cupy.__version__)
print('device:', backend.device_name, '| memory GiB: %.1f' % (backend.memory_bytes() / 2**30))
print('CUDA driver', rt.driverGetVersion(), '| runtime', rt.runtimeGetVersion())
"; then
  say "tissue or CuPy does not work here; skipping the tests and benchmarks"
  summary
  exit 1
fi

# --- 4. GPU tests ----------------------------------------------------------------------
run_step "gpu tests" 110 "$LOGDIR/pytest-gpu.log" "0 5" \
  "$PY" -m pytest -q -m gpu tests -p no:cacheprovider

# --- 5. benchmarks ----------------------------------------------------------------------
# the 512^3 box first, then the kernels, convergence and accuracy sections while the budget
# lasts (cases left unstarted at 75 s are recorded as skipped; the JSON is written after each)
diffusion_args=(--backend gpu --budget-s 75)
[ -n "${TISSUE_DIFFUSION_SIZES:-}" ] && diffusion_args+=(--sizes "$TISSUE_DIFFUSION_SIZES")
run_step "bench diffusion" 100 - 0 "$PY" -m benchmarks.bench_diffusion "${diffusion_args[@]}"

cells_args=(--backend gpu)
[ -n "${TISSUE_CELLS_SIZES:-}" ] && cells_args+=(--sizes "$TISSUE_CELLS_SIZES")
run_step "bench cells" 90 - 0 "$PY" -m benchmarks.bench_cells "${cells_args[@]}"

run_step "bench memory" 45 - 0 "$PY" -m benchmarks.bench_memory --backend gpu

scenario_args=(--backend gpu)
[ -n "${TISSUE_SCENARIO_CASES:-}" ] && scenario_args+=(--cases "$TISSUE_SCENARIO_CASES")
run_step "bench scenarios" 190 - 0 "$PY" -m benchmarks.bench_scenarios "${scenario_args[@]}"

# --- 6. results ------------------------------------------------------------------------
# only the results this run wrote
while IFS= read -r f; do
  cp "$f" "$LOGDIR/" && say "copied $f to $LOGDIR"
done < <(find benchmarks/results -maxdepth 1 -name '*-gpu-*.json' -newer "$STARTED")
say ""
"$PY" -m benchmarks.common --table --results "$LOGDIR" 2>&1 | tee -a "$LOG"
summary
