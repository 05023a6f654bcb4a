"""On-call routing under Alertmanager's own `amtool config routes test`: only the fleet's alerts reach the GPU pager.

The alerts are labelled as the rules render them (`Rule.to_dict` adds the fleet label), and the platform's defaults
as kube-prometheus-stack ships them (`KubeControllerManagerDown` critical, `Watchdog` severity none, no fleet
label). Issue 19 §1; observability-review.md finding 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.errors import Issue
from components.config.observability import DEADMANS_SWITCH, NULL_RECEIVER, Alerts, Observability
from components.kubernetes.conventions import FLEET_ALERT_LABEL
from components.kubernetes.monitoring.alertmanager import alertmanager_config, routing
from components.kubernetes.monitoring.prometheus_stack import prometheus_stack_values
from components.kubernetes.monitoring.rules import MetricSource, RuleTargets, gpu_rule_groups, rule_file
from tests.support.plans import ROOT
from tests.support.promtool import AMTOOL, needs_amtool, routes_test

PROD_RECEIVERS = {
    "gpu-oncall": {"type": "pagerduty", "secret": "pagerduty-routing-key", "severities": ["critical"]},
    "ml-platform": {"type": "slack", "channel": "#ml-platform-alerts", "secret": "slack-alerts-webhook"},
}
"""Pulumi.prod.yaml's receivers."""
CREDENTIALS = {"pagerduty-routing-key": "0123456789abcdef0123456789abcdef",
               "slack-alerts-webhook": "https://hooks.slack.com/services/T/B/x",
               "heartbeat-url": "https://hc-ping.example.com/uuid"}
FLEET = {FLEET_ALERT_LABEL[0]: FLEET_ALERT_LABEL[1]}


def _config(tmp_path: Path, *, deadmans: bool = False) -> Path:
    raw: dict[str, Any] = {"receivers": PROD_RECEIVERS}
    if deadmans:
        raw["deadmans_switch"] = {"type": "webhook", "secret": "heartbeat-url"}
    obs = Observability.model_validate(raw)
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(obs.receivers, CREDENTIALS, obs.deadmans_switch)))
    return path


def _rendered_labels(alert: str) -> dict[str, str]:
    """The labels an alert rule carries as rendered for the cluster (severity and the fleet label)."""
    groups = gpu_rule_groups(Alerts(), RuleTargets(MetricSource.DCGM_EXPORTER, heartbeat=True))
    rule = next(r for g in rule_file(groups)["groups"] for r in g["rules"] if r.get("alert") == alert)
    return {"alertname": alert, "cluster": "us-west-2-prod-aws", **rule["labels"]}


@needs_amtool
def test_platform_criticals_do_not_page_the_gpu_oncall(tmp_path: Path) -> None:
    # EKS: the chart's controller-manager/scheduler alerts (no fleet label) go nowhere, not to PagerDuty.
    config = _config(tmp_path)
    for name in ("KubeControllerManagerDown", "KubeSchedulerDown", "KubeProxyDown", "etcdMembersDown"):
        assert routes_test(config, {"alertname": name, "severity": "critical", "cluster": "c"}) == [NULL_RECEIVER]


