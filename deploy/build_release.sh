#!/usr/bin/env bash
# The build stage of deploy/Dockerfile, runnable outside Docker too: installs the build's Debian
# packages with the same script ./test.sh and ./serve.sh use, builds the binaries and stages
# them (deploy/stage_release.sh) into OUT_DIR.
#
#   deploy/build_release.sh OUT_DIR
#
# DRIVELM_BAZEL_FLAGS adds Bazel flags (the CUDA variant: --config=cuda, once the server links
# the CUDA backend; issue 5).
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# != 1)); then
  echo "usage: $0 OUT_DIR" >&2
  exit 1
fi
out="$1"

tools/setup_deps.sh
# shellcheck disable=SC2086  # DRIVELM_BAZEL_FLAGS is a list of flags
bazel build ${DRIVELM_BAZEL_FLAGS:-} //server:drivelm_server //clients:drivelm_client \
  //tools:make_tiny_model
deploy/stage_release.sh "$(bazel info ${DRIVELM_BAZEL_FLAGS:-} bazel-bin)" "$out"
