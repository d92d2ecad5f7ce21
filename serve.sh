#!/usr/bin/env bash
# Starts drivelm_server on the bundled default model: gRPC on 127.0.0.1:50051, Prometheus
# metrics on http://127.0.0.1:9464/metrics.
#
#   ./serve.sh                                  # defaults (deploy/config/server.yaml documents them)
#   ./serve.sh --listen 0.0.0.0:50051 --threads 4
#   ./serve.sh --config deploy/config/server.yaml --model /path/to/checkpoint
#
# Installs the Debian packages the build needs when any is missing (tools/setup_deps.sh), builds
# //server:drivelm_server, generates the default model into models/tiny-default when it is not
# there (a random tiny PaliGemma checkpoint until the trained default model lands: it answers
# gibberish, quickly), and execs the server. Extra arguments go to drivelm_server. Ctrl-C or
# SIGTERM shuts it down gracefully.
set -euo pipefail
cd "$(dirname "$0")"

DEFAULT_MODEL=models/tiny-default

tools/setup_deps.sh

targets=(//server:drivelm_server)
need_model=0
if [[ ! -f "$DEFAULT_MODEL/config.json" ]]; then
  need_model=1
  targets+=(//tools:make_tiny_model)
fi
echo "serve.sh: building ${targets[*]}" >&2
bazel build "${targets[@]}" >&2
bin=$(bazel info bazel-bin 2>/dev/null)

if ((need_model)); then
  echo "serve.sh: generating the default tiny model into $DEFAULT_MODEL" >&2
  tmp="$DEFAULT_MODEL.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$DEFAULT_MODEL")"
  "$bin/tools/make_tiny_model" --out "$tmp" --seed 1 >&2
  rm -rf "$DEFAULT_MODEL"
  mv "$tmp" "$DEFAULT_MODEL"
fi

exec "$bin/server/drivelm_server" "$@"
