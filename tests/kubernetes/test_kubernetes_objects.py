"""Every Kubernetes object and Helm value gpu-fleet emits, checked against the real upstream schemas.

Custom resources are validated against the CRDs in ../shared/reference/crds (and tests/reference/crds, upstream
CRDs the shared set lacks), core kinds with
kubernetes-validate, and every Helm value key must exist in the pinned chart's reference values.yaml.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components import versions
from components.kubernetes.gpu_addons import GKE_DRIVER_DIR, dcgm_exporter_values, gpu_operator_values
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from tests.support.k8s_schemas import (
    COMMENTED_KEYS,
    K8S_VERSION,
    _chart_defaults,
    _with_all_addons,
    helm_merged,
    manifests,
    unknown_helm_keys,
    validate,
)
from tests.support.plans import REFERENCE, gke_of


def test_core_kinds_and_custom_resources_validate(dev_plan: Plan, dev_doc: dict[str, Any], plan_doc: Any) -> None:
    objects = manifests(dev_plan) + manifests(plan_doc(_with_all_addons(dev_doc)))
    kinds = {o["kind"] for o in objects}
    assert {"PriorityClass", "Namespace", "ResourceQuota", "StorageClass", "ClusterPodMonitoring",
            "ClusterRules", "ClusterNodeMonitoring"} <= kinds
    # Each distinct object once: clusters of one stack emit many identical ones (the same namespaces, quotas and
    # priority classes), and a schema check of the same document has the same outcome.
    distinct = {json.dumps(o, sort_keys=True): o for o in objects}
    for obj in distinct.values():
        validate(obj)


def test_a_wrong_object_fails_validation(dev_plan: Plan) -> None:
    """The validators are real: a misspelt field in an emitted object is caught."""
    quota = next(o for o in manifests(dev_plan) if o["kind"] == "ResourceQuota")
    broken = copy.deepcopy(quota)
    broken["spec"]["hardd"] = broken["spec"].pop("hard")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    pm = {"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
          "metadata": {"name": "x", "namespace": "y"}, "spec": {"endpoints": [{"port": 9400, "intervall": "30s"}],
                                                                "selector": {}}}
    with pytest.raises(AssertionError):
        validate(pm)


def test_commented_keys_are_documented_in_the_reference() -> None:
    import re

    for chart, keys in COMMENTED_KEYS.items():
        text = (REFERENCE / "charts" / chart / "values.yaml").read_text()
        for key in keys:
            assert re.search(rf"^\s*#\s*{re.escape(key.rsplit('.', 1)[-1])}:", text, re.M), (chart, key)


@pytest.mark.parametrize(("chart", "values"), [
    (versions.GPU_OPERATOR.chart, gpu_operator_values()),
    (versions.DCGM_EXPORTER.chart, dcgm_exporter_values()),
])
def test_every_helm_value_key_exists_in_the_chart(chart: str, values: dict[str, Any]) -> None:
    missing = unknown_helm_keys(chart, values)
    assert not missing, f"{chart}: keys not in the chart's values.yaml: {missing}"


def test_helm_releases_use_the_pinned_charts_and_checked_values(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    plan = plan_doc(_with_all_addons(dev_doc))
    releases = {r.inputs["chart"]: r.inputs for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"}
    assert releases[versions.GPU_OPERATOR.chart]["version"] == versions.GPU_OPERATOR.version
    assert releases[versions.GPU_OPERATOR.chart]["values"] == gpu_operator_values()
    assert releases[versions.DCGM_EXPORTER.chart]["values"] == dcgm_exporter_values()
    reference_version = yaml.safe_load((REFERENCE / "charts/dcgm-exporter/Chart.yaml").read_text())["version"]
    assert versions.DCGM_EXPORTER.version == reference_version


def test_a_misspelt_helm_key_would_be_caught() -> None:
    chart = versions.GPU_OPERATOR.chart
    values = gpu_operator_values()
    assert unknown_helm_keys(chart, values) == []
    misspelt = copy.deepcopy(values)
    misspelt["driver"]["enabeld"] = misspelt["driver"].pop("enabled")
    assert unknown_helm_keys(chart, misspelt) == ["driver.enabeld"]
    # A key NVIDIA's older GKE guide sets, which the pinned chart no longer has, and a misspelt section.
    misspelt = {**values, "cdi": {**values["cdi"], "default": True}, "toolkitt": values["toolkit"]}
    assert unknown_helm_keys(chart, misspelt) == ["cdi.default", "toolkitt", "toolkitt.installDir", "toolkitt.version"]
    # Below an open map (user content) any key is accepted.
    assert unknown_helm_keys(versions.DCGM_EXPORTER.chart, {**dcgm_exporter_values(), "podLabels": {"tema": "x"}}) == []


def test_reference_dir_is_beside_the_checkout() -> None:
    assert Path(REFERENCE / "crds").is_dir(), "CI runs with ../shared beside the clone"


def _reference_metrics() -> set[str]:
    names = set()
    for csv in (REFERENCE / "metrics").glob("*.csv"):
        for line in csv.read_text().splitlines():
            field = line.split(",", 1)[0].strip()
            if field.startswith("DCGM_FI_"):
                names.add(field)
    return names


def test_every_gke_cluster_evaluates_the_gpu_rules_for_its_dcgm_source(dev_doc: dict[str, Any],
                                                                        plan_doc: Any) -> None:
    """GKE's default path (managed DCGM) gets the rules too, as ClusterRules; exporters add XID and row remaps."""
    import re

    from components.kubernetes.monitoring.rules import GKE_MANAGED_DCGM_METRICS

    plan = plan_doc(_with_all_addons(dev_doc))
    rules = {r.name.removesuffix("-monitoring-rules"): r.inputs for r in plan.resources
             if r.type == "kubernetes:monitoring.googleapis.com/v1:ClusterRules"}
    assert set(rules) == {"us-central1-dev-1", "us-central1-op-1", "us-central1-exp-1"}
    from components.kubernetes.dcgm_counters import enabled_metrics

    exported = _reference_metrics() | enabled_metrics()  # the exporters run gpu-fleet's counters file
    for cluster, obj in rules.items():
        validate(obj)
        names = {r.get("alert") or r.get("record") for g in obj["spec"]["groups"] for r in g["rules"]}
        used = {m for g in obj["spec"]["groups"] for r in g["rules"] for m in re.findall(r"DCGM_FI_[A-Z0-9_]+",
                                                                                       r["expr"])}
        managed = cluster.endswith("dev-1")
        assert used <= (GKE_MANAGED_DCGM_METRICS if managed else exported), used
        assert ("GpuXidError" in names) is not managed
        assert {"GpuUtilizationHigh", "GpuIdle", "namespace:gpufleet_gpu_cost_usd_per_hour:sum"} <= names
    assert not {"DCGM_FI_DEV_NOT_A_METRIC"} <= exported


