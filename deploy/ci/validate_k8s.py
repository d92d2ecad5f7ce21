#!/usr/bin/env python3
"""Validates the rendered Kubernetes objects of one kustomize overlay, offline.

  validate_k8s.py --overlay cpu --rendered cpu.yaml --deploy DEPLOY_DIR [--no-schemas]

1. Schemas: every object against the Kubernetes API schemas of kubernetes-validate (strict:
   unknown fields fail), for each version in KUBERNETES_VERSIONS; the Prometheus operator's
   kinds against deploy/ci/schemas/*.json. A kind with no schema fails. --no-schemas skips this
   part (kubernetes-validate not installed); the caller says so.
2. Consistency between the objects and the server's config, which no schema sees: ports, probe
   ports, the shutdown grace period, selectors, the ConfigMap and model volume, the HPA's metric
   (served by a prometheus-adapter rule), the PrometheusRule (= deploy/prometheus/alerts.yaml),
   and the overlay's own promises (gpu: one GPU, node selector, toleration, CUDA backend).

Prints one line per problem; exits 1 when there is any.
"""

import argparse
import json
import os
import sys

import yaml

# grpc probes are GA from 1.27; the oldest and newest versions checked.
KUBERNETES_VERSIONS = ["1.27.0", "1.32.0"]
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring-v1.json",
}

problems = []


def problem(message):
    problems.append(message)
    print(f"  FAIL {message}")


