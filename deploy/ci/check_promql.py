#!/usr/bin/env python3
"""Runs every PromQL expression of the dashboard, the alerts and the prometheus-adapter rules
against a live Prometheus that scrapes a real drivelm_server (deploy/ci/check_deploy.sh starts
both and sends a short load first).

  check_promql.py --prometheus http://127.0.0.1:PORT --deploy DEPLOY_DIR

Every expression must parse (the query API answers "success") and return data (at least one
series; NaN counts: a ratio of two zero rates is NaN, and still proves every metric and label
in it exists). Grafana's variables are filled in as Grafana does with "All" selected:
$namespace and $pod -> .* (their allValue), $__rate_interval -> 1m; a variable's own query
label_values(SELECTOR, LABEL) must return series carrying LABEL.

Alerts are empty on a healthy server by design (no errors, no saturation). Each alert must
therefore have the form `INNER OP NUMBER` (OP a comparison) or `absent(INNER)`: the full
expression must parse, INNER must return data. So a misspelt metric or label in an alert fails
here even though the alert itself would stay silent. Prometheus' own evaluation of the loaded
rule file (/api/v1/rules) must report every rule healthy.

prometheus-adapter rules: seriesQuery must find series (through /api/v1/series, as the adapter
does), and metricsQuery, with <<.Series>>, <<.LabelMatchers>> (namespace and pods found) and
<<.GroupBy>> (pod) filled in as the adapter fills them, must return one value per pod.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

GRAFANA_VARIABLES = {"$namespace": ".*", "$pod": ".*", "$__rate_interval": "1m"}

failures = []
passed = [0]


def fail(what, message):
    failures.append(what)
    print(f"  FAIL {what}: {message}")


def ok(what, detail):
    passed[0] += 1
    print(f"  ok   {what}: {detail}")


class Prometheus:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def get(self, path, params):
        url = f"{self.base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # 400/422: a bad query, with a JSON error body
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "error": f"HTTP {e.code}"}

    def query(self, expr):
        return self.get("/api/v1/query", {"query": expr})


def summarize(result):
    data = result["data"]
    if data["resultType"] in ("vector", "matrix"):
        series = data["result"]
        values = [s["value"][1] if "value" in s else s["values"][-1][1] for s in series[:3]]
        return len(series), f"{len(series)} series, e.g. {', '.join(values)}"
    # scalar / string
    return 1, f"{data['resultType']} {data['result'][1]}"


def check_expr(what, expr, need_label=None):
    """The expression parses and returns data; returns the result (or None)."""
    r = prom.query(expr)
    if r.get("status") != "success":
        fail(what, f"does not parse/evaluate: {r.get('error')}\n         {expr}")
        return None
    count, detail = summarize(r)
    if count == 0:
        fail(what, f"returned no data\n         {expr}")
        return None
    if need_label and not any(need_label in s.get("metric", {}) for s in r["data"]["result"]):
        fail(what, f"no series carries the label {need_label}\n         {expr}")
        return None
    ok(what, detail)
    return r


def fill_grafana(expr):
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace("${" + name[1:] + "}", value).replace(name, value)
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise ValueError(f"unknown Grafana variable(s) {left}")
    return expr


def check_dashboard(path):
    with open(path) as f:
        dash = json.load(f)
    ids = [p["id"] for p in dash["panels"]]
    if len(ids) != len(set(ids)):
        fail("dashboard", f"duplicate panel ids in {ids}")
    if not dash.get("uid") or not dash.get("title"):
        fail("dashboard", "no uid or title")
    # Panels lie inside the 24-column grid and do not overlap.
    cells = {}
    for p in dash["panels"]:
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            fail("dashboard", f"panel '{p['title']}' outside the 24-column grid: {g}")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    fail("dashboard", f"panels '{cells[(x, y)]}' and '{p['title']}' overlap")
                    break
                cells[(x, y)] = p["title"]
            else:
                continue
            break
    count = 0
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            what = f"dashboard '{panel['title']}' {t.get('refId')}"
            if t.get("datasource", {}).get("uid") != "${datasource}":
                fail(what, "target datasource is not the ${datasource} variable")
            try:
                expr = fill_grafana(t["expr"])
            except ValueError as e:
                fail(what, str(e))
                continue
            check_expr(what, expr)
            count += 1
    for var in dash["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query)
        if not m:
            fail(f"dashboard variable {var['name']}", f"not label_values(SELECTOR, LABEL): {query}")
            continue
        check_expr(f"dashboard variable ${var['name']}", fill_grafana(m.group(1)), m.group(2))
        count += 1
    print(f"  dashboard: {count} expressions")


COMPARISON = re.compile(r"^(?P<inner>.*\S)\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?[-+]?[0-9.eE+]+\s*$", re.S)
ABSENT = re.compile(r"^\s*absent\((?P<inner>.*)\)\s*$", re.S)


def check_alerts(path):
    with open(path) as f:
        groups = yaml.safe_load(f)["groups"]
    count = 0
    for group in groups:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            expr = " ".join(str(rule["expr"]).split())
            r = prom.query(expr)
            what = f"rule {name}"
            if r.get("status") != "success":
                fail(what, f"does not parse/evaluate: {r.get('error')}\n         {expr}")
                continue
            count += 1
            if summarize(r)[0] > 0:
                ok(what, "returns data")
                continue
            if "record" in rule:
                fail(what, f"recording rule returned no data\n         {expr}")
                continue
            m = ABSENT.match(expr) or COMPARISON.match(expr)
            if not m:
                fail(what, "empty, and not of the form `INNER OP NUMBER` or `absent(INNER)`, "
                           "so its data cannot be checked")
                continue
            check_expr(f"{what} (empty by design; inner part)", m.group("inner"))
    # Prometheus loaded the same file and evaluates it every second: all healthy?
    r = prom.get("/api/v1/rules", {})
    loaded = [rule for g in r["data"]["groups"] for rule in g["rules"]]
    bad = [f"{x['name']}: {x.get('lastError')}" for x in loaded if x.get("health") != "ok"]
    if bad or not loaded:
        fail("Prometheus rule evaluation", "; ".join(bad) or "no rules loaded")
    else:
        ok("Prometheus rule evaluation", f"{len(loaded)} rules healthy")
    print(f"  alerts: {count} expressions")


def check_adapter(path):
    with open(path) as f:
        rules = yaml.safe_load(f)["rules"]["custom"]
    for rule in rules:
        what = f"adapter rule {rule['name']['as']}"
        r = prom.get("/api/v1/series", {"match[]": rule["seriesQuery"]})
        series = r.get("data", []) if r.get("status") == "success" else []
        if r.get("status") != "success":
            fail(what, f"seriesQuery does not parse: {r.get('error')}")
            continue
        if not series:
            fail(what, f"seriesQuery found no series: {rule['seriesQuery']}")
            continue
        overrides = rule["resources"]["overrides"]
        for label in overrides:
            if not all(label in s for s in series):
                fail(what, f"series without the resource label {label}")
        matching = [s for s in series if re.search(rule["name"]["matches"], s["__name__"])]
        if not matching:
            fail(what, f"no series name matches {rule['name']['matches']}")
            continue
        ok(f"{what} seriesQuery", f"{len(series)} series")
        namespaces = sorted({s["namespace"] for s in matching})
        pods = sorted({s["pod"] for s in matching})
        # As the adapter writes them: pod names joined by |, unescaped (pod names are DNS labels).
        matchers = f'namespace="{namespaces[0]}",pod=~"{"|".join(pods)}"'
        expr = (rule["metricsQuery"].replace("<<.Series>>", matching[0]["__name__"])
                .replace("<<.LabelMatchers>>", matchers).replace("<<.GroupBy>>", "pod"))
        if "<<" in expr:
            fail(what, f"metricsQuery uses a template this check does not fill: {expr}")
            continue
        check_expr(f"{what} metricsQuery", expr, need_label="pod")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--deploy", required=True)
    args = parser.parse_args()
    global prom
    prom = Prometheus(args.prometheus)
    check_dashboard(f"{args.deploy}/grafana/drivelm.json")
    check_alerts(f"{args.deploy}/prometheus/alerts.yaml")
    check_adapter(f"{args.deploy}/k8s/prometheus-adapter/values.yaml")
    if failures:
        print(f"  PromQL: {len(failures)} failed, {passed[0]} passed")
        return 1
    print(f"  PromQL: all {passed[0]} checks passed")
    return 0


prom = None

if __name__ == "__main__":
    sys.exit(main())
