"""What each platform's monitoring stack emits: GKE managed Prometheus and kube-prometheus-stack on EKS.

Rules and scrape objects validate against the reference CRDs (schema and CEL), chart values against the pinned
chart's reference values.yaml; prices in the cost rules are the plan's own; credentials only reach the cluster
as Pulumi secrets.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components import versions
from components.kubernetes.monitoring.prometheus_stack import (
    ALERTMANAGER_SECRET,
    SCRAPE_RELABELINGS,
    prometheus_stack_values,
)
from components.kubernetes.monitoring.types import MONITORING_TYPES
from components.kubernetes.nvidia import dcgm_exporter_values, operator_values
from gpufleet.report import Plan
from tests.support.cel_rules import violations, with_defaults
from tests.support.k8s_schemas import K8S_VERSION, crd_schemas, manifests, unknown_helm_keys, validate
from tests.support.monitoring import SECURE, _check_crd, _with_receivers
from tests.support.plans import REFERENCE


def _of(plan: Plan, typ: str) -> list[Any]:
    return [r for r in plan.resources if r.type == typ]


def test_kube_prometheus_stack_is_the_pinned_reference_chart(dev_plan: Plan) -> None:
    chart = yaml.safe_load((REFERENCE / "charts/kube-prometheus-stack/Chart.yaml").read_text())
    assert versions.KUBE_PROMETHEUS_STACK.version == chart["version"]
    (release,) = [r for r in _of(dev_plan, "kubernetes:helm.sh/v3:Release")
                  if r.inputs["chart"] == versions.KUBE_PROMETHEUS_STACK.chart]
    assert release.inputs["version"] == versions.KUBE_PROMETHEUS_STACK.version
    assert release.inputs["repositoryOpts"]["repo"] == versions.KUBE_PROMETHEUS_STACK.repository
    assert release.inputs["namespace"] == "monitoring"


@pytest.mark.parametrize("existing_secret", [True, False])
def test_every_kube_prometheus_stack_value_key_exists(existing_secret: bool) -> None:
    values = prometheus_stack_values(cluster="c", storage_class="gp3", existing_alertmanager_secret=existing_secret)
    # The kube-state-metrics subchart's own key, absent from the parent chart's values.yaml: prometheus-community/
    # helm-charts `charts/kube-state-metrics/values.yaml` (`metricLabelsAllowlist: []`, the `--metric-labels-
    # allowlist` flag).
    assert not [k for k in unknown_helm_keys(versions.KUBE_PROMETHEUS_STACK.chart, values)
                if k != "kube-state-metrics.metricLabelsAllowlist"]
    misspelt = copy.deepcopy(values)
    misspelt["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValue"] = False
    assert "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValue" in unknown_helm_keys(
        versions.KUBE_PROMETHEUS_STACK.chart, misspelt)
    # storageSpec is passed to the Prometheus object as is: its claim template must be a valid PVC.
    claim = values["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x"},
                                  **claim}, K8S_VERSION, strict=True)


def test_discovery_does_not_depend_on_a_release_label() -> None:
    spec = prometheus_stack_values(cluster="c", storage_class="gp3",
                                   existing_alertmanager_secret=False)["prometheus"]["prometheusSpec"]
    defaults = yaml.safe_load((REFERENCE / "charts/kube-prometheus-stack/values.yaml").read_text())
    reference = defaults["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert reference[f"{kind}SelectorNilUsesHelmValues"] is True  # the chart's default: release label only
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert reference.get(f"{kind}Selector") in ({}, None) and f"{kind}Selector" not in spec
        assert reference.get(f"{kind}NamespaceSelector") in ({}, None)  # every namespace
    assert spec["externalLabels"] == {"cluster": "c"}


def test_grafana_loads_dashboards_from_every_namespace() -> None:
    grafana = prometheus_stack_values(cluster="c", storage_class="gp3", existing_alertmanager_secret=False)["grafana"]
    assert grafana["enabled"] is True
    assert grafana["sidecar"]["dashboards"] == {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                                                "searchNamespace": "ALL"}


@pytest.mark.parametrize(("chart", "values"), [
    ("gpu-operator", operator_values(dcgm_exporter=True, service_monitor=True)),
    ("dcgm-exporter", dcgm_exporter_values(service_monitor=True)),
])
def test_dcgm_exporter_service_monitor_keeps_the_workload_labels(chart: str, values: dict[str, Any]) -> None:
    assert not unknown_helm_keys(chart, values)
    monitor = values.get("serviceMonitor") or values["dcgmExporter"]["serviceMonitor"]
    assert monitor["enabled"] is True and monitor["honorLabels"] is False
    assert monitor["relabelings"] == SCRAPE_RELABELINGS
    # The relabelings are valid ServiceMonitor relabel configs (the charts copy them into the object).
    sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
          "spec": {"selector": {}, "endpoints": [{"port": "metrics", "relabelings": monitor["relabelings"]}]}}
    _check_crd(sm)


def test_eks_scrapes_dcgm_after_the_prometheus_operator_exists(dev_plan: Plan) -> None:
    releases = {r.inputs["chart"]: r for r in _of(dev_plan, "kubernetes:helm.sh/v3:Release")}
    stack = releases[versions.KUBE_PROMETHEUS_STACK.chart]
    exporter = releases[versions.DCGM_EXPORTER.chart]
    assert exporter.inputs["values"]["serviceMonitor"]["enabled"] is True
    assert stack.urn in exporter.dependencies  # its ServiceMonitor needs the CRD the stack installs
    assert stack.urn not in releases["nvidia-device-plugin"].dependencies


def test_eks_rules_are_a_prometheus_rule_priced_as_the_plan_prices(dev_plan: Plan) -> None:
    (rule,) = [m for m in manifests(dev_plan) if m["kind"] == "PrometheusRule"]
    _check_crd(rule)
    assert rule["metadata"]["namespace"] == "monitoring"
    rules = {(r.get("alert") or r.get("record"), (r.get("labels") or {}).get("gpu_model")): r
             for g in rule["spec"]["groups"] for r in g["rules"]}
    (l4,) = [row for row in dev_plan.capacity if row.platform == "eks"]
    price = rules[("gpu_model:gpufleet_gpu_cost_usd_per_hour:sum", "l4")]["expr"].split(" * ")[0]
    assert float(price) == pytest.approx(l4.hourly_usd_per_node / l4.gpus_per_node, rel=1e-5)
    # Network saturation against the catalog's bandwidth of every instance type the pool allows.
    bandwidth = {r["labels"]["instance_type"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]
                 if r.get("record") == "instance_type:gpufleet_nic_bandwidth_bytes_per_second:max"}
    assert bandwidth == {"g6.xlarge": "vector(3.125e+08)", "g6.2xlarge": "vector(6.25e+08)"}
    assert ("NodeNetworkSaturated", None) in rules and ("GpuXidError", None) in rules


def test_gke_cost_rules_use_the_plans_prices(dev_plan: Plan) -> None:
    (rules,) = [m for m in manifests(dev_plan) if m["kind"] == "ClusterRules"]
    _check_crd(rules)
    priced = {r["labels"]["gpu_model"]: float(r["expr"].split(" * ")[0]) for g in rules["spec"]["groups"]
              for r in g["rules"] if r.get("record") == "gpu_model:gpufleet_gpu_cost_usd_per_hour:sum"}
    expected: dict[str, float] = {}
    for row in dev_plan.capacity:
        if row.platform == "gke" and row.hourly_usd_per_node is not None:
            expected[row.gpu] = max(expected.get(row.gpu, 0.0), row.hourly_usd_per_node / row.gpus_per_node)
    assert priced.keys() == expected.keys()
    for gpu, price in expected.items():
        assert priced[gpu] == pytest.approx(price, rel=1e-5)


def test_gke_exporters_are_scraped_keeping_the_workload_namespace(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    from tests.support.k8s_schemas import _with_all_addons

    scrapes = [m for m in manifests(plan_doc(_with_all_addons(dev_doc))) if m["kind"] == "ClusterPodMonitoring"]
    assert len(scrapes) == 2  # the operator's exporter and the standalone one; managed DCGM brings its own
    for obj in scrapes:
        _check_crd(obj)
        assert obj["spec"]["targetLabels"]["metadata"] == ["node"]  # no target namespace/pod/container


def test_gke_scrapes_node_traffic_of_each_pool_machine_type_the_catalog_can_judge(prod_plan: Plan) -> None:
    """Per GKE cluster: one ClusterNodeMonitoring per GPU machine type with a host NIC bandwidth, and the rule's
    constants for exactly those types; A3 Mega (9 NICs, GPU NICs in pods) is left out."""
    from components import catalog
    from components.kubernetes.monitoring.gmp import NODE_NETWORK_PREFIX

    by_cluster: dict[str, tuple[set[str], set[str]]] = {}
    for r in prod_plan.resources:
        kind = r.inputs.get("kind")
        cluster = r.urn.split("::")[-1].split("-monitoring")[0]
        if kind == "ClusterNodeMonitoring":
            _check_crd({k: v for k, v in r.inputs.items() if not k.startswith("__")})
            if not r.inputs["metadata"]["name"].startswith(NODE_NETWORK_PREFIX):
                continue  # the GPU node inventory (tests/kubernetes/test_oncall_alerts.py)
            machine = r.inputs["metadata"]["name"].removeprefix(NODE_NETWORK_PREFIX)
            assert r.inputs["spec"]["selector"]["matchLabels"] == {"node.kubernetes.io/instance-type": machine}
            by_cluster.setdefault(cluster, (set(), set()))[0].add(machine)
        elif kind == "ClusterRules":
            constants = {rule["labels"]["instance_type"] for g in r.inputs["spec"]["groups"] for rule in g["rules"]
                         if rule.get("record") == "instance_type:gpufleet_nic_bandwidth_bytes_per_second:max"}
            by_cluster.setdefault(cluster, (set(), set()))[1].update(constants)
    pools = {row.region + "-" + row.cluster: set() for row in prod_plan.capacity if row.platform == "gke"}
    for row in prod_plan.capacity:
        if row.platform == "gke":
            pools[row.region + "-" + row.cluster].add(row.machine_type)
    assert pools and by_cluster.keys() == pools.keys()
    for cluster, machines in pools.items():
        judged = {m for m in machines if catalog.host_nic_gbps(m) is not None}
        assert by_cluster[cluster] == (judged, judged), cluster
    assert "a3-megagpu-8g" in set().union(*pools.values())
    assert "a3-megagpu-8g" not in set().union(*(s for s, _ in by_cluster.values()))
    assert {"a2-highgpu-8g", "g2-standard-24"} <= set().union(*(s for s, _ in by_cluster.values()))


def test_gke_node_network_scrape_validates_and_keeps_only_host_nic_counters() -> None:
    """The ClusterNodeMonitoring passes the upstream CRD and its CEL rules; its keep rule, read as Prometheus reads
    it (source labels joined by `;`, the regex anchored), keeps the root cgroup's physical-NIC byte counters only."""
    import re

    from components.kubernetes.monitoring.gmp import node_network_monitoring

    obj = node_network_monitoring("a2-highgpu-8g")
    validate(obj)
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    assert not list(violations(schema, with_defaults(schema, obj)))
    assert obj["spec"]["selector"] == {"matchLabels": {"node.kubernetes.io/instance-type": "a2-highgpu-8g"}}
    keep, stamp = obj["spec"]["endpoints"][0]["metricRelabeling"]
    assert stamp == {"action": "replace", "targetLabel": "instance_type", "replacement": "a2-highgpu-8g"}
    kept = re.compile(f"^(?:{keep['regex']})$")
    assert kept.match("container_network_transmit_bytes_total;/;eth0")
    assert kept.match("container_network_receive_bytes_total;/;eth1")
    for other in ("container_network_transmit_bytes_total;/kubepods/pod1;eth0",
                  "container_network_transmit_bytes_total;/;veth1a2b", "container_network_transmit_bytes_total;/;lo",
                  "container_cpu_usage_seconds_total;/;", "container_network_transmit_packets_total;/;eth0"):
        assert not kept.match(other), other
    # A relabeling onto a protected label is what the CRD refuses: the CEL check is live.
    broken = node_network_monitoring("a2-highgpu-8g")
    broken["spec"]["endpoints"][0]["metricRelabeling"][1]["targetLabel"] = "instance"
    assert any("targetLabel" in v and "BoolType(False)" in v for v in violations(schema, with_defaults(schema, broken)))


