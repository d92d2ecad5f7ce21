#!/usr/bin/env bash
# Lays out what the runtime image holds, from built binaries:
#
#   deploy/stage_release.sh BIN_DIR OUT_DIR
#
# BIN_DIR holds server/drivelm_server, clients/drivelm_client and tools/make_tiny_model (Bazel's
# bazel-bin, or a test's runfiles). OUT_DIR gets
#   bin/drivelm_server, bin/drivelm_client
#   models/tiny-default/       the default model: the same tiny checkpoint ./serve.sh generates
#                              (random weights, until the trained default model exists)
#   runtime-packages.txt       the Debian packages of the shared libraries the binaries load
# deploy/Dockerfile copies OUT_DIR to /opt/drivelm; deploy/ci/check_deploy.sh runs this script
# and serves from its output.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BIN_DIR OUT_DIR" >&2
  exit 1
fi
bin_dir="$1"
out="$2"
here="$(cd "$(dirname "$0")" && pwd)"

for f in server/drivelm_server clients/drivelm_client tools/make_tiny_model; do
  if [[ ! -x "$bin_dir/$f" ]]; then
    echo "stage_release: $bin_dir/$f is missing (bazel build //server:drivelm_server" \
      "//clients:drivelm_client //tools:make_tiny_model)" >&2
    exit 1
  fi
done

mkdir -p "$out/bin" "$out/models"
install -m 0755 "$bin_dir/server/drivelm_server" "$bin_dir/clients/drivelm_client" "$out/bin/"
rm -rf "$out/models/tiny-default"
"$bin_dir/tools/make_tiny_model" --out "$out/models/tiny-default" --seed 1 >/dev/null
"$here/runtime_packages.sh" "$out/bin/drivelm_server" "$out/bin/drivelm_client" \
  >"$out/runtime-packages.txt"
echo "stage_release: staged into $out ($(wc -l <"$out/runtime-packages.txt") runtime packages)" >&2
