"""On-call alerts under `promtool test rules`: hardware health, missing metrics, thresholds that mean something.

Series are shaped as dcgm-exporter and kube-state-metrics emit them (`tests/support/promtool.py`). Issue 19 §2, §3,
§5 and §6 (part); observability-review.md findings 2, 3, 5, 7 and "what an on-call engineer would add".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from components.catalog.xid import XIDS, XidClass, xid_codes
from components.config.observability import Alerts
from components.kubernetes.dcgm_counters import counter_fields, counters_csv, enabled_metrics
from components.kubernetes.monitoring.budget_guard import FLEET_ALERT, TEAM_ALERT
from components.kubernetes.monitoring.rules import (
    GpuPrice,
    MetricSource,
    NetworkSource,
    NicBandwidth,
    NodeInventory,
    RuleTargets,
    gmp_cluster_rules,
    gpu_rule_groups,
    health_signals,
    prometheus_rule,
    rule_file,
)
from tests.support.plans import ROOT
from tests.support.promtool import (
    alert,
    dcgm,
    fleet,
    gpu_node_capacity,
    hw,
    needs_promtool,
    pending_gpu_pod,
    run_promtool,
    series,
    xid_count,
)

REFERENCE = ROOT.parent / "shared" / "reference"
PRICES = (GpuPrice("h100-80gb", "NVIDIA H100.*", 10.0),)
EKS = RuleTargets(MetricSource.DCGM_EXPORTER, PRICES, (NicBandwidth("g6.xlarge", 2.5),))
GKE = RuleTargets(MetricSource.DCGM_EXPORTER, PRICES, (NicBandwidth("g2-standard-4", 10.0),),
                  network_source=NetworkSource.KUBELET_CADVISOR, inventory=NodeInventory.GKE_KUBELET, heartbeat=True)
GKE_MANAGED = RuleTargets(MetricSource.GKE_MANAGED, PRICES, inventory=NodeInventory.GKE_KUBELET, heartbeat=True)
OPENSHIFT = RuleTargets(MetricSource.DCGM_EXPORTER, PRICES, cluster_autoscaler=True)
ALL_TARGETS = (EKS, GKE, GKE_MANAGED, OPENSHIFT)


# --- §2 XIDs by code -----------------------------------------------------------------------------------------------

@needs_promtool
def test_a_repeat_of_the_same_xid_fires_again(tmp_path: Path) -> None:
    # XID 79 at minute 10 (counted for the exporter's 5-minute window), nothing, then 79 again at minute 60.
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [xid_count("79", "_x10 1x4 _x45 1x4 _x30", gpu="3", node="n2"),
                         xid_count(None, "0x120", gpu="3", node="n2")],
        "alert_rule_test": [
            alert("9m", "GpuXidError"),
            alert("10m", "GpuXidError", hw("critical", gpu="3", node="n2", xid="79")),
            alert("24m", "GpuXidError", hw("critical", gpu="3", node="n2", xid="79")),  # 10m after the last count
            alert("30m", "GpuXidError"),
            alert("61m", "GpuXidError", hw("critical", gpu="3", node="n2", xid="79")),
        ],
    }])


@needs_promtool
def test_application_xids_notify_the_owning_team_and_do_not_page(tmp_path: Path) -> None:
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [xid_count("13", "_x5 1x4 _x20", namespace="research", pod="train-7"),
                         xid_count("154", "_x5 1x4 _x20", gpu="1")],
        "alert_rule_test": [
            alert("6m", "GpuXidError"),
            {"eval_time": "6m", "alertname": "GpuXidApplicationError", "exp_alerts": [{"exp_labels": fleet(
                "warning", xid="13", window_size_in_ms="300000", gpu="0", UUID="GPU-n1-0",
                pci_bus_id="00000000:0A:00.0", device="nvidia0", modelName="NVIDIA H100 80GB HBM3", Hostname="n1",
                DCGM_FI_DRIVER_VERSION="580.95.05", node="n1", namespace="research", pod="train-7",
                container="main")}]},
            alert("6m", "GpuXidUnclassified", hw("warning", gpu="1", xid="154")),
        ],
    }])


def test_xid_catalog_classes_match_nvidias_buckets() -> None:
    assert xid_codes(XidClass.APPLICATION) == [13, 31, 43, 45]
    assert {48, 63, 64, 74, 79, 92, 94, 95, 119, 120} == set(xid_codes(XidClass.HARDWARE))
    assert len({x.code for x in XIDS}) == len(XIDS)


# --- §2 hardware health from the counters file -----------------------------------------------------------------------

@needs_promtool
def test_hardware_health_counters_alert_on_increase(tmp_path: Path) -> None:
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [
            dcgm("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "0x10 1x50", gpu="0"),
            dcgm("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "0x10 1x50", gpu="1"),
            # NVLink replays every minute from minute 10: steady errors, not a one-off.
            dcgm("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "0x10 0+3x50", gpu="2"),
            dcgm("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "0x10 0+5x50", gpu="3"),
            # Thermally throttled 30 of every 60 seconds (ns) from minute 10.
            dcgm("DCGM_FI_DEV_THERMAL_VIOLATION", "0x10 0+30000000000x50", gpu="4"),
            dcgm("DCGM_FI_DEV_POWER_VIOLATION", "0+1000000000x60", gpu="5"),  # 1/60 of the time: no alert
            dcgm("DCGM_FI_DEV_ROW_REMAP_FAILURE", "0x10 1x50", gpu="6"),
        ],
        "alert_rule_test": [
            alert("11m", "GpuEccDoubleBitError", hw("critical", gpu="0")),
            alert("22m", "GpuEccDoubleBitError"),  # 10m after the error
            alert("11m", "GpuRowRemapPending", hw("warning", gpu="1")),
            alert("25m", "GpuNvlinkErrors"),
            alert("27m", "GpuNvlinkErrors", hw("warning", gpu="2")),
            alert("27m", "GpuPcieReplays", hw("warning", gpu="3")),
            alert("31m", "GpuThermalThrottling", hw("warning", gpu="4")),
            alert("50m", "GpuPowerThrottling"),
            alert("11m", "GpuRowRemapFailure", hw("critical", gpu="6")),
        ],
    }])


def test_the_counters_file_enables_every_field_the_rules_read() -> None:
    """Each field with the name and type dcgm-exporter's reference lists give it; each rule metric enabled."""
    reference: dict[str, str] = {}
    lines = [ln for csv in sorted((REFERENCE / "metrics").glob("*.csv")) for ln in csv.read_text().splitlines()]
    # Enabled lines first: a field listed both ways keeps the type of its enabled line.
    for line in sorted(lines, key=lambda ln: ln.startswith("#")):
        parts = [p.strip() for p in line.lstrip("# ").split(",")]
        if len(parts) >= 2 and parts[0].startswith("DCGM_"):
            reference.setdefault(parts[0], parts[1])
    for name, kind, _ in counter_fields():
        assert reference.get(name) == kind, (name, kind, reference.get(name))
    assert all(len(line.split(",")) == 3 for line in counters_csv().splitlines() if not line.startswith("#"))
    for target in (EKS, OPENSHIFT):
        rules = rule_file(gpu_rule_groups(Alerts(), target))
        used = {m for g in rules["groups"] for r in g["rules"] for m in re.findall(r"DCGM_[A-Z0-9_]+", r["expr"])}
        assert used <= enabled_metrics(), used - enabled_metrics()
        assert len({m for m in used if m.startswith("DCGM_FI_DEV_NVLINK_")}) == 4