def test_alert_thresholds_come_from_config(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    doc = _with_all_addons(dev_doc)
    doc["config"]["gpu-fleet:observability"] = {"alerts": {"gpu_utilization": {"percent": 70, "window": "10m"},
                                                           "gpu_idle": {"percent": 3, "window": "1h"}}}
    for r in manifests(plan_doc(doc)):
        if r["kind"] != "ClusterRules":
            continue
        rules = {x.get("alert"): x for x in r["spec"]["groups"][0]["rules"]}
        # Utilisation: an average over the window (with a GPU backlog), so no `for:`.
        assert rules["GpuUtilizationHigh"]["expr"].startswith("avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m]) > 70 and")
        assert "for" not in rules["GpuUtilizationHigh"]
        assert rules["GpuIdle"]["for"] == "1h" and rules["GpuIdle"]["expr"].count(") < 3") == 2  # whole and MIG


def _helm_merged(chart: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values a chart's templates see over its reference defaults."""
    return helm_merged(_chart_defaults(chart), values)  # type: ignore[no-any-return]


def _priority_classes(values: Any) -> set[str]:
    """Every `priorityClassName` set anywhere in (merged) chart values."""
    if isinstance(values, dict):
        found = {values["priorityClassName"]} if isinstance(values.get("priorityClassName"), str) else set()
        return found.union(*(_priority_classes(v) for v in values.values()))
    if isinstance(values, list):
        return set().union(*(_priority_classes(v) for v in values))
    return set()


def _by_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def test_helm_releases_wait_for_their_critical_pods_quota_and_every_node_pool(
        dev_doc: dict[str, Any], plan_doc: Any) -> None:
    plan = plan_doc(_with_all_addons(dev_doc))
    releases = _by_type(plan, "kubernetes:helm.sh/v3:Release")
    assert sorted(r.inputs["chart"] for r in releases) == sorted([versions.DCGM_EXPORTER.chart,
                                                                  versions.GPU_OPERATOR.chart])
    pools = _by_type(plan, "gcp:container/nodePool:NodePool")
    for release in releases:
        cluster = release.name.split("-addons-")[0]
        classes = _priority_classes(_helm_merged(release.inputs["chart"], release.inputs["values"]))
        critical = {c for c in classes if c.startswith("system-")}
        assert critical, f"{release.name}: the chart runs no critical pods, so this test checks nothing"
        # GKE admits system-*-critical pods only into a namespace whose quota is scoped to those classes.
        quotas = [q for q in _by_type(plan, "kubernetes:core/v1:ResourceQuota")
                  if q.name.startswith(f"{cluster}-addons-")
                  and q.inputs["metadata"]["namespace"] == release.inputs["namespace"]
                  and any(e["scopeName"] == "PriorityClass" and e["operator"] == "In" and critical <= set(e["values"])
                          for e in q.inputs["spec"].get("scopeSelector", {}).get("matchExpressions", []))]
        assert len(quotas) == 1, f"{release.name}: no critical-pods quota for {sorted(critical)}"
        assert quotas[0].urn in release.dependencies, f"{release.name} may start before its quota exists"
        own_pools = [p for p in pools if p.name.startswith(f"{cluster}-")]
        assert any(p.name == f"{cluster}-system" for p in own_pools)
        assert len(own_pools) > 1
        missing = [p.name for p in own_pools if p.urn not in release.dependencies]
        assert not missing, f"{release.name} does not wait for {missing}"


def test_cos_driver_installer_waits_for_every_node_pool(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    plan = plan_doc(_with_all_addons(dev_doc))
    (installer,) = _by_type(plan, "kubernetes:yaml/v2:ConfigFile")
    cluster = installer.name.split("-addons-")[0]
    own_pools = [p for p in _by_type(plan, "gcp:container/nodePool:NodePool") if p.name.startswith(f"{cluster}-")]
    assert f"{cluster}-system" in {p.name for p in own_pools}
    assert {p.urn for p in own_pools} <= set(installer.dependencies)


def test_cos_driver_installer_is_pinned_to_a_commit() -> None:
    import re

    url = versions.COS_DRIVER_INSTALLER
    match = re.fullmatch(r"https://raw\.githubusercontent\.com/GoogleCloudPlatform/container-engine-accelerators/"
                         r"([^/]+)/nvidia-driver-installer/cos/daemonset-preloaded\.yaml", url)
    assert match, url
    assert re.fullmatch(r"[0-9a-f]{40}", match.group(1)), f"{match.group(1)} is a branch or tag, not a commit"


def test_dcgm_exporter_pod_is_what_gke_cos_nodes_need() -> None:
    """The exporter's pod, built from the chart's defaults merged with ours as its DaemonSet template does.

    The container part follows dcgm-exporter's deployment/templates/daemonset.yaml: securityContext and extraEnv
    verbatim (after the chart's own env), extraHostVolumes as hostPath volumes, extraVolumeMounts verbatim.
    """
    chart = versions.DCGM_EXPORTER.chart
    merged = _helm_merged(chart, dcgm_exporter_values())
    volumes = [{"name": v["name"], "hostPath": {"path": v["hostPath"]}} for v in merged["extraHostVolumes"]]
    volumes += merged["extraConfigMapVolumes"]
    container = {"name": "exporter", "image": "nvcr.io/nvidia/k8s/dcgm-exporter:" + merged["image"]["tag"],
                 "securityContext": merged["securityContext"],
                 "env": [{"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"}, *merged["extraEnv"]],
                 "volumeMounts": merged["extraVolumeMounts"]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dcgm-exporter"},
           "spec": {"priorityClassName": merged["priorityClassName"], "containers": [container],
                    "volumes": volumes}}
    validate(pod)
    sc = merged["securityContext"]
    # GKE installs the driver but no NVIDIA container runtime: only a privileged container sees /dev/nvidia*.
    assert sc.get("privileged") is True
    # The API server rejects privileged with allowPrivilegeEscalation false (the chart's default).
    assert sc.get("allowPrivilegeEscalation") is not False
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE"] == "device-name"
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
    host = {v["name"]: v["hostPath"]["path"] for v in volumes if "hostPath" in v}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert host[mounts["/usr/local/nvidia"]] == GKE_DRIVER_DIR
    assert {m["name"] for m in container["volumeMounts"]} <= {v["name"] for v in volumes}


def _pods(quantity: str) -> float:
    """A Kubernetes quantity as the ResourceQuota `pods` item takes it (plain or with a decimal SI suffix)."""
    factor = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(quantity[-1:], 1.0)
    return float(quantity[:-1] if factor != 1.0 else quantity) * factor


def test_critical_pods_quota_admits_a_node_agent_on_every_gpu_node(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    """Both charts run a system-node-critical DaemonSet on every GPU node: the quota must not cap the fleet."""
    doc = _with_all_addons(dev_doc)
    for cluster in gke_of(doc)["regions"][0]["clusters"][1:]:
        cluster["gpu_pools"][0]["autoscaling"] = {"per": "total", "min_nodes": 0, "max_nodes": 150}
    plan = plan_doc(doc)
    for release in _by_type(plan, "kubernetes:helm.sh/v3:Release"):
        cluster = release.name.split("-addons-")[0]
        own_pools = {p.urn for p in _by_type(plan, "gcp:container/nodePool:NodePool")
                     if p.name.startswith(f"{cluster}-")}
        gpu_nodes = sum(row.max_nodes for row in plan.capacity if row.source_urn in own_pools)
        assert gpu_nodes >= 150
        (quota,) = [q for q in _by_type(plan, "kubernetes:core/v1:ResourceQuota")
                    if q.name.startswith(f"{cluster}-addons-") and "scopeSelector" in q.inputs["spec"]
                    and q.inputs["metadata"]["namespace"] == release.inputs["namespace"]]
        assert _pods(quota.inputs["spec"]["hard"]["pods"]) >= gpu_nodes, f"{quota.name} caps {release.name}"
    assert _pods("100") == 100 and _pods("1G") == 1e9
