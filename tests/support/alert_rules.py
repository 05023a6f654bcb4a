"""The promtool harness for the GPU alert and cost rules: DCGM series as dcgm-exporter emits them, expected alerts,
and the rule targets (prices, NIC bandwidth) the cases are written against."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.kubernetes.monitoring.rules import (
    GpuPrice,
    MetricSource,
    NicBandwidth,
    RuleGroup,
    RuleTargets,
    rule_file,
)

PROMTOOL = shutil.which("promtool")


needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian/Ubuntu: apt-get install prometheus; ./dev installs "
                             "it when it runs as root)")


H100 = "NVIDIA H100 80GB HBM3"


L4 = "NVIDIA L4"


TARGETS = RuleTargets(
    MetricSource.DCGM_EXPORTER,
    prices=(GpuPrice("h100-80gb", "NVIDIA H100.*", 10.0), GpuPrice("l4", "NVIDIA L4", 1.0)),
    network=(NicBandwidth("g6.xlarge", 2.5), NicBandwidth("p5.48xlarge", 3200.0)),
)


def _without_annotations(groups: list[RuleGroup]) -> dict[str, Any]:
    doc = rule_file(groups)
    for g in doc["groups"]:
        for r in g["rules"]:
            r.pop("annotations", None)
    return doc


def run_promtool(tmp_path: Path, groups: list[RuleGroup], tests: list[dict[str, Any]], *,
                 annotations: bool = False) -> None:
    """Write the rules and the test file, run `promtool test rules`, fail with its output."""
    assert PROMTOOL is not None
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule_file(groups) if annotations else _without_annotations(groups)))
    spec = tmp_path / "rules_test.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests}))
    proc = subprocess.run([PROMTOOL, "test", "rules", spec.name], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def gpu(metric: str, values: str, *, gpu_id: str = "0", node: str = "n1", model: str = H100,
        uuid: str | None = None, namespace: str | None = None, pod: str | None = None,
        **extra: str) -> dict[str, str]:
    labels = {"gpu": gpu_id, "UUID": uuid or f"GPU-{node}-{gpu_id}", "modelName": model, "node": node, **extra}
    if namespace:
        labels["namespace"] = namespace
    if pod:
        labels["pod"] = pod
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


PENDING = [
    {"series": 'kube_pod_status_unschedulable{job="kube-state-metrics",namespace="research",pod="p",uid="u"}',
     "values": "1x90"},
    {"series": 'kube_pod_container_resource_requests{job="kube-state-metrics",namespace="research",pod="p",uid="u",'
               'container="main",node="",resource="nvidia_com_gpu",unit="integer"}', "values": "8x90"},
]
"""A GPU pod the scheduler has no room for: utilisation alerts mean something only while work waits."""


def alert(at: str, name: str, *expected: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": e} for e in expected]}


def labels(severity: str, *, gpu_id: str = "0", node: str = "n1", model: str = H100, **extra: str) -> dict[str, str]:
    return {"gpu_fleet": "true", "severity": severity, "gpu": gpu_id, "UUID": f"GPU-{node}-{gpu_id}",
            "modelName": model, "node": node, **extra}