def test_receivers_reach_each_platforms_alertmanager_only_as_secrets(dev_doc: dict[str, Any],
                                                                      plan_doc: Any) -> None:
    plan = plan_doc(_with_receivers(dev_doc))
    secrets = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s
               for s in _of(plan, "kubernetes:core/v1:Secret")}
    gke = secrets[("gmp-public", "alertmanager")]
    eks = secrets[("monitoring", ALERTMANAGER_SECRET)]
    for secret in (gke, eks):
        assert secret.inputs["stringData"] == "[secret]"
        validate({"apiVersion": "v1", "kind": "Secret", **{k: v for k, v in secret.inputs.items()
                                                            if k != "stringData"}})
    (stack,) = [r for r in _of(plan, "kubernetes:helm.sh/v3:Release")
                if r.inputs["chart"] == versions.KUBE_PROMETHEUS_STACK.chart]
    assert stack.inputs["values"]["alertmanager"]["alertmanagerSpec"]["useExistingSecret"] is True
    assert eks.urn in stack.dependencies
    text = json.dumps(plan.to_json())
    assert SECURE["secure"] not in text
    components = [r for r in plan.resources if r.type in MONITORING_TYPES]
    assert {tuple(c.outputs["receivers"]) for c in components} == {("gpu-oncall", "gpu-team")}


