"""The GPU alert and cost rules under `promtool test rules`: synthetic series, expected alerts at given times.

Every rule the rule model can emit has a case here (checked by `test_every_rule_has_a_promtool_case`), and the
timing cases are the point: an alert fires when its threshold says (85% for 5 minutes fires 5 minutes after the
ramp, not 10; idle for 30 minutes fires at 30, not 60) and the XID alert resolves once the GPU is healthy again.
promtool comes from Debian's `prometheus` package, which `./dev` installs where it can; elsewhere these tests skip
and say why.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
import yaml

from components.config.observability import Alerts
from components.kubernetes.monitoring.rules import (
    MetricSource,
    NetworkSource,
    NicBandwidth,
    Rule,
    RuleGroup,
    RuleTargets,
    gmp_cluster_rules,
    gpu_rule_groups,
    prometheus_rule,
    rule_file,
    rule_names,
)
from tests.support.alert_rules import (
    H100,
    L4,
    PENDING,
    PROMTOOL,
    TARGETS,
    alert,
    gpu,
    labels,
    needs_promtool,
    run_promtool,
)


@needs_promtool
def test_utilisation_85_for_5m_fires_5_minutes_after_the_ramp_not_10(tmp_path: Path) -> None:
    # 0% until minute 30, 90% from minute 31: over the threshold from 31m, so firing from 36m.
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_FI_DEV_GPU_UTIL", "0x30 90x30"), *PENDING],
        "alert_rule_test": [
            alert("35m", "GpuUtilizationHigh"),
            alert("36m", "GpuUtilizationHigh", labels("warning")),
            alert("41m", "GpuUtilizationHigh", labels("warning")),
        ],
    }])


@needs_promtool
def test_utilisation_threshold_and_window_come_from_config(tmp_path: Path) -> None:
    alerts = Alerts.model_validate({"gpu_utilization": {"percent": 70, "window": "10m"}})
    run_promtool(tmp_path, gpu_rule_groups(alerts, TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_FI_DEV_GPU_UTIL", "0x30 75x30"), *PENDING],
        "alert_rule_test": [alert("40m", "GpuUtilizationHigh"),
                            alert("41m", "GpuUtilizationHigh", labels("warning"))],
    }])


@needs_promtool
def test_memory_90_for_5m_fires_5_minutes_after_it_fills(tmp_path: Path) -> None:
    # 76 of 80 GB used (95%) from minute 11 on; a second GPU at 50% never fires.
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [
            gpu("DCGM_FI_DEV_FB_USED", "1000x10 76000x20", namespace="train", pod="t-0"),
            gpu("DCGM_FI_DEV_FB_FREE", "79000x10 4000x20", namespace="train", pod="t-0"),
            gpu("DCGM_FI_DEV_FB_USED", "40000x30", gpu_id="1", namespace="train", pod="t-1"),
            gpu("DCGM_FI_DEV_FB_FREE", "40000x30", gpu_id="1", namespace="train", pod="t-1"),
            # Both pods crash-loop (OOM): only the full GPU's alerts.
            *[{"series": f'kube_pod_container_status_restarts_total{{namespace="train",pod="{p}",container="main"}}',
               "values": "0+1x30"} for p in ("t-0", "t-1")],
        ],
        "alert_rule_test": [alert("15m", "GpuMemoryHigh"),
                            alert("16m", "GpuMemoryHigh", labels("warning", namespace="train", pod="t-0"))],
    }])


@needs_promtool
def test_idle_for_30m_fires_30_minutes_after_the_gpu_goes_idle_not_60(tmp_path: Path) -> None:
    # Busy for the first hour, idle (0%) from minute 61: firing from 91m (the doubled window fired at 121m).
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_FI_DEV_GPU_UTIL", "100x60 0x120", namespace="research")],
        "alert_rule_test": [
            alert("90m", "GpuIdle"),
            # Once per GPU, not per pod or namespace (time-shared GPUs repeat the series): no namespace label.
            alert("91m", "GpuIdle", labels("info", gpu_fleet="true")),
            alert("120m", "GpuIdle", labels("info", gpu_fleet="true")),
        ],
    }])


@needs_promtool
def test_xid_fires_on_a_new_error_and_resolves_once_the_gpu_is_healthy(tmp_path: Path) -> None:
    # dcgm-exporter counts XID 79 in its 5-minute window from minute 3 (samples 3..7m); the alert resolves 10
    # minutes after the last count, then fires again for a new XID (48 from minute 30).
    count = "DCGM_EXP_XID_ERRORS_COUNT"
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [gpu(count, "_x3 1x4 _x50", gpu_id="3", node="n2", xid="79", window_size_in_ms="300000"),
                         gpu(count, "_x30 1x4 _x20", gpu_id="3", node="n2", xid="48", window_size_in_ms="300000")],
        "alert_rule_test": [
            alert("2m", "GpuXidError"),
            alert("3m", "GpuXidError", labels("critical", gpu_id="3", node="n2", xid="79")),
            alert("10m", "GpuXidError", labels("critical", gpu_id="3", node="n2", xid="79")),
            alert("18m", "GpuXidError"),
            alert("25m", "GpuXidError"),
            alert("31m", "GpuXidError", labels("critical", gpu_id="3", node="n2", xid="48")),
            alert("45m", "GpuXidError"),
        ],
    }])


@needs_promtool
def test_xid_resolution_window_comes_from_config(tmp_path: Path) -> None:
    alerts = Alerts.model_validate({"xid_errors": {"resolve_after": "30m"}})
    run_promtool(tmp_path, gpu_rule_groups(alerts, TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_EXP_XID_ERRORS_COUNT", "_x3 1x4 _x50", xid="79", window_size_in_ms="300000")],
        "alert_rule_test": [alert("25m", "GpuXidError", labels("critical", xid="79")),
                            alert("40m", "GpuXidError")],
    }])


@needs_promtool
def test_row_remap_failure_fires_at_once_and_stays(tmp_path: Path) -> None:
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_FI_DEV_ROW_REMAP_FAILURE", "0x5 1x30")],
        "alert_rule_test": [alert("5m", "GpuRowRemapFailure"),
                            alert("6m", "GpuRowRemapFailure", labels("critical")),
                            alert("30m", "GpuRowRemapFailure", labels("critical"))],
    }])


def _fleet(h100_later: int) -> list[dict[str, str]]:
    """Two H100 held by team-a and an idle L4 for an hour, then `h100_later` more H100 held by team-b."""
    series = [gpu("DCGM_FI_DEV_GPU_UTIL", "50x150", gpu_id=str(i), namespace="team-a") for i in range(2)]
    series.append(gpu("DCGM_FI_DEV_GPU_UTIL", "0x150", node="n9", model=L4))
    series += [gpu("DCGM_FI_DEV_GPU_UTIL", "_x60 50x90", gpu_id=str(i), node="n2", namespace="team-b")
               for i in range(h100_later)]
    return series


@needs_promtool
def test_cost_recording_rules_price_allocated_gpus_per_namespace(tmp_path: Path) -> None:
    # A GPU time-shared by two pods of one namespace appears twice in DCGM; it is one GPU and is priced once.
    shared = [{"series": f'DCGM_FI_DEV_GPU_UTIL{{gpu="5",UUID="GPU-n3-5",modelName="{H100}",node="n3",'
                         f'namespace="team-c",pod="p{i}"}}', "values": "30x150"} for i in range(2)]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": _fleet(2) + shared,
        "promql_expr_test": [
            {"expr": "namespace:gpufleet_gpu_allocated:sum", "eval_time": "90m", "exp_samples": [
                {"labels": 'namespace:gpufleet_gpu_allocated:sum{gpu_fleet="true",namespace="team-a"}', "value": 2},
                {"labels": 'namespace:gpufleet_gpu_allocated:sum{gpu_fleet="true",namespace="team-b"}', "value": 2},
                {"labels": 'namespace:gpufleet_gpu_allocated:sum{gpu_fleet="true",namespace="team-c"}', "value": 1}]},
            {"expr": "namespace_gpu_model:gpufleet_gpu_cost_usd_per_hour:sum", "eval_time": "30m", "exp_samples": [
                {"labels": 'namespace_gpu_model:gpufleet_gpu_cost_usd_per_hour:sum'
                           '{gpu_fleet="true",gpu_model="h100-80gb",namespace="team-a"}', "value": 20},
                {"labels": 'namespace_gpu_model:gpufleet_gpu_cost_usd_per_hour:sum'
                           '{gpu_fleet="true",gpu_model="h100-80gb",namespace="team-c"}', "value": 10}]},
            {"expr": "namespace:gpufleet_gpu_cost_usd_per_hour:sum", "eval_time": "90m", "exp_samples": [
                {"labels": 'namespace:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true",namespace="team-a"}',
                 "value": 20},
                {"labels": 'namespace:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true",namespace="team-b"}',
                 "value": 20},
                {"labels": 'namespace:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true",namespace="team-c"}',
                 "value": 10}]},
            # The idle L4 is spend too, though no namespace holds it.
            {"expr": "gpu_model:gpufleet_gpu_cost_usd_per_hour:sum", "eval_time": "90m", "exp_samples": [
                {"labels": 'gpu_model:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true",gpu_model="h100-80gb"}',
                 "value": 50},
                {"labels": 'gpu_model:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true",gpu_model="l4"}',
                 "value": 1}]},
            {"expr": "cluster:gpufleet_gpu_cost_usd_per_hour:sum", "eval_time": "90m", "exp_samples": [
                {"labels": 'cluster:gpufleet_gpu_cost_usd_per_hour:sum{gpu_fleet="true"}', "value": 51}]},
        ],
    }])


@needs_promtool
def test_managed_dcgm_gpus_are_told_apart_by_node_and_index(tmp_path: Path) -> None:
    # GKE managed DCGM: GPUs are named by Hostname and gpu (two nodes with a GPU 0 each are two GPUs).
    series = [{"series": f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",modelName="{H100}",Hostname="gke-n{i}",'
                         f'namespace="team-a"}}', "values": "50x30"} for i in range(2)]
    targets = RuleTargets(MetricSource.GKE_MANAGED, TARGETS.prices)
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), targets), [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": "namespace:gpufleet_gpu_allocated:sum", "eval_time": "10m", "exp_samples": [
            {"labels": 'namespace:gpufleet_gpu_allocated:sum{gpu_fleet="true",namespace="team-a"}', "value": 2}]}],
    }])


@needs_promtool
def test_cost_spike_fires_at_the_configured_factor_over_an_hour(tmp_path: Path) -> None:
    # 21 USD/h for an hour, then 41 (x1.95: below 2.0) in one cluster, 61 (x2.9) in another.
    groups = gpu_rule_groups(Alerts(), TARGETS)
    run_promtool(tmp_path, groups, [
        {"interval": "1m", "input_series": _fleet(2),
         "alert_rule_test": [alert("90m", "GpuCostSpike")]},
        {"interval": "1m", "input_series": _fleet(4),
         "alert_rule_test": [alert("59m", "GpuCostSpike"),
                             alert("61m", "GpuCostSpike", {"gpu_fleet": "true", "severity": "warning"}),
                             alert("125m", "GpuCostSpike")]},
    ])
    # Read as "+200%" (factor 3), the 2.9x growth is not a spike.
    strict = gpu_rule_groups(Alerts.model_validate({"cost_spike": {"factor": 3}}), TARGETS)
    run_promtool(tmp_path, strict, [{"interval": "1m", "input_series": _fleet(4),
                                     "alert_rule_test": [alert("61m", "GpuCostSpike")]}])


def _node(instance: str, product: str, transmit: str, receive: str = "0x60") -> list[dict[str, str]]:
    return [
        {"series": f'node_dmi_info{{instance="{instance}",product_name="{product}",system_vendor="Amazon EC2"}}',
         "values": "1x60"},
        {"series": f'node_network_transmit_bytes_total{{instance="{instance}",device="ens5"}}', "values": transmit},
        {"series": f'node_network_receive_bytes_total{{instance="{instance}",device="ens5"}}', "values": receive},
        # Pod traffic on the host side of veths is the same bytes again: never counted.
        {"series": f'node_network_transmit_bytes_total{{instance="{instance}",device="veth12ab"}}',
         "values": "0+9e12x60"},
    ]


@needs_promtool
def test_network_saturation_against_the_catalog_bandwidth(tmp_path: Path) -> None:
    # g6.xlarge: 2.5 Gbps = 312.5 MB/s. 1e8 bytes a minute until minute 30, then 1.6875e10 a minute (281.25 MB/s,
    # 90%): the 2-minute rate is past 80% from minute 32, so the alert fires at 37m. The same traffic on a p5 is
    # far below its bandwidth.
    busy = "0+1e8x30 1.9875e10+1.6875e10x29"
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": _node("10.0.0.1:9100", "g6.xlarge", busy) + _node("10.0.0.2:9100", "p5.48xlarge", busy),
        "alert_rule_test": [
            alert("36m", "NodeNetworkSaturated"),
            alert("37m", "NodeNetworkSaturated",
                  {"gpu_fleet": "true", "severity": "warning", "instance": "10.0.0.1:9100", "direction": "transmit"}),
        ],
        "promql_expr_test": [
            {"expr": "instance:gpufleet_nic_bandwidth_bytes_per_second:max", "eval_time": "10m", "exp_samples": [
                {"labels": 'instance:gpufleet_nic_bandwidth_bytes_per_second:max{instance="10.0.0.1:9100"}',
                 "value": 312500000},
                {"labels": 'instance:gpufleet_nic_bandwidth_bytes_per_second:max{instance="10.0.0.2:9100"}',
                 "value": 400000000000}]},
            {"expr": 'instance_direction:gpufleet_network_bytes_per_second:rate{instance="10.0.0.1:9100"}',
             "eval_time": "40m", "exp_samples": [
                {"labels": 'instance_direction:gpufleet_network_bytes_per_second:rate'
                           '{direction="receive",instance="10.0.0.1:9100"}', "value": 0},
                {"labels": 'instance_direction:gpufleet_network_bytes_per_second:rate'
                           '{direction="transmit",instance="10.0.0.1:9100"}', "value": 281250000}]},
            {"expr": 'instance_type:gpufleet_nic_bandwidth_bytes_per_second:max{instance_type="g6.xlarge"}',
             "eval_time": "1m", "exp_samples": [
                {"labels": 'instance_type:gpufleet_nic_bandwidth_bytes_per_second:max{instance_type="g6.xlarge"}',
                 "value": 312500000}]},
        ],
    }])


GKE_TARGETS = RuleTargets(MetricSource.GKE_MANAGED, network=(NicBandwidth("a2-highgpu-8g", 100.0),),
                          network_source=NetworkSource.KUBELET_CADVISOR)


def _gke_node(node: str, machine: str, transmit: str) -> list[dict[str, str]]:
    """The series a gpu-fleet ClusterNodeMonitoring keeps for one node (root cgroup, stamped with its type)."""
    return [
        {"series": f'container_network_transmit_bytes_total{{id="/",interface="eth0",node="{node}",'
                   f'instance_type="{machine}"}}', "values": transmit},
        {"series": f'container_network_receive_bytes_total{{id="/",interface="eth0",node="{node}",'
                   f'instance_type="{machine}"}}', "values": "0x60"},
    ]


@needs_promtool
def test_gke_network_saturation_from_the_kubelet_cadvisor_against_the_catalog(tmp_path: Path) -> None:
    # a2-highgpu-8g: 100 Gbps = 12.5 GB/s. 1e9 bytes a minute until minute 30, then 6.75e11 a minute (11.25 GB/s,
    # 90%): the 2-minute rate is past 80% from minute 32, so the alert fires at 37m, as on EKS.
    busy = "0+1e9x30 6.78e11+6.75e11x29"
    series = [
        *_gke_node("gke-a2-1", "a2-highgpu-8g", busy),
        # The same host's traffic scraped by GKE's own kubelet scraping carries no instance_type: not counted twice.
        {"series": 'container_network_transmit_bytes_total{id="/",interface="eth0",node="gke-a2-1"}',
         "values": "0+9e12x60"},
        # A pod's own counters (not the root cgroup) and a host veth are the same bytes again: never counted.
        {"series": 'container_network_transmit_bytes_total{id="/kubepods/pod1",interface="eth0",node="gke-a2-1",'
                   'instance_type="a2-highgpu-8g"}', "values": "0+9e12x60"},
        {"series": 'container_network_transmit_bytes_total{id="/",interface="gke1a2b",node="gke-a2-1",'
                   'instance_type="a2-highgpu-8g"}', "values": "0+9e12x60"},
        # A machine type without a bandwidth constant is never judged.
        *_gke_node("gke-a3-1", "a3-megagpu-8g", "0+9e12x60"),
    ]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), GKE_TARGETS), [{
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            alert("36m", "NodeNetworkSaturated"),
            alert("37m", "NodeNetworkSaturated", {"gpu_fleet": "true", "severity": "warning", "node": "gke-a2-1",
                                                  "instance_type": "a2-highgpu-8g", "direction": "transmit"}),
        ],
        "promql_expr_test": [
            {"expr": 'node_direction:gpufleet_network_bytes_per_second:rate{node="gke-a2-1"}',
             "eval_time": "40m", "exp_samples": [
                {"labels": 'node_direction:gpufleet_network_bytes_per_second:rate'
                           '{direction="receive",instance_type="a2-highgpu-8g",node="gke-a2-1"}', "value": 0},
                {"labels": 'node_direction:gpufleet_network_bytes_per_second:rate'
                           '{direction="transmit",instance_type="a2-highgpu-8g",node="gke-a2-1"}',
                 "value": 11250000000}]},
        ],
    }])


@needs_promtool
def test_annotations_render_with_the_labels_each_source_has(tmp_path: Path) -> None:
    # GKE managed DCGM names the node `Hostname`; the exporter's scrape adds `node`.
    managed = {"series": f'DCGM_FI_DEV_GPU_UTIL{{gpu="1",UUID="GPU-x",modelName="{L4}",Hostname="gke-n7"}}',
               "values": "0x40"}
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), RuleTargets(MetricSource.GKE_MANAGED)), [{
        "interval": "1m",
        "input_series": [managed],
        "alert_rule_test": [{"eval_time": "31m", "alertname": "GpuIdle", "exp_alerts": [{
            "exp_labels": {"gpu_fleet": "true", "severity": "info", "gpu": "1", "UUID": "GPU-x", "modelName": L4,
                           "Hostname": "gke-n7"},
            "exp_annotations": {
                "summary": f"GPU 1 ({L4}) on gke-n7 under 5% busy for 30m",
                "description": "Paid for and unused: release it, or let the autoscaler remove the node "
                               "(namespace:gpufleet_gpu_allocated:sum says which teams hold GPUs).",
                "runbook_url": "docs/runbooks/GpuIdle.md"}}]}],
    }], annotations=True)
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TARGETS), [{
        "interval": "1m",
        "input_series": [gpu("DCGM_EXP_XID_ERRORS_COUNT", "_ 1x10", namespace="team-a", xid="79",
                             window_size_in_ms="300000")],
        "alert_rule_test": [{"eval_time": "2m", "alertname": "GpuXidError", "exp_alerts": [{
            "exp_labels": labels("critical", xid="79"),
            "exp_annotations": {
                "summary": f"XID 79 (hardware) on GPU 0 ({H100}) on n1",
                "description": "NVIDIA's XID catalog puts this code in a reset/drain bucket "
                               "(docs.nvidia.com/deploy/xid-errors): cordon and drain the node, reset the GPU, and "
                               "replace it if the code repeats. Resolves 10m after the last one.",
                "runbook_url": "docs/runbooks/GpuXidError.md"}}]}],
    }], annotations=True)


@needs_promtool
def test_promtool_fails_a_rule_that_fires_late(tmp_path: Path) -> None:
    """The harness is real: the doubled window (average over 5m, then for 5m) fails the 5-minute expectation."""
    late = [RuleGroup("late", (Rule("GpuUtilizationHigh", "avg_over_time(DCGM_FI_DEV_GPU_UTIL[5m]) > 85", True,
                                     "5m", {"severity": "warning"}),))]
    with pytest.raises(AssertionError, match="GpuUtilizationHigh"):
        run_promtool(tmp_path, late, [{
            "interval": "1m", "input_series": [gpu("DCGM_FI_DEV_GPU_UTIL", "0x30 90x30")],
            "alert_rule_test": [alert("36m", "GpuUtilizationHigh", labels("warning"))]}])


def test_managed_dcgm_gets_no_rule_on_a_metric_it_does_not_export() -> None:
    managed = rule_names(gpu_rule_groups(Alerts(), RuleTargets(MetricSource.GKE_MANAGED)))
    assert {"GpuUtilizationHigh", "GpuMemoryHigh", "GpuIdle"} <= set(managed)
    assert "GpuXidError" not in managed and "GpuRowRemapFailure" not in managed


def test_switched_off_alerts_are_not_rendered() -> None:
    off = Alerts.model_validate({"gpu_idle": {"enabled": False, "percent": 5, "window": "30m"},
                                 "xid_errors": {"enabled": False}, "cost_spike": {"enabled": False},
                                 "network_saturation": {"enabled": False, "percent": 80, "window": "5m"}})
    names = rule_names(gpu_rule_groups(off, TARGETS))
    assert not {"GpuIdle", "GpuXidError", "GpuCostSpike", "NodeNetworkSaturated"} & set(names)
    assert "cluster:gpufleet_gpu_cost_usd_per_hour:sum" in names  # recording goes on: dashboards use it
    # Alerts off: no alert at all, the cost records stay (dashboards and budget guards read them).
    off_groups = gpu_rule_groups(Alerts(enabled=False), TARGETS)
    assert [g.name for g in off_groups] == ["gpufleet-cost"] and not [r for g in off_groups for r in g.rules
                                                                       if r.alert]
    assert "namespace:gpufleet_gpu_cost_usd_per_hour:sum" in rule_names(off_groups)
    # Without DCGM (EKS with dcgm_exporter: false) only the node network rules remain.
    no_dcgm = rule_names(gpu_rule_groups(Alerts(), RuleTargets(MetricSource.DCGM_EXPORTER, TARGETS.prices,
                                                               TARGETS.network, dcgm=False)))
    assert "NodeNetworkSaturated" in no_dcgm
    assert not [n for n in no_dcgm if n.startswith(("Gpu", "namespace", "gpu_", "cluster"))]


@needs_promtool
def test_rendered_rules_pass_promtool_check(tmp_path: Path) -> None:
    for source, network in itertools.product(MetricSource, NetworkSource):
        path = tmp_path / f"{source.value}-{network.value}.yaml"
        path.write_text(yaml.safe_dump(rule_file(gpu_rule_groups(Alerts(), RuleTargets(
            source, TARGETS.prices, TARGETS.network, network_source=network)))))
        proc = subprocess.run([str(PROMTOOL), "check", "rules", str(path)], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_has_a_promtool_case() -> None:
    """Every rule the model emits is named by a case in this file: an expected alert, or a recorded series."""
    import re

    text = Path(__file__).read_text() + (Path(__file__).parent / "test_oncall_alerts.py").read_text()
    covered = set(re.findall(r'alert\("[0-9]+m", "(\w+)"', text)) | set(re.findall(r'"alertname": "(\w+)"', text))
    covered |= set(re.findall(r'"expr": \'?"?([a-z_:]+)', text))
    every = set(rule_names(gpu_rule_groups(Alerts(), TARGETS))) | set(rule_names(gpu_rule_groups(Alerts(),
                                                                                               GKE_TARGETS)))
    missing = every - covered
    assert not missing, f"rules without a promtool case: {sorted(missing)}"


@pytest.mark.parametrize("source", list(MetricSource))
def test_rendered_objects_validate_against_the_reference_crds(source: MetricSource) -> None:
    from tests.support.cel_rules import violations, with_defaults
    from tests.support.k8s_schemas import crd_schemas, validate

    groups = gpu_rule_groups(Alerts(), RuleTargets(source, TARGETS.prices, TARGETS.network))
    for obj in (prometheus_rule("gpufleet-gpu", "monitoring", groups), gmp_cluster_rules("gpufleet-gpu", groups)):
        validate(obj)
        schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
        broken = list(violations(schema, with_defaults(schema, obj)))
        assert not broken, f"{obj['kind']}: {broken}"
        assert [r.get("alert") or r.get("record") for g in obj["spec"]["groups"] for r in g["rules"]] == \
            rule_names(groups)


def test_a_rule_with_both_record_and_alert_fails_the_crd() -> None:
    from tests.support.cel_rules import violations, with_defaults
    from tests.support.k8s_schemas import crd_schemas

    obj = gmp_cluster_rules("x", gpu_rule_groups(Alerts(), TARGETS))
    obj["spec"]["groups"][0]["rules"][0]["record"] = "gpu:x:sum"
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    assert any("exactly one" in v for v in violations(schema, with_defaults(schema, obj)))


def test_rules_use_only_metrics_their_source_exports() -> None:
    import re

    from components.kubernetes.dcgm_counters import enabled_metrics
    from components.kubernetes.monitoring.rules import GKE_MANAGED_DCGM_METRICS

    # dcgm-exporter runs with gpu-fleet's counters file, itself checked against the reference lists
    # (tests/kubernetes/test_oncall_alerts.py).
    exporter = set(enabled_metrics())
    for source, exported in ((MetricSource.DCGM_EXPORTER, exporter), (MetricSource.GKE_MANAGED,
                                                                       GKE_MANAGED_DCGM_METRICS)):
        rules = rule_file(gpu_rule_groups(Alerts(), RuleTargets(source, TARGETS.prices)))
        used = {m for g in rules["groups"] for r in g["rules"] for m in re.findall(r"DCGM_FI_[A-Z0-9_]+", r["expr"])}
        assert used and used <= exported, (source, used - exported)