def test_every_exporter_install_ships_the_counters_file() -> None:
    from components.kubernetes import gpu_addons, nvidia
    from components.openshift import operators

    csv = counters_csv()
    assert nvidia.dcgm_exporter_values()["customMetrics"] == csv
    assert nvidia.operator_values(dcgm_exporter=True)["dcgmExporter"]["config"]["data"] == csv
    assert gpu_addons.dcgm_exporter_values()["customMetrics"] == csv
    assert gpu_addons.gpu_operator_values()["dcgmExporter"]["config"]["data"] == csv
    # OpenShift: the ClusterPolicy names a ConfigMap gpu-fleet creates under the key the operator reads.
    assert operators.cluster_policy()["spec"]["dcgmExporter"]["config"]["name"] == \
        operators.dcgm_counters_metadata()["name"]
    assert operators.dcgm_counters_data() == {"dcgm-metrics.csv": csv}
    # The standalone chart's default volumes mount its ConfigMap as the exporter's default counters file.
    values = yaml.safe_load((REFERENCE / "charts/dcgm-exporter/values.yaml").read_text())
    assert values["extraConfigMapVolumes"][0]["configMap"]["name"] == "exporter-metrics-config-map"
    assert values["extraVolumeMounts"][0]["mountPath"] == "/etc/dcgm-exporter/default-counters.csv"


