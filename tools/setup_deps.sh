#!/usr/bin/env bash
# Installs the Debian packages the build needs, when any is missing. Shared by ./test.sh,
# ./serve.sh and deploy/Dockerfile so that every path installs the same things. prometheus (with
# promtool), yamllint, python3-yaml and python3-venv are for //deploy:check_deploy_test (kubectl,
# which it also uses, is no Debian 12 package: the test skips what needs it when it is missing).
set -euo pipefail

PACKAGES=(
  bazel-bootstrap g++ libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev prometheus-cpp-dev libgtest-dev
  libgmock-dev libbenchmark-dev libsentencepiece-dev libturbojpeg0-dev libpng-dev
  libopenblas-dev nlohmann-json3-dev libcurl4-openssl-dev gnuplot-nox
  prometheus yamllint python3-yaml python3-venv
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup_deps: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