def test_without_receivers_no_alertmanager_config_is_written(dev_plan: Plan) -> None:
    assert not [s for s in _of(dev_plan, "kubernetes:core/v1:Secret")
                if s.inputs["metadata"]["name"] in ("alertmanager", ALERTMANAGER_SECRET)]
    (stack,) = [r for r in _of(dev_plan, "kubernetes:helm.sh/v3:Release")
                if r.inputs["chart"] == versions.KUBE_PROMETHEUS_STACK.chart]
    assert stack.inputs["values"]["alertmanager"]["alertmanagerSpec"]["useExistingSecret"] is False


def test_alerts_switched_off_emit_no_alert_but_keep_the_cost_records(dev_doc: dict[str, Any],
                                                                      plan_doc: Any) -> None:
    """The dashboards and the daily budget guard read the cost recording rules, so they stay; no alert does."""
    doc = copy.deepcopy(dev_doc)
    doc["config"]["gpu-fleet:observability"] = {"alerts": {"enabled": False}}
    plan = plan_doc(doc)
    rules = [m for m in manifests(plan) if m["kind"] in ("ClusterRules", "PrometheusRule")]
    assert {m["kind"] for m in rules} == {"ClusterRules", "PrometheusRule"}
    every = [r for m in rules for g in m["spec"]["groups"] for r in g["rules"]]
    assert every and not [r for r in every if "alert" in r]
    assert {"namespace:gpufleet_gpu_cost_usd_per_hour:sum"} <= {r["record"] for r in every}
    # Only alerts use them: the network saturation and missing-metrics alerts.
    assert not [m for m in manifests(plan) if m["kind"] == "ClusterNodeMonitoring"]
    components = [r for r in plan.resources if r.type in MONITORING_TYPES]
    assert components and all(c.outputs["alerts"] == [] for c in components)
