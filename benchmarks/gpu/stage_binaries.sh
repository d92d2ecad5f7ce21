#!/bin/bash
# Run HERE (the Bazel machine), in a session whose task has a GPU, just before the device call:
# builds the Bazel GPU tests with --config=cuda and packs them, with the shared libraries they
# load that the GPU image lacks (OpenBLAS, gfortran, absl, ...), into
# benchmarks/out/gpu_stage/gtest_bins.tar.xz. benchmarks/out/ is ignored by git, so the device
# call must name it in `carry`:  run(command="bash benchmarks/gpu/run_device.sh",
#                                     carry=["benchmarks/out/gpu_stage"])
# The GPU image has no Bazel and no Debian packages; these binaries are x86-64 builds against
# Debian 12's glibc 2.36, which the image's newer glibc runs. CUDA libraries stay behind: the
# device's own toolkit (CUDA 13, matching its driver) provides cudart and cuBLAS. libstdc++ and
# libgcc_s go into lib_fallback/, used only if the image's own are too old.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUTPUT_BASE=${DRIVELM_CUDA_OUTPUT_BASE:-/root/.cache/bazel_cuda}
TARGETS=(//engine/backend/cuda:cuda_backend_test //kernels:rms_norm_test
         //tests:golden_parity_cuda_test)
bazel --output_base="$OUTPUT_BASE" build --symlink_prefix=/ --config=cuda "${TARGETS[@]}"
BIN=$(bazel --output_base="$OUTPUT_BASE" info --config=cuda bazel-bin 2>/dev/null)

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/lib_fallback"
for t in "${TARGETS[@]}"; do
  path=${t#//}
  cp "$BIN/${path/://}" "$STAGE/bin/"
done
for b in "$STAGE"/bin/*; do ldd "$b" | awk '/=> \//{print $3}'; done | sort -u |
  while read -r lib; do
    case $(basename "$lib") in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*) ;;  # glibc: the image's
      libcuda.so*|libcudart.so*|libcublas*) ;;                           # CUDA: the image's
      libstdc++.so*|libgcc_s.so*) cp -L "$lib" "$STAGE/lib_fallback/" ;;
      *) cp -L "$lib" "$STAGE/lib/" ;;
    esac
  done
mkdir -p benchmarks/out/gpu_stage
tar -C "$STAGE" -cJf benchmarks/out/gpu_stage/gtest_bins.tar.xz .
ls -la benchmarks/out/gpu_stage/
tar -tJf benchmarks/out/gpu_stage/gtest_bins.tar.xz
