#!/usr/bin/env bash
# Runs make_goldens.py (or another reference script) in a venv with tools/requirements.txt.
#
#   tools/reference/run_reference.sh --model DIR --out DIR --image CAM_FRONT=f.jpg --prompt "..."
#   tools/reference/run_reference.sh --script tiny_checkpoint.py --out /tmp/tiny_pg
#
# The venv is $DRIVELM_REF_VENV when set (reused as is when it already has the pinned packages),
# else <repo>/.venv-ref (git-ignored), created with python3 (3.11 tested) and filled from PyPI
# on first use. HF_HUB_OFFLINE=1: nothing is downloaded from the Hugging Face Hub.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
requirements="$repo/tools/requirements.txt"
venv="${DRIVELM_REF_VENV:-$repo/.venv-ref}"
python_bin="${PYTHON:-python3}"

script="make_goldens.py"
if [[ "${1:-}" == "--script" ]]; then
  script="${2:?--script needs a file name under tools/reference/}"
  shift 2
fi
if [[ ! -f "$here/$script" ]]; then
  echo "run_reference: no script $here/$script" >&2
  exit 2
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "run_reference: creating venv $venv" >&2
  "$python_bin" -m venv "$venv"
fi

# Installs only when a pinned requirement is missing or at another version.
if ! "$venv/bin/python" - "$requirements" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PY
then
  echo "run_reference: installing $requirements into $venv" >&2
  "$venv/bin/python" -m pip install --quiet -r "$requirements" >&2
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "$venv/bin/python" "$here/$script" "$@"
