#!/bin/bash
# The one command for the GPU machine (device tool), from the repository root:
#
#   here, first:  bash benchmarks/gpu/stage_binaries.sh        (Bazel GPU tests + their libs)
#   then:         run(command="bash benchmarks/gpu/run_device.sh",
#                     carry=["benchmarks/out/gpu_stage"], timeout_s=600)
#
# On the device (nvcc, PyTorch, transformers, compute-sanitizer; no Bazel, no Debian packages):
#   1. device facts                          -> $OUT/device.txt
#   2. build kernels/ + drivers with nvcc (benchmarks/gpu/Makefile, sm_90)
#   3. kernel_check: every kernel vs naive CPU loops       -> $OUT/kernel_check.json
#   4. compute-sanitizer memcheck / racecheck / synccheck / initcheck on kernel_check --quick
#                                                          -> $OUT/sanitizer.txt
#   5. the Bazel-built gtests, if staged: cuda_backend_test (CudaBackend vs CpuBackend, every
#      op), rms_norm_test, golden_parity_cuda_test (tiny checkpoints vs transformers goldens)
#                                                          -> $OUT/gtest.txt
#   6. kernel_bench: ceilings + each kernel at PaliGemma-3B shapes -> $OUT/kernel_bench.json
#   7. hf_baseline.py: transformers, PaliGemma-3B random weights, bf16 -> $OUT/hf_baseline.json
#   8. a summary of every step's status and time           -> $OUT/summary.json, log.txt
# Every step has its own time limit and the whole run stays under ~9 minutes; a failing step is
# recorded and the next one still runs. Exit status: 0 only if every check passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${OUT:-/tmp/drivelm_gpu_out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
export DRIVELM_REQUIRE_GPU=1  # the gtests fail, rather than skip, if they find no device
T0=$(date +%s)
DEADLINE=$((T0 + ${DRIVELM_DEVICE_BUDGET_S:-530}))
BUILD=/tmp/drivelm_gpu_build
STEPS=()  # "name rc seconds"

remaining() { echo $((DEADLINE - $(date +%s))); }

# step NAME LIMIT_S COMMAND...: runs COMMAND under timeout min(LIMIT, time left), records it.
step() {
  local name=$1 limit=$2
  shift 2
  local left
  left=$(remaining)
  if [ "$left" -lt 10 ]; then
    echo "=== $name: skipped (time budget spent)"
    STEPS+=("$name skipped 0")
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name (limit ${limit}s)"
  local s rc
  s=$(date +%s)
  timeout "$limit" "$@"
  rc=$?
  echo "=== $name: exit $rc after $(($(date +%s) - s))s"
  STEPS+=("$name $rc $(($(date +%s) - s))")
  return 0
}

