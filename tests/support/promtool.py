"""`promtool test rules` and `amtool config routes test` harnesses, and series shaped as the exporters emit them.

DCGM series carry dcgm-exporter's labels (4.x `internal/pkg/collector`: `gpu`, `UUID`, `pci_bus_id`, `device`,
`modelName`, `Hostname`, the driver version label from `DCGM_FI_DRIVER_VERSION`, and the workload's `namespace`/
`pod`/`container` when a pod holds the GPU) plus the `node` label gpu-fleet's scrape objects add. The XID count
adds `xid` and `window_size_in_ms` (`xid_collector.go`, `expcollector.go`). kube-state-metrics series carry the
labels its stores give them (`kube_pod_status_unschedulable{namespace,pod,uid}`,
`kube_pod_container_resource_requests{namespace,pod,uid,container,node,resource,unit}`,
`kube_node_status_capacity{node,resource,unit}`), plus the scrape's `job`/`instance`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.conventions import FLEET_ALERT_LABEL
from components.kubernetes.monitoring.rules import RuleGroup, rule_file

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install "
                                                             "prometheus)")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian: apt-get install "
                                                         "prometheus-alertmanager)")

H100 = "NVIDIA H100 80GB HBM3"
KSM = {"job": "kube-state-metrics", "instance": "10.0.0.9:8080"}


def run_promtool(tmp_path: Path, groups: list[RuleGroup], tests: list[dict[str, Any]], *,
                 annotations: bool = False) -> subprocess.CompletedProcess[str]:
    """Write the rules and the test file, run `promtool test rules`, fail with its output."""
    assert PROMTOOL is not None
    doc = rule_file(groups)
    if not annotations:
        for g in doc["groups"]:
            for r in g["rules"]:
                r.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "rules_test.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}))
    proc = subprocess.run([PROMTOOL, "test", "rules", "rules_test.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


def labelled(metric: str, values: str, **labels: str) -> dict[str, str]:
    """An input series from keyword labels (Karpenter's metrics: `nodepool`, `capacity_type`, `zone`, ...)."""
    return series(metric, labels, values)


def gpu_labels(*, gpu: str = "0", node: str = "n1", model: str = H100, namespace: str | None = None,
               pod: str | None = None) -> dict[str, str]:
    """dcgm-exporter's labels for one GPU, scraped with gpu-fleet's `node` relabeling."""
    out = {"gpu": gpu, "UUID": f"GPU-{node}-{gpu}", "pci_bus_id": f"00000000:{10 + int(gpu):02X}:00.0",
           "device": f"nvidia{gpu}", "modelName": model, "Hostname": node, "DCGM_FI_DRIVER_VERSION": "580.95.05",
           "node": node}
    if namespace:
        out |= {"namespace": namespace, "pod": pod or f"{namespace}-0", "container": "main"}
    return out


def dcgm(metric: str, values: str, **kw: Any) -> dict[str, str]:
    return series(metric, gpu_labels(**kw), values)


def xid_count(xid: str | None, values: str, **kw: Any) -> dict[str, str]:
    """`DCGM_EXP_XID_ERRORS_COUNT` for one GPU and code (None: the exporter's `xid`-less zero series)."""
    labels = {**gpu_labels(**kw), "window_size_in_ms": "300000"}
    if xid is not None:
        labels["xid"] = xid
    return series("DCGM_EXP_XID_ERRORS_COUNT", labels, values)


def gpu_node_capacity(node: str, gpus: int, values: str | None = None) -> dict[str, str]:
    return series("kube_node_status_capacity", {**KSM, "node": node, "resource": "nvidia_com_gpu",
                                                "unit": "integer"}, values or f"{gpus}x120")


def pending_gpu_pod(namespace: str, pod: str, gpus: int, values: str) -> list[dict[str, str]]:
    """An unschedulable pod requesting `gpus` (kube-state-metrics; `values` of the unschedulable gauge)."""
    uid = f"uid-{pod}"
    return [series("kube_pod_status_unschedulable", {**KSM, "namespace": namespace, "pod": pod, "uid": uid}, values),
            series("kube_pod_container_resource_requests",
                   {**KSM, "namespace": namespace, "pod": pod, "uid": uid, "container": "main", "node": "",
                    "resource": "nvidia_com_gpu", "unit": "integer"}, f"{gpus}x120")]


def fleet(severity: str, **labels: str) -> dict[str, str]:
    """An alert's expected labels: its own, its severity and the fleet label."""
    return {FLEET_ALERT_LABEL[0]: FLEET_ALERT_LABEL[1], "severity": severity, **labels}


def hw(severity: str, *, gpu: str = "0", node: str = "n1", model: str = H100, **extra: str) -> dict[str, str]:
    """Expected labels of a per-GPU hardware alert (aggregated to the GPU: node, gpu, UUID, modelName)."""
    return fleet(severity, node=node, gpu=gpu, UUID=f"GPU-{node}-{gpu}", modelName=model, **extra)


def alert(at: str, name: str, *expected: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": e} for e in expected]}


def routes_test(config: Path, labels: dict[str, str]) -> list[str]:
    """The receivers `amtool config routes test` sends an alert with `labels` to."""
    assert AMTOOL is not None
    proc = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={config}",
                           *[f"{k}={v}" for k, v in labels.items()]], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 or proc.stdout, proc.stdout + proc.stderr
    return sorted(proc.stdout.strip().split(","))