def test_every_gke_gpu_cluster_path_has_hardware_health_signals() -> None:
    exporter = health_signals(gpu_rule_groups(Alerts(), GKE))
    assert {"xid", "ecc-dbe", "row-remap", "nvlink", "thermal", "power", "pcie-replay"} <= set(exporter)
    assert health_signals(gpu_rule_groups(Alerts(), GKE_MANAGED)) == ["exporter-absent"]


# --- §3 when the metrics stop --------------------------------------------------------------------------------------

@needs_promtool
def test_a_gpu_node_without_dcgm_series_alerts(tmp_path: Path) -> None:
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [gpu_node_capacity("n1", 8), gpu_node_capacity("n2", 8),
                         series("kube_node_status_capacity", {"job": "kube-state-metrics", "node": "cpu-1",
                                                              "resource": "cpu", "unit": "core"}, "8x120"),
                         dcgm("DCGM_FI_DEV_GPU_UTIL", "50x120", node="n1"),
                         dcgm("DCGM_FI_DEV_GPU_UTIL", "50x30", node="n2")],  # n2's exporter dies at minute 30
        "alert_rule_test": [
            alert("40m", "GpuMetricsMissing"),
            alert("55m", "GpuMetricsMissing", fleet("warning", node="n2")),
        ],
    }])


@needs_promtool
def test_gke_lists_gpu_nodes_from_the_kubelet_inventory(tmp_path: Path) -> None:
    inventory = {"job": "gpufleet-gpu-nodes", "instance": "n2:10250", "gpu_fleet_inventory": "gpu"}
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), GKE_MANAGED), [{
        "interval": "1m",
        "input_series": [series("kubelet_node_name", {**inventory, "node": "gke-a"}, "1x60"),
                         series("kubelet_node_name", {**inventory, "node": "gke-b"}, "1x60"),
                         series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "0", "UUID": "GPU-a", "modelName": "NVIDIA L4",
                                                         "Hostname": "gke-a"}, "40x60")],
        "alert_rule_test": [alert("20m", "GpuMetricsMissing", fleet("warning", node="gke-b")),
                            alert("20m", "Watchdog", fleet("none"))],
    }])


@needs_promtool
def test_cost_records_going_stale_alerts(tmp_path: Path) -> None:
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [gpu_node_capacity("n1", 8), dcgm("DCGM_FI_DEV_GPU_UTIL", "50x20", node="n1")],
        "alert_rule_test": [alert("20m", "GpuCostRecordsStale"),
                            alert("55m", "GpuCostRecordsStale", fleet("warning"))],
    }])


# --- §5 thresholds that do not cry wolf -----------------------------------------------------------------------------

@needs_promtool
def test_vllm_reserving_93_percent_does_not_alert_until_its_pod_crashes(tmp_path: Path) -> None:
    restarts = series("kube_pod_container_status_restarts_total",
                      {"job": "kube-state-metrics", "namespace": "inference", "pod": "vllm-0", "uid": "u",
                       "container": "main"}, "0x60 1x60")
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [dcgm("DCGM_FI_DEV_FB_USED", "74000x120", namespace="inference", pod="vllm-0"),
                         dcgm("DCGM_FI_DEV_FB_FREE", "5500x120", namespace="inference", pod="vllm-0"), restarts],
        "alert_rule_test": [
            alert("59m", "GpuMemoryHigh"),
            {"eval_time": "67m", "alertname": "GpuMemoryHigh", "exp_alerts": [{"exp_labels": fleet(
                "warning", gpu="0", UUID="GPU-n1-0", pci_bus_id="00000000:0A:00.0", device="nvidia0",
                modelName="NVIDIA H100 80GB HBM3", Hostname="n1", DCGM_FI_DRIVER_VERSION="580.95.05", node="n1",
                namespace="inference", pod="vllm-0", container="main")}]},
        ],
    }])


@needs_promtool
def test_busy_gpus_alert_only_with_a_backlog_and_one_dip_does_not_reset(tmp_path: Path) -> None:
    busy = "95 95 95 80 " * 30  # one 80% sample every 4 minutes
    expected = fleet("warning", gpu="0", UUID="GPU-n1-0", pci_bus_id="00000000:0A:00.0", device="nvidia0",
                     modelName="NVIDIA H100 80GB HBM3", Hostname="n1", DCGM_FI_DRIVER_VERSION="580.95.05", node="n1")
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), EKS), [{
        "interval": "1m",
        "input_series": [dcgm("DCGM_FI_DEV_GPU_UTIL", busy.strip()),
                         *pending_gpu_pod("research", "job-1", 8, "_x60 1x60")],
        "alert_rule_test": [
            alert("50m", "GpuUtilizationHigh"),  # saturated, nothing waiting: a good day
            alert("61m", "GpuUtilizationHigh", expected),
            alert("79m", "GpuUtilizationHigh", expected),  # the 80% samples at 63, 67, ... 79 do not resolve it
        ],
    }])


