#!/usr/bin/env bash
# Writes deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/alerts.yaml: the operator's
# PrometheusRule carries the rule file's groups as its spec, indented.
#
#   deploy/ci/sync_prometheusrule.sh            # rewrite the PrometheusRule
#   deploy/ci/sync_prometheusrule.sh --check    # exit 1 when it differs (CI)
set -euo pipefail
deploy="$(cd "$(dirname "$0")/.." && pwd)"
target="$deploy/k8s/base/prometheusrule.yaml"

render() {
  cat <<'HEAD'
# Generated from deploy/prometheus/alerts.yaml by deploy/ci/sync_prometheusrule.sh (the alerts'
# comments are there): edit that file and rerun the script. CI fails when the two differ.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: drivelm-server
  labels:
    app.kubernetes.io/name: drivelm-server
spec:
HEAD
  # From "groups:" on, indented by two (blank lines stay empty).
  sed -n '/^groups:/,$p' "$deploy/prometheus/alerts.yaml" | sed 's/^./  &/'
}

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -u "$target" <(render) >&2; then
    echo "sync_prometheusrule: $target is out of date with deploy/prometheus/alerts.yaml;" \
      "run deploy/ci/sync_prometheusrule.sh" >&2
    exit 1
  fi
  exit 0
fi
render >"$target"