# ---------------------------------------------------------------- 1. the device and its tools
{
  echo "date: $(date -u)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit --format=csv 2>&1
  nvidia-smi 2>&1 | head -20
  uname -a
  CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
  [ -x "$CUDA_HOME/bin/nvcc" ] || CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
  echo "CUDA_HOME=$CUDA_HOME"
  "$CUDA_HOME/bin/nvcc" --version | tail -2
  command -v compute-sanitizer ncu cmake g++ python3
  g++ --version | head -1
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
  ldd --version | head -1
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
[ -x "$CUDA_HOME/bin/nvcc" ] || CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
export PATH="$CUDA_HOME/bin:$PATH"
SANITIZER=$(command -v compute-sanitizer || ls "$CUDA_HOME"/bin/compute-sanitizer "$CUDA_HOME"/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)

# cuBLAS may live in the toolkit or only in the pip wheels PyTorch uses (nvidia-cublas): find the
# header and the libraries, and give the linker unversioned names where only .so.13 exists.
EXTRA_INC=""
EXTRA_LIB=""
LIBDIRS=""
if [ ! -f "$CUDA_HOME/include/cublas_v2.h" ]; then
  h=$(find / -xdev -name cublas_v2.h -not -path '/proc/*' 2>/dev/null | head -1)
  [ -n "$h" ] && EXTRA_INC="-I$(dirname "$h")"
fi
if ! ls "$CUDA_HOME"/lib64/libcublas.so* >/dev/null 2>&1; then
  l=$(find / -xdev -name 'libcublas.so*' -not -path '/proc/*' 2>/dev/null | head -1)
  if [ -n "$l" ]; then
    d=$(dirname "$l")
    mkdir -p /tmp/drivelm_cudalibs
    for name in cublas cublasLt; do
      v=$(ls "$d"/lib$name.so.* 2>/dev/null | head -1)
      [ -n "$v" ] && ln -sf "$v" /tmp/drivelm_cudalibs/lib$name.so
    done
    EXTRA_LIB="-L/tmp/drivelm_cudalibs -L$d -Wl,-rpath,$d"
    LIBDIRS="$d"
  fi
fi
export LD_LIBRARY_PATH="$CUDA_HOME/lib64${LIBDIRS:+:$LIBDIRS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "cuBLAS: EXTRA_INC='$EXTRA_INC' EXTRA_LIB='$EXTRA_LIB' LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

# ------------------------------------------------------------------------------ 2. build
ARCH="-gencode arch=compute_90,code=sm_90"
# The same as the Makefile, for an image without make: every .cu in parallel, then two links.
build_without_make() {
  mkdir -p "$BUILD/kernels"
  local f pids=() rc=0
  for f in kernels/*.cu benchmarks/gpu/kernel_check.cu benchmarks/gpu/kernel_bench.cu; do
    nvcc -std=c++17 -O3 $ARCH -I"$ROOT" $EXTRA_INC -c "$f" \
      -o "$BUILD/kernels/$(basename "$f" .cu).o" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc -eq 0 ] || return 1
  local objs
  objs=$(ls "$BUILD"/kernels/*.o | grep -v -e kernel_check.o -e kernel_bench.o)
  nvcc $ARCH "$BUILD/kernels/kernel_check.o" $objs -o "$BUILD/kernel_check" \
    -L"$CUDA_HOME/lib64" $EXTRA_LIB -lcublas &&
  nvcc $ARCH "$BUILD/kernels/kernel_bench.o" $objs -o "$BUILD/kernel_bench" \
    -L"$CUDA_HOME/lib64" $EXTRA_LIB -lcublas
}
if command -v make >/dev/null; then
  step build 240 make -C benchmarks/gpu -j16 BUILD="$BUILD" CUDA_HOME="$CUDA_HOME" ARCH="$ARCH" \
    EXTRA_INC="$EXTRA_INC" EXTRA_LIB="$EXTRA_LIB"
else
  export -f build_without_make
  export ROOT BUILD ARCH EXTRA_INC EXTRA_LIB CUDA_HOME
  step build 240 bash -c build_without_make
fi

# ------------------------------------------------------------------------- 3. kernel_check
step kernel_check 120 "$BUILD/kernel_check" --json "$OUT/kernel_check.json"

# ------------------------------------------------------------------------ 4. sanitizers
: > "$OUT/sanitizer.txt"
for tool in memcheck racecheck synccheck initcheck; do
  if [ -z "$SANITIZER" ]; then
    echo "compute-sanitizer not found" >> "$OUT/sanitizer.txt"
    STEPS+=("sanitizer_$tool missing 0")
    continue
  fi
  step "sanitizer_$tool" 90 bash -c "'$SANITIZER' --tool $tool --error-exitcode 99 \
    '$BUILD/kernel_check' --quick >> '$OUT/sanitizer.txt' 2>&1"
  tail -3 "$OUT/sanitizer.txt"
done

# ------------------------------------------------------------------------ 5. Bazel gtests
STAGE_TAR=benchmarks/out/gpu_stage/gtest_bins.tar.xz
: > "$OUT/gtest.txt"
if [ -f "$STAGE_TAR" ]; then
  rm -rf /tmp/drivelm_stage && mkdir -p /tmp/drivelm_stage
  tar -C /tmp/drivelm_stage -xJf "$STAGE_TAR"
  STAGE_LD="/tmp/drivelm_stage/lib:$LD_LIBRARY_PATH"
  # The image's libstdc++ is normally newer than Debian 12's; fall back to the staged one if not.
  if ! LD_LIBRARY_PATH="$STAGE_LD" /tmp/drivelm_stage/bin/rms_norm_test --gtest_list_tests >/dev/null 2>&1; then
    echo "gtests: using the staged libstdc++" | tee -a "$OUT/gtest.txt"
    STAGE_LD="/tmp/drivelm_stage/lib:/tmp/drivelm_stage/lib_fallback:$LD_LIBRARY_PATH"
  fi
  for t in rms_norm_test cuda_backend_test golden_parity_cuda_test; do
    step "gtest_$t" 120 bash -c "LD_LIBRARY_PATH='$STAGE_LD' /tmp/drivelm_stage/bin/$t \
      >> '$OUT/gtest.txt' 2>&1"
    grep -E '^\[  (PASSED|FAILED|SKIPPED) |tests ran' "$OUT/gtest.txt" | tail -3
  done
  if [ -n "$SANITIZER" ]; then
    step gtest_cuda_backend_test_memcheck 90 bash -c "LD_LIBRARY_PATH='$STAGE_LD' '$SANITIZER' \
      --tool memcheck --error-exitcode 99 /tmp/drivelm_stage/bin/cuda_backend_test \
      >> '$OUT/gtest.txt' 2>&1"
  fi
else
  echo "no $STAGE_TAR: run benchmarks/gpu/stage_binaries.sh here first and carry benchmarks/out/gpu_stage" | tee "$OUT/gtest.txt"
  STEPS+=("gtests not_staged 0")
fi

# ------------------------------------------------------------------------- 6. kernel_bench
step kernel_bench 150 "$BUILD/kernel_bench" --json "$OUT/kernel_bench.json"

# ----------------------------------------------------------------- 7. transformers baseline
left=$(remaining)
HF_BUDGET=$((left - 90))
[ "$HF_BUDGET" -lt 30 ] && HF_BUDGET=30
step hf_baseline "$left" python3 benchmarks/gpu/hf_baseline.py --out "$OUT/hf_baseline.json" \
  --budget_s "$HF_BUDGET"

# ------------------------------------------------------------------------------ 8. summary
python3 - "$OUT/summary.json" "$(($(date +%s) - T0))" "${STEPS[@]}" <<'PY'
import json, sys
out, total, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = [dict(zip(("step", "status", "seconds"), s.split())) for s in steps]
ok = all(r["status"] == "0" for r in rows)
json.dump({"total_s": total, "all_ok": ok, "steps": rows}, open(out, "w"), indent=2)
print(f"\n{'step':<40} {'status':>10} {'s':>5}")
for r in rows:
    print(f"{r['step']:<40} {r['status']:>10} {r['seconds']:>5}")
print(f"total {total} s; all steps ok: {ok}")
PY
grep -E '^kernel_check:' "$OUT/log.txt" | tail -1
grep -E '^FAIL ' "$OUT/log.txt" | head -20
grep -E 'ERROR SUMMARY' "$OUT/sanitizer.txt" | sort | uniq -c
ls -la "$OUT"
python3 -c "import json,sys; s=json.load(open('$OUT/summary.json')); sys.exit(0 if s['all_ok'] else 1)"