@needs_amtool
def test_fleet_alerts_reach_the_receivers_of_their_severity(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert routes_test(config, _rendered_labels("GpuXidError")) == ["gpu-oncall", "ml-platform"]
    assert routes_test(config, _rendered_labels("GpuXidApplicationError")) == ["ml-platform"]
    assert routes_test(config, _rendered_labels("GpuIdle")) == ["ml-platform"]
    # The label is what routes: the same alert without it is the platform's.
    unlabelled = {k: v for k, v in _rendered_labels("GpuXidError").items() if k != FLEET_ALERT_LABEL[0]}
    assert routes_test(config, unlabelled) == [NULL_RECEIVER]


@needs_amtool
def test_application_xids_reach_the_owning_teams_receiver(tmp_path: Path) -> None:
    obs = Observability.model_validate({"receivers": {
        **PROD_RECEIVERS,
        "research-team": {"type": "slack", "channel": "#research", "secret": "research-webhook",
                          "severities": ["warning"], "namespaces": ["research"]}}})
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(obs.receivers, {**CREDENTIALS, "research-webhook": "https://hooks.slack.com/services/T/C/y"})))
    app_xid = {**_rendered_labels("GpuXidApplicationError"), "namespace": "research", "xid": "13"}
    assert routes_test(path, app_xid) == ["ml-platform", "research-team"]
    assert routes_test(path, {**app_xid, "namespace": "training"}) == ["ml-platform"]
    # A hardware XID has no namespace: the team receiver is not paged for the node.
    assert routes_test(path, _rendered_labels("GpuXidError")) == ["gpu-oncall", "ml-platform"]


@needs_amtool
def test_watchdog_goes_to_the_deadmans_switch_only(tmp_path: Path) -> None:
    heartbeat = {"alertname": "Watchdog", "severity": "none", "cluster": "c"}
    assert routes_test(_config(tmp_path, deadmans=True), heartbeat) == [DEADMANS_SWITCH]
    # gpu-fleet's own Watchdog (GKE) carries the fleet label: it still goes to the switch alone.
    assert routes_test(_config(tmp_path, deadmans=True), _rendered_labels("Watchdog")) == [DEADMANS_SWITCH]
    assert routes_test(_config(tmp_path), heartbeat) == [NULL_RECEIVER]