def name_of(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def validate_schemas(objects, schema_dir):
    import jsonschema
    import kubernetes_validate

    checked = 0
    for obj in objects:
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in CRD_SCHEMAS:
            with open(os.path.join(schema_dir, CRD_SCHEMAS[key])) as f:
                schema = json.load(f)
            validator = jsonschema.Draft202012Validator(schema)
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
            for e in errors:
                path = ".".join(str(p) for p in e.path)
                problem(f"{name_of(obj)}: schema {CRD_SCHEMAS[key]}: {path}: {e.message}")
            checked += 1
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                problem(f"{name_of(obj)}: Kubernetes {version} schema: {path}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                problem(f"{name_of(obj)}: no schema ({e.message}); add one to deploy/ci/schemas")
        checked += 1
    print(f"  schemas: {checked} objects validated (Kubernetes {', '.join(KUBERNETES_VERSIONS)}"
          f" strict; ServiceMonitor/PrometheusRule against deploy/ci/schemas)")


def one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        problem(f"expected one {kind}{' ' + name if name else ''}, found {len(found)}")
        return None
    return found[0]


def port_of(address, what):
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit():
        problem(f"server config {what}: expected host:port, got {address!r}")
        return None
    return int(port)


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_consistency(objects, overlay, deploy_dir):
    deployment = one(objects, "Deployment", "drivelm-server")
    if deployment is None:
        return
    pod = deployment["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    if not selects(deployment["spec"]["selector"]["matchLabels"], pod_labels):
        problem("Deployment selector does not match its pod template's labels")
    containers = {c["name"]: c for c in spec["containers"]}
    server = containers.get("server")
    if server is None:
        problem("Deployment has no container named server")
        return
    ports = {p["name"]: p["containerPort"] for p in server.get("ports", [])}

    # The config the pods mount: the generated ConfigMap, by its hashed name.
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    config_cm_name = volumes.get("config", {}).get("configMap", {}).get("name")
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    if config_cm_name not in configmaps:
        problem(f"the config volume names ConfigMap {config_cm_name!r}, which is not rendered")
        return
    config = yaml.safe_load(configmaps[config_cm_name]["data"]["server.yaml"]) or {}
    mounts = {m["name"]: m["mountPath"] for m in server.get("volumeMounts", [])}
    if mounts.get("config") != "/etc/drivelm":
        problem("the config volume is not mounted at /etc/drivelm (the image's ENTRYPOINT reads "
                "/etc/drivelm/server.yaml)")

    # Ports: config <-> container <-> probes <-> Services.
    if port_of(config.get("listen", ""), "listen") != ports.get("grpc"):
        problem(f"config listen {config.get('listen')!r} != container port grpc {ports.get('grpc')}")
    if port_of(config.get("metrics_listen", ""), "metrics_listen") != ports.get("metrics"):
        problem(f"config metrics_listen {config.get('metrics_listen')!r} != container port "
                f"metrics {ports.get('metrics')}")
    for host in (config.get("listen", ""), config.get("metrics_listen", "")):
        if str(host).startswith("127.") or str(host).startswith("localhost"):
            problem(f"config listens on loopback ({host}): probes and Services cannot reach it")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = server.get(probe)
        if p is None:
            problem(f"server container has no {probe}")
            continue
        if "grpc" not in p:
            problem(f"{probe} is not a grpc.health.v1 probe")
        elif p["grpc"].get("port") != ports.get("grpc"):
            problem(f"{probe} port {p['grpc'].get('port')} != grpc port {ports.get('grpc')}")

    # Shutdown: preStop sleep + the server's grace must fit in terminationGracePeriodSeconds, and
    # liveness must not kill a draining pod (NOT_SERVING) before that.
    grace = float(config.get("shutdown_grace_seconds", 30))
    pre_stop = server.get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command", [])
    sleep_s = 0.0
    if len(command) == 2 and command[0] == "sleep":
        sleep_s = float(command[1])
    elif "sleep" in pre_stop:
        sleep_s = float(pre_stop["sleep"]["seconds"])
    else:
        problem("server container has no preStop sleep (endpoints must drop the pod before "
                "SIGTERM)")
    termination = spec.get("terminationGracePeriodSeconds", 30)
    if termination <= sleep_s + grace:
        problem(f"terminationGracePeriodSeconds {termination} <= preStop sleep {sleep_s:g} + "
                f"shutdown_grace_seconds {grace:g}: the kubelet would SIGKILL in-flight requests")
    live = server.get("livenessProbe", {})
    if live.get("periodSeconds", 10) * live.get("failureThreshold", 3) <= termination:
        problem("livenessProbe gives up faster than a pod may take to drain "
                "(periodSeconds * failureThreshold <= terminationGracePeriodSeconds)")

    # Model: the config's model directory lies on the model volume.
    model_mount = mounts.get("model")
    model = str(config.get("model", ""))
    if model_mount is None or not model.startswith(model_mount.rstrip("/") + "/"):
        problem(f"config model {model!r} is not on the model volume (mounted at {model_mount})")
    if "model" not in volumes:
        problem("no model volume")
    else:
        source = {k for k in volumes["model"] if k != "name"}
        init = {c["name"] for c in spec.get("initContainers", []) or []}
        if overlay == "gpu":
            if source != {"persistentVolumeClaim"}:
                problem(f"gpu: the model volume should be the drivelm-model claim, is {source}")
            claim = volumes["model"].get("persistentVolumeClaim", {}).get("claimName")
            if not any(o["kind"] == "PersistentVolumeClaim" and o["metadata"]["name"] == claim
                       for o in objects):
                problem(f"gpu: PersistentVolumeClaim {claim} is not rendered")
        elif source != {"emptyDir"} or "model" not in init:
            problem(f"{overlay}: the model volume should be an emptyDir filled by the model init "
                    "container")

    # Threads follow the CPU request.
    env = {e["name"]: e for e in server.get("env", [])}
    cpus = env.get("DRIVELM_CPUS", {}).get("valueFrom", {}).get("resourceFieldRef", {})
    if cpus.get("resource") != "requests.cpu" or "--threads=$(DRIVELM_CPUS)" not in server.get("args", []):
        problem("--threads does not follow requests.cpu (DRIVELM_CPUS)")
    resources = server.get("resources", {})
    if "cpu" not in resources.get("requests", {}):
        problem("server container has no CPU request")

    # GPU overlay promises; the cpu overlay asks for none.
    gpu_request = resources.get("requests", {}).get("nvidia.com/gpu")
    gpu_limit = resources.get("limits", {}).get("nvidia.com/gpu")
    if overlay == "gpu":
        if not gpu_request or gpu_request != gpu_limit:
            problem("gpu: nvidia.com/gpu must be requested and limited (equal)")
        if not spec.get("nodeSelector"):
            problem("gpu: no nodeSelector")
        if not any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])):
            problem("gpu: no toleration for nvidia.com/gpu")
        if "--backend=cuda" not in server.get("args", []):
            problem("gpu: the server does not get --backend=cuda")
        if not server["image"].endswith("-cuda"):
            problem(f"gpu: image {server['image']} is not the CUDA variant (-cuda tag)")
    elif gpu_request or gpu_limit or spec.get("tolerations"):
        problem(f"{overlay}: asks for GPUs or tolerates GPU taints")

    # Services select the pods, and their target ports exist.
    services = [o for o in objects if o["kind"] == "Service"]
    for svc in services:
        if not selects(svc["spec"].get("selector"), pod_labels):
            problem(f"{name_of(svc)} does not select the server pods")
        for p in svc["spec"]["ports"]:
            if p.get("targetPort") not in ports and p.get("targetPort") not in ports.values():
                problem(f"{name_of(svc)} port {p['name']}: targetPort {p.get('targetPort')} is "
                        "not a container port")
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    if len(headless) != 1:
        problem(f"expected one headless Service for client-side balancing, found {len(headless)}")

    # The ServiceMonitor scrapes exactly one Service, on a port that Service has.
    monitor = one(objects, "ServiceMonitor")
    if monitor is not None:
        chosen = [s for s in services
                  if selects(monitor["spec"]["selector"].get("matchLabels"), s["metadata"].get("labels", {}))]
        if len(chosen) != 1:
            problem(f"the ServiceMonitor selects {len(chosen)} Services (want 1: each pod scraped "
                    "once)")
        else:
            names = {p["name"] for p in chosen[0]["spec"]["ports"]}
            for ep in monitor["spec"]["endpoints"]:
                if ep.get("port") not in names:
                    problem(f"ServiceMonitor endpoint port {ep.get('port')} is not a port of "
                            f"{name_of(chosen[0])}")
        if chosen and chosen[0]["metadata"]["name"] != "drivelm-server":
            problem("the alerts select job=\"drivelm-server\": the scraped Service must have that "
                    "name")

    # HPA: targets the Deployment, on a metric a prometheus-adapter rule serves.
    hpa = one(objects, "HorizontalPodAutoscaler")
    if hpa is not None:
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"]) != ("Deployment", "drivelm-server"):
            problem(f"HPA targets {ref['kind']}/{ref['name']}")
        with open(os.path.join(deploy_dir, "k8s/prometheus-adapter/values.yaml")) as f:
            adapter = yaml.safe_load(f)
        served = {r["name"]["as"] for r in adapter["rules"]["custom"]}
        for m in hpa["spec"]["metrics"]:
            if m["type"] == "Pods" and m["pods"]["metric"]["name"] not in served:
                problem(f"HPA metric {m['pods']['metric']['name']} is served by no "
                        "prometheus-adapter rule")
        if "replicas" in deployment["spec"]:
            problem("the Deployment sets replicas: re-applying would reset the HPA's count")

    pdb = one(objects, "PodDisruptionBudget")
    if pdb is not None and not selects(pdb["spec"]["selector"].get("matchLabels"), pod_labels):
        problem("the PodDisruptionBudget does not select the server pods")

    # The PrometheusRule carries deploy/prometheus/alerts.yaml.
    rule = one(objects, "PrometheusRule")
    if rule is not None:
        with open(os.path.join(deploy_dir, "prometheus/alerts.yaml")) as f:
            alerts = yaml.safe_load(f)
        if rule["spec"].get("groups") != alerts.get("groups"):
            problem("the PrometheusRule's groups differ from deploy/prometheus/alerts.yaml "
                    "(run deploy/ci/sync_prometheusrule.sh)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlay", required=True)
    parser.add_argument("--rendered", required=True, help="output of kubectl kustomize")
    parser.add_argument("--deploy", required=True, help="the deploy/ directory")
    parser.add_argument("--no-schemas", action="store_true")
    args = parser.parse_args()

    with open(args.rendered) as f:
        objects = [o for o in yaml.safe_load_all(f) if o]
    kinds = sorted({o["kind"] for o in objects})
    print(f"  {args.overlay}: {len(objects)} objects ({', '.join(kinds)})")
    if not args.no_schemas:
        validate_schemas(objects, os.path.join(args.deploy, "ci/schemas"))
    check_consistency(objects, args.overlay, args.deploy)
    if problems:
        print(f"  {args.overlay}: {len(problems)} problem(s)")
        return 1
    print(f"  {args.overlay}: consistency checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
