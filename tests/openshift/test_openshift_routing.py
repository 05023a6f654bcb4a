"""OpenShift's AlertmanagerConfig is built from the shared routing model (`alertmanager.routing`, issue 19 §1).

The plan's AlertmanagerConfig passes the CRD under tests/reference, is merged into the cluster's own
`alertmanager-main` the way prometheus-operator does (tests/support/alertmanager_config.py) and is routed by
amtool: team receivers see their namespace's application XIDs only, platform alerts stay with the cluster's
receivers, gpu-fleet's Watchdog reaches the dead man's switch and the platform's does not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.observability import Receiver
from components.kubernetes.monitoring.alertmanager import routing
from components.openshift.monitoring import alertmanager_config
from gpufleet.report import Plan
from tests.support.alertmanager_config import merge
from tests.support.openshift_docs import _main_config, checked, kind, openshift_only

AMTOOL = shutil.which("amtool")
KEY = "gpu-fleet-alerting/gpu-fleet"
SLACK = "https://hooks.slack.com/services/T000/B000/XXXX"
VALUES = {"pagerduty-routing-key": "0123456789abcdef0123456789abcdef", "slack-alerts-webhook": SLACK,
          "demo-slack": SLACK, "other-slack": SLACK, "heartbeat-key": "fedcba9876543210fedcba9876543210"}


def _doc(prod_doc: dict[str, Any]) -> dict[str, Any]:
    doc = openshift_only(prod_doc)
    for key in ("demo-slack", "other-slack", "heartbeat-key"):  # the prod placeholder ciphertext, as a secret
        doc["config"][f"gpu-fleet:{key}"] = dict(doc["config"]["gpu-fleet:slack-alerts-webhook"])
    obs = doc["config"]["gpu-fleet:observability"]
    obs["receivers"]["demo-team"] = {"type": "slack", "channel": "#demo", "secret": "demo-slack",
                                     "severities": ["critical", "warning"], "namespaces": ["private-ai-demo"]}
    obs["receivers"]["other-team"] = {"type": "slack", "channel": "#other", "secret": "other-slack",
                                      "severities": ["critical", "warning"], "namespaces": ["other-ns"]}
    obs["deadmans_switch"] = {"type": "pagerduty", "secret": "heartbeat-key"}
    return doc


@pytest.fixture
def plan(plan_doc: Any, prod_doc: dict[str, Any]) -> Plan:
    return plan_doc(_doc(prod_doc), "prod")


def _rule_labels(plan: Plan, alert: str, workload_ns: str) -> dict[str, str]:
    """What the platform Prometheus sends: the rule's labels over the series', `$labels.namespace` expanded."""
    (rule,) = [m for m in kind(plan, "PrometheusRule") if m["metadata"]["namespace"] == "nvidia-gpu-operator"]
    found = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == alert)
    labels = {k: v.replace("{{ $labels.namespace }}", workload_ns) for k, v in found["labels"].items()}
    return {"alertname": alert, **labels}


def _effective(plan: Plan, tmp_path: Path) -> Path:
    configs = [checked(m) for m in kind(plan, "AlertmanagerConfig")]
    secrets = {(m["metadata"]["namespace"], m["metadata"]["name"]) for m in kind(plan, "Secret")}

    def lookup(ns: str, name: str, key: str) -> str:
        assert (ns, name) in secrets, (ns, name)
        return VALUES[key]

    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(merge(_main_config(), configs, lookup), sort_keys=False))
    assert AMTOOL is not None
    check = subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    return path


def _routes(path: Path, labels: dict[str, str]) -> list[str]:
    assert AMTOOL is not None
    run = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={path}",
                          *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr + run.stdout
    return run.stdout.strip().split(",")


def test_the_config_is_the_shared_model_with_the_workload_namespace() -> None:
    team = Receiver.model_validate({"type": "slack", "secret": "s", "severities": ["critical"],
                                    "namespaces": ["b-ns", "a-ns"]})
    switch = Receiver.model_validate({"type": "pagerduty", "secret": "k"})
    model = routing({"team": team}, switch)
    spec = alertmanager_config({"team": team}, switch)["spec"]
    assert [r["name"] for r in spec["receivers"]] == model.receivers
    assert [r["receiver"] for r in spec["route"]["routes"]] == [r["receiver"] for r in model.routes]
    assert {"name": "exported_namespace", "matchType": "=~", "value": "a-ns|b-ns"} in spec["route"]["routes"][-1][
        "matchers"]
    assert not [m for r in spec["route"]["routes"] for m in r["matchers"] if m["name"] == "namespace"]
    assert len(spec["inhibitRules"]) == len(model.inhibit_rules)
    assert spec["inhibitRules"][0]["equal"] == ["alertname", "cluster", "exported_namespace"]
    assert spec["receivers"][1]["pagerdutyConfigs"] == [
        {"routingKey": {"name": "gpu-fleet-receivers", "key": "k"}, "sendResolved": True}]


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian: apt-get install prometheus-alertmanager)")
def test_team_receivers_get_their_namespaces_application_xids_only(plan: Plan, tmp_path: Path) -> None:
    path = _effective(plan, tmp_path)
    demo, other = f"{KEY}/demo-team", f"{KEY}/other-team"
    mine = _routes(path, _rule_labels(plan, "GpuXidApplicationError", "private-ai-demo"))
    assert demo in mine and other not in mine
    theirs = _routes(path, _rule_labels(plan, "GpuXidApplicationError", "other-ns"))
    assert other in theirs and demo not in theirs
    # A platform alert in the team's own namespace is still the cluster's, not the team's or gpu-fleet's.
    assert _routes(path, {"alertname": "KubePodCrashLooping", "severity": "warning",
                          "namespace": "private-ai-demo"}) == ["Default"]
    assert _routes(path, {"alertname": "etcdMembersDown", "severity": "critical",
                          "namespace": "openshift-etcd"}) == ["Critical"]


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian: apt-get install prometheus-alertmanager)")
def test_gpu_fleets_watchdog_reaches_the_switch_and_the_platforms_stays_with_the_cluster(
        plan: Plan, tmp_path: Path) -> None:
    path = _effective(plan, tmp_path)
    ours = _rule_labels(plan, "Watchdog", "")
    assert ours["namespace"] == "gpu-fleet-alerting" and ours["gpu_fleet"] == "true"
    assert _routes(path, ours)[0] == f"{KEY}/gpufleet-deadmans-switch"
    assert _routes(path, {"alertname": "Watchdog", "severity": "none", "namespace": "openshift-monitoring"}) == \
        ["Watchdog"]


def test_inhibit_rules_mute_only_gpu_fleets_alerts_of_the_same_workload(plan: Plan, tmp_path: Path) -> None:
    (config,) = kind(plan, "AlertmanagerConfig")
    merged = merge(_main_config(), [checked(config)], lambda ns, name, key: VALUES[key])
    ours = merged["inhibit_rules"][len(_main_config()["inhibit_rules"]):]
    assert ours and all('namespace="gpu-fleet-alerting"' in r["source_matchers"] for r in ours)
    assert ours[0]["equal"] == ["alertname", "cluster", "exported_namespace"]
