#!/usr/bin/env bash
# Builds everything and runs every test. Last line: "N passed, M failed" (test cases, counted
# from each target's test.xml). Exits non-zero on any failure. Stops the Bazel server.
set -uo pipefail
cd "$(dirname "$0")"

tools/setup_deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# Tests that read the real DriveLM frames find them here; they skip, saying so, when absent.
if [[ -z "${DRIVELM_SHARED_DIR:-}" && -d ../shared ]]; then
  export DRIVELM_SHARED_DIR="$(cd ../shared && pwd)"
fi

status=0
bazel build //... || status=$?
# The CUDA code must always compile, even where no GPU runs it.
if [[ $status -eq 0 && -x /usr/local/cuda/bin/nvcc ]]; then
  bazel build --config=cuda //kernels/... //engine/backend/cuda/... \
    //tests:golden_parity_cuda_test //benchmarks/gpu/... || status=$?
fi
if [[ $status -eq 0 ]]; then
  bazel test //... "$@" || status=$?
fi

# Count test cases from every target's test.xml.
read -r passed failed < <(python3 - <<'PY'
import glob, xml.etree.ElementTree as ET
passed = failed = 0
for path in glob.glob("bazel-testlogs/**/test.xml", recursive=True):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        failed += 1
        continue
    cases = root.iter("testcase")
    found = False
    for c in cases:
        found = True
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
        elif c.get("status") == "notrun" or c.find("skipped") is not None:
            pass
        else:
            passed += 1
    if not found:  # a target that wrote no test cases (crashed before gtest started)
        failed += 1 if root.find(".//failure") is not None or root.find(".//error") is not None else 0
print(passed, failed)
PY
)
bazel shutdown >/dev/null 2>&1 || true
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
[[ $status -eq 0 && $failed -eq 0 ]]