@needs_amtool
def test_amtool_checks_the_inhibit_rules_and_receivers(tmp_path: Path) -> None:
    import subprocess

    assert AMTOOL is not None
    proc = subprocess.run([AMTOOL, "check-config", str(_config(tmp_path, deadmans=True))], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " - 4 inhibit rules" in proc.stdout and " - 4 receivers" in proc.stdout


def test_inhibit_rules_mute_warnings_while_the_same_alert_is_critical() -> None:
    rules = routing({}).inhibit_rules
    critical = next(r for r in rules if r.get("source_matchers") == ["severity=critical"])
    assert critical["target_matchers"] == ["severity=~warning|info"]
    assert {"alertname", "cluster", "namespace"} == set(critical["equal"])
    assert {"target_matchers": ["alertname=InfoInhibitor"]} in rules


def test_routing_model_has_no_credentials() -> None:
    """OpenShift's AlertmanagerConfig is built from the same model: names and matchers, never a secret."""
    obs = Observability.model_validate({"receivers": PROD_RECEIVERS,
                                        "deadmans_switch": {"type": "webhook", "secret": "heartbeat-url"}})
    model = routing(obs.receivers, obs.deadmans_switch)
    text = yaml.safe_dump([model.routes, model.receivers, model.inhibit_rules])
    assert not any(v in text for v in CREDENTIALS.values())
    assert model.receivers == [NULL_RECEIVER, DEADMANS_SWITCH, "gpu-oncall", "ml-platform"]


def test_eks_turns_off_what_a_managed_control_plane_cannot_serve() -> None:
    from tests.support.k8s_schemas import unknown_helm_keys

    values = prometheus_stack_values(cluster="c", storage_class="gp3", existing_alertmanager_secret=True)
    for job in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[job] == {"enabled": False}
    rules = values["defaultRules"]["rules"]
    assert not any(rules[k] for k in ("etcd", "kubeControllerManager", "kubeSchedulerAlerting",
                                      "kubeSchedulerRecording", "kubeProxy"))
    # Every key is the chart's (the kube-state-metrics subchart's own key aside, as
    # test_every_kube_prometheus_stack_value_key_exists says).
    assert [k for k in unknown_helm_keys("kube-prometheus-stack", values)
            if k != "kube-state-metrics.metricLabelsAllowlist"] == []


def test_deadmans_switch_is_a_secret_backed_receiver() -> None:
    from components.config.model import Fleet
    from components.config.observability_rules import check_observability

    def issues(raw: dict[str, Any]) -> list[Issue]:
        fleet = Fleet.model_construct(observability=Observability.model_validate(raw))
        return list(check_observability(fleet))

    found = issues({"deadmans_switch": {"type": "webhook"}})
    assert [i.path for i in found] == ["observability.deadmans_switch.secret"]
    found = issues({"receivers": {"a": {"type": "webhook", "secret": "k"}},
                    "deadmans_switch": {"type": "webhook", "secret": "k"}})
    assert [i.path for i in found] == ["observability.deadmans_switch.secret"]
    with pytest.raises(ValueError, match="plain text"):
        Observability.model_validate({"deadmans_switch": {"type": "webhook", "url": "https://x"}})


# --- through the real program (offline plan) ------------------------------------------------------------------------

def _with_deadmans_switch(doc: dict[str, Any]) -> dict[str, Any]:
    from tests.support.monitoring import SECURE, _with_receivers

    doc = _with_receivers(doc)
    doc["config"]["gpu-fleet:observability"] = {**doc["config"]["gpu-fleet:observability"],
                                                "deadmans_switch": {"type": "webhook", "secret": "heartbeat-url"}}
    doc["config"]["gpu-fleet:heartbeat-url"] = SECURE
    return doc


def test_the_plan_warns_without_a_deadmans_switch_and_not_with_one(dev_doc: dict[str, Any], plan_doc: Any,
                                                                   dev_plan: Any) -> None:
    from gpufleet import report

    assert any("no dead man's switch on us-central1-dev-1, us-west-2-dev-aws" in w
               for w in report.monitoring_warnings(report.monitoring(dev_plan.resources)))
    plan = plan_doc(_with_deadmans_switch(dev_doc), "dev")
    stacks = report.monitoring(plan.resources)
    assert stacks and all(m["heartbeat"] for m in stacks if m["alerts"])
    assert not any("dead man's switch" in w for w in report.monitoring_warnings(stacks))
    # The heartbeat's webhook URL is a secret like every credential: never in the plan in clear.
    secrets = [r for r in plan.resources if r.type == "kubernetes:core/v1:Secret" and "alertmanager" in r.name]
    assert len(secrets) == 2 and all(r.inputs["stringData"] == "[secret]" for r in secrets)


def test_eks_plans_the_chart_without_control_plane_jobs(prod_plan: Any) -> None:
    (release,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.inputs.get("chart") == "kube-prometheus-stack"]
    values = release.inputs["values"]
    assert all(values[job]["enabled"] is False for job in ("kubeControllerManager", "kubeScheduler", "kubeEtcd",
                                                            "kubeProxy"))


def test_every_alert_the_plans_emit_has_a_runbook(dev_plan: Any, prod_plan: Any) -> None:
    from gpufleet import report

    root = ROOT
    alerts = {a for plan in (dev_plan, prod_plan) for m in report.monitoring(plan.resources) for a in m["alerts"]}
    assert {"GpuXidError", "GpuMetricsMissing", "Watchdog", "GpuPodsPending", "GpuScaleUpFailed"} <= alerts
    missing = sorted(a for a in alerts if not (root / "docs" / "runbooks" / f"{a}.md").is_file())
    assert not missing, f"alerts without a runbook: {missing}"


def test_bad_oncall_keys_are_one_line_with_path_and_hint() -> None:
    from tests.support.config_builders import values
    from tests.support.observability_config import one

    raw = {**values(), "observability": {"alerts": {"runbook_base_url": "http://wiki example/runbooks"}}}
    assert "http://wiki example/runbooks" in one(raw, "observability.alerts.runbook_base_url")
    raw["observability"] = {"deadmans_switch": {"type": "pagerduty"}}
    assert "pulumi config set --secret" in one(raw, "observability.deadmans_switch.secret")