# --- §6 (part) GPU pods pending, autoscaler ------------------------------------------------------------------------

@needs_promtool
def test_gpu_pods_pending_on_capacity(tmp_path: Path) -> None:
    cpu_pod = [series("kube_pod_status_unschedulable", {"job": "kube-state-metrics", "namespace": "web",
                                                        "pod": "w", "uid": "w"}, "1x60")]
    failed = series("cluster_autoscaler_failed_scale_ups_total", {"job": "cluster-autoscaler-default",
                                                                   "reason": "cloudProviderError"}, "0x20 1+1x40")
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), OPENSHIFT), [{
        "interval": "1m",
        "input_series": [*pending_gpu_pod("training", "trainer-0", 8, "_x10 1x50"), *cpu_pod, failed],
        "alert_rule_test": [
            alert("24m", "GpuPodsPending"),
            alert("26m", "GpuPodsPending", fleet("warning", namespace="training")),
            alert("30m", "GpuScaleUpFailed", fleet("warning", reason="cloudProviderError")),
        ],
        # GPUs waited for, per namespace: the CPU pod does not count.
        "promql_expr_test": [{"expr": "namespace:gpufleet_gpu_requests_pending:sum", "eval_time": "20m",
                              "exp_samples": [{"labels": 'namespace:gpufleet_gpu_requests_pending:sum'
                                                         '{namespace="training"}', "value": 8}]}],
    }])


# --- every alert: fleet label, runbook ------------------------------------------------------------------------------

def _emitted_alerts() -> dict[str, dict[str, object]]:
    out = {}
    for target in ALL_TARGETS:
        for obj in (prometheus_rule("x", "monitoring", gpu_rule_groups(Alerts(), target)),
                    gmp_cluster_rules("x", gpu_rule_groups(Alerts(), target))):
            for g in obj["spec"]["groups"]:
                out |= {r["alert"]: r for r in g["rules"] if "alert" in r}
    return out


def test_every_alert_carries_the_fleet_label_and_a_runbook_that_exists() -> None:
    alerts = _emitted_alerts()
    assert len(alerts) >= 20
    for name, rule in alerts.items():
        assert rule["labels"]["gpu_fleet"] == "true", name  # type: ignore[index]
        url = rule["annotations"]["runbook_url"]  # type: ignore[index]
        assert url == f"docs/runbooks/{name}.md"
        assert (ROOT / url).is_file(), f"{name}: no runbook at {url}"
    for guard in (FLEET_ALERT, TEAM_ALERT):
        assert (ROOT / "docs" / "runbooks" / f"{guard}.md").is_file()


def test_runbook_base_comes_from_config() -> None:
    alerts = Alerts.model_validate({"runbook_base_url": "https://github.com/acme/gpu-fleet/blob/main/docs/runbooks"})
    rules = rule_file(gpu_rule_groups(alerts, EKS))
    urls = {r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert "https://github.com/acme/gpu-fleet/blob/main/docs/runbooks/GpuXidError.md" in urls
    assert all(u.startswith("https://github.com/acme/") for u in urls)


def test_prod_gke_gpu_clusters_run_the_exporter_with_the_counters_file(prod_plan: Any) -> None:
    """GKE's default is dcgm-exporter now: every prod GKE cluster with GPUs gets it (and its health alerts), with
    gpu-fleet's counters file; a cluster without GPUs gets none."""
    releases = {r.name.removesuffix("-addons-dcgm-exporter"): r for r in prod_plan.resources
                if r.type == "kubernetes:helm.sh/v3:Release" and r.name.endswith("-addons-dcgm-exporter")}
    gpu_clusters = {f"{row.region}-{row.cluster}" for row in prod_plan.capacity if row.platform == "gke"}
    assert gpu_clusters and set(releases) == gpu_clusters
    assert all(r.inputs["values"]["customMetrics"] == counters_csv() for r in releases.values())
    rules = {r.name.removesuffix("-monitoring-rules"): r for r in prod_plan.resources
             if r.inputs.get("kind") == "ClusterRules"}
    for cluster in gpu_clusters:
        names = {x.get("alert") for g in rules[cluster].inputs["spec"]["groups"] for x in g["rules"]}
        assert {"GpuXidError", "GpuEccDoubleBitError", "GpuMetricsMissing", "Watchdog"} <= names, cluster
