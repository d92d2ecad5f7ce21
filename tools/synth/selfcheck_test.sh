#!/usr/bin/env bash
# //tools/synth:synth_selfcheck_test: runs selfcheck.py with the Python tools/synth/synth would
# use, without network (DRIVELM_SYNTH_OFFLINE=1: no venv is created from PyPI here). With no such
# Python on the machine (no DRIVELM_SYNTH_PYTHON, no tools/synth/.venv or .venv-ref, no system
# numpy/pillow) the test passes with a SKIP line, as the project's tests on optional inputs do.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
synth="$dir/synth"
if ! py="$(DRIVELM_SYNTH_OFFLINE=1 "$synth" --which_python 2>/dev/null)"; then
  echo "SKIP: synth_selfcheck_test: no Python with numpy and pillow (set DRIVELM_SYNTH_PYTHON," \
       "e.g. --test_env=DRIVELM_SYNTH_PYTHON=/tmp/venv/ref/bin/python, or run tools/synth/synth" \
       "once online to create tools/synth/.venv)"
  exit 0
fi
echo "synth_selfcheck_test: using $py"
export PYTHONDONTWRITEBYTECODE=1
exec "$py" "$dir/selfcheck.py" --synth "$synth"
