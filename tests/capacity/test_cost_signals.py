"""Issue 19 sections 4 and 7: cost that counts every GPU paid for, MIG and shared GPUs, budgets that reach on-call.

Each alerting case runs the rules gpu-fleet emits under `promtool test rules`, over series shaped as the exporters
emit them: dcgm-exporter's label set (NVIDIA/dcgm-exporter @d5e5f51 `internal/pkg/rendermetrics/render_metrics.go`:
`gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `GPU_I_PROFILE`/`GPU_I_ID` on MIG instances, `hostname`; the
pod mapper's `namespace`/`pod`/`container` while a pod holds the GPU; the scrape's `node`), GKE managed DCGM's
(`Hostname`, as Google's own dashboard filters), kube-state-metrics' (`node`, `resource`, `unit`, `label_*`).
The budget and dashboard objects are checked in offline plans of the real program.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.budgets import Budgets
from components.config.model import PriceOverride
from components.config.observability import Alerts
from components.kubernetes.monitoring import dashboards
from components.kubernetes.monitoring.budget_guard import EVALUATION_INTERVAL, fleet_guard, rule_group, team_guard
from components.kubernetes.monitoring.prometheus_stack import KSM_NODE_LABELS, prometheus_stack_values
from components.kubernetes.monitoring.rules import (
    GpuPrice,
    MetricSource,
    RuleGroup,
    RuleTargets,
    gpu_rule_groups,
    rule_file,
)
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, price_book
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from tests.support.config_builders import errors, values
from tests.support.plans import ROOT, budgets_of
from tests.support.small_stacks import eks_only

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-40GB"
L4 = "NVIDIA L4"
FLEET = {"gpu_fleet": "true"}


def run_promtool(tmp_path: Path, groups: list[RuleGroup], tests: list[dict[str, Any]], *,
                 evaluation_interval: str = "1m") -> None:
    """Write the rules (without annotations) and the tests, run `promtool test rules`, fail with its output.

    promtool evaluates every group at each `evaluation_interval` step, whatever the group's own `interval`
    (prometheus/prometheus `cmd/promtool/unittest.go`: `for ts := mint; ...; ts = ts.Add(evalInterval)` calls
    `g.Eval` on each group).
    """
    assert PROMTOOL is not None
    doc = rule_file(groups)
    for g in doc["groups"]:
        for r in g["rules"]:
            r.pop("annotations", None)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(doc))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"],
                                                        "evaluation_interval": evaluation_interval, "tests": tests}))
    proc = subprocess.run([PROMTOOL, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


def exporter_labels(node: str, gpu: int, model: str, *, pod: tuple[str, str] | None = None,
                    mig: tuple[str, str] | None = None) -> dict[str, str]:
    """dcgm-exporter 4.8.3's labels for one GPU (or MIG instance `mig` = (profile, id)), as the ServiceMonitor
    keeps them (the target's namespace dropped, `node` from the pod's node)."""
    out = {"gpu": str(gpu), "UUID": f"GPU-{node}-{gpu}", "pci_bus_id": f"00000000:{gpu:02X}:00.0",
           "device": f"nvidia{gpu}", "modelName": model, "hostname": node}
    if mig:
        out |= {"GPU_I_PROFILE": mig[0], "GPU_I_ID": mig[1]}
    out |= {"container": "main", "namespace": pod[0], "pod": pod[1]} if pod else {}
    return out | {"instance": f"10.0.0.{gpu}:9400", "job": "dcgm-exporter", "node": node}


def managed_labels(node: str, gpu: int, model: str, namespace: str | None) -> dict[str, str]:
    """GKE managed DCGM's labels for one GPU (`Hostname`, the workload's `namespace`/`pod`/`container`)."""
    out = {"gpu": str(gpu), "UUID": f"GPU-{node}-{gpu}", "modelName": model, "Hostname": node}
    if namespace:
        out |= {"namespace": namespace, "pod": f"{namespace}-job-{node}", "container": "main"}
    return out | {"node": node}


def alert(at: str, name: str, *expected: dict[str, str]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": e} for e in expected]}


# --- 1. the fleet guard and tiles count every GPU paid for ---------------------------------------------------


def _prod_prices() -> tuple[GpuPrice, ...]:
    """us-central1-ml-1's prices as the prod plan computes them (catalog plus prod's `prices` overrides)."""
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    book = price_book([PriceOverride.model_validate(p) for p in doc["config"].get("gpu-fleet:prices", [])])
    pools = [PoolPricing((m,), "us-central1", False) for m in ("a3-megagpu-8g", "a2-megagpu-16g", "g2-standard-24")]
    return gpu_prices(pools, book)


def _cost_records(prices: tuple[GpuPrice, ...]) -> list[RuleGroup]:
    """GKE managed DCGM's cost recording rules alone, all a budget guard reads: the rules a cluster keeps with its
    alerts switched off (`gpu_rule_groups`). Over a day of 128 GPUs promtool would spend most of its time on the
    idle and telemetry alerts, which no test here asks about."""
    groups = gpu_rule_groups(Alerts(enabled=False), RuleTargets(MetricSource.GKE_MANAGED, prices))
    assert [g.name for g in groups] == ["gpufleet-cost"], [g.name for g in groups]
    return groups


GUARD_EVALUATION = EVALUATION_INTERVAL
"""The guard tests' evaluation step: the guard group's own interval (5m), as a Prometheus runs it. Each guard
evaluation sums a 24-hour subquery at 1-minute steps, so stepping every minute cost promtool five times the work
for the same verdicts: over a day of steady series the cost records hold the same value at every step, and the
subquery's 1-minute steps each find the latest record within the 5-minute lookback."""


def _ml1_day(training_nodes: int = 9) -> list[dict[str, str]]:
    """The review's day on us-central1-ml-1: 72 H100 held by training (9 nodes of 8, or `training_nodes`), 32 A100
    by research, 24 H100 held by no pod (the h100-prod floor and a drained reservation), each for 25 hours at
    5-minute samples."""
    out = []
    for n in range(9 - training_nodes, 12):  # 12 nodes x 8 H100 = 96; nodes 9-11 idle
        team = "training" if n < 9 else None
        out += [series("DCGM_FI_DEV_GPU_UTIL", managed_labels(f"gke-h100-{n}", g, H100, team), "60x300")
                for g in range(8)]
    for n in range(2):  # 2 x a2-megagpu-16g
        out += [series("DCGM_FI_DEV_GPU_UTIL", managed_labels(f"gke-a100-{n}", g, A100, "research"), "60x300")
                for g in range(16)]
    return out


@needs_promtool
def test_the_fleet_guard_counts_gpus_no_pod_holds(tmp_path: Path) -> None:
    # The review's case: 22,766 USD held, 29,463 USD paid; the guard at 70% of GKE's 40,000 (28,000) must fire.
    prices = _prod_prices()
    h100 = next(p for p in prices if "h100" in p.gpu_model).usd_per_hour
    a100 = next(p for p in prices if "a100" in p.gpu_model).usd_per_hour
    paid, held = 24 * (96 * h100 + 32 * a100), 24 * (72 * h100 + 32 * a100)
    assert held < 28_000 < paid, (held, paid)
    guard = fleet_guard(40_000, [0.7, 0.9], scope="gke")
    groups = [*_cost_records(prices), rule_group(guard)]
    run_promtool(tmp_path, groups, [{
        "interval": "5m", "input_series": _ml1_day(),
        "alert_rule_test": [alert("24h", "GpuDailyBudgetGuard", {
            "severity": "warning", "threshold": "70%", "scope": "gke", **FLEET})],
        "promql_expr_test": [
            # What was paid is past 28,000 USD; what pods held alone (the old guard's sum) is not.
            {"expr": f"{guard[0].expr.split(' > ')[0]} > bool 28000", "eval_time": "24h",
             "exp_samples": [{"labels": "{}", "value": 1}]},
            {"expr": "sum(sum_over_time(namespace:gpufleet_gpu_cost_usd_per_hour:sum[24h:1m])) / 60 < bool 28000",
             "eval_time": "24h", "exp_samples": [{"labels": "{}", "value": 1}]},
            # The dashboard's "GPU cost now" tile: every GPU, held or not (prices as the rules write them).
            {"expr": _panel("GPU cost now"), "eval_time": "24h",
             "exp_samples": [{"labels": "{}", "value": 96 * float(f"{h100:.6g}") + 32 * float(f"{a100:.6g}")}]},
        ],
    }], evaluation_interval=GUARD_EVALUATION)


@needs_promtool
def test_a_team_guard_still_sees_only_its_namespace(tmp_path: Path) -> None:
    prices = _prod_prices()
    a100 = next(p for p in prices if "a100" in p.gpu_model).usd_per_hour
    daily = 24 * 32 * a100
    groups = [*_cost_records(prices), rule_group(team_guard("research", daily / 0.79, [0.8, 1.0]))]
    # research spent 79% of its budget: the idle H100 (no namespace) and training's are not its spend (one training
    # node shows another namespace as well as nine: promtool's time goes by series).
    run_promtool(tmp_path, groups, [{"interval": "5m", "input_series": _ml1_day(training_nodes=1),
                                     "alert_rule_test": [alert("24h", "GpuTeamDailyBudgetGuard")]}],
                 evaluation_interval=GUARD_EVALUATION)


def _panel(title: str, labels: dashboards.MetricLabels = dashboards.DCGM_EXPORTER) -> str:
    return next(q.expr for s in dashboards.sections(labels) for p in s.panels if p.title == title
                for q in p.queries)


# --- 2. the cost spike: from zero, and not after a scrape gap ------------------------------------------------

TEN = RuleTargets(MetricSource.DCGM_EXPORTER, prices=(GpuPrice("h100-80gb", "NVIDIA H100.*", 10.0),
                                                       GpuPrice("a100-40gb", "NVIDIA A100.*", 3.48)))


@needs_promtool
def test_a_pool_scaling_up_from_zero_is_a_spike(tmp_path: Path) -> None:
    # research-1 had no GPU at all (no series), then 32 A100 (111 USD/h) at minute 60: twice the 25 USD/h floor.
    a100 = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels(f"ip-10-1-0-{n}", g, A100, pod=("research", f"r-{n}")),
                   "_x60 80x60") for n in range(4) for g in range(8)]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": a100,
        "alert_rule_test": [alert("59m", "GpuCostSpike"), alert("61m", "GpuCostSpike", {"severity": "warning",
                                                                                         **FLEET})],
    }])


@needs_promtool
def test_a_small_start_from_zero_is_not_a_spike(tmp_path: Path) -> None:
    # One A100 (3.48 USD/h) appearing in an empty cluster stays under the floor's doubling.
    one = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-10-1-0-1", 0, A100, pod=("research", "r")),
                  "_x60 80x60")]
    floor = gpu_rule_groups(Alerts.model_validate({"cost_spike": {"min_usd_per_hour": 1}}), TEN)
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": one, "alert_rule_test": [alert("61m", "GpuCostSpike")]}])
    # The floor is config: at 1 USD/h the same start is a spike.
    run_promtool(tmp_path, floor, [{"interval": "1m", "input_series": one,
                                    "alert_rule_test": [alert("61m", "GpuCostSpike", {"severity": "warning",
                                                                                      **FLEET})]}])


@needs_promtool
def test_an_exporter_gap_an_hour_ago_is_not_a_spike(tmp_path: Path) -> None:
    # Two nodes of 8 H100 for three hours; node b's exporter went stale for two scrapes at minute 30.
    steady = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-a", g, H100, pod=("training", "t-a")), "70x180")
              for g in range(8)]
    gapped = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-b", g, H100, pod=("training", "t-b")),
                     "70x29 stale stale 70x150") for g in range(8)]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": steady + gapped,
        "alert_rule_test": [alert(t, "GpuCostSpike") for t in ("90m", "91m", "92m")],
    }])


@needs_promtool
def test_a_doubling_against_the_hour_before_still_fires_at_the_configured_factor(tmp_path: Path) -> None:
    # 8 H100 (80 USD/h) for two hours, then 16: twice the average of the hour before.
    base = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-a", g, H100, pod=("training", "t")), "70x240")
            for g in range(8)]
    more = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-b", g, H100, pod=("training", "u")), "_x120 70x120")
            for g in range(8)]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": base + more,
        "alert_rule_test": [alert("119m", "GpuCostSpike"),
                            alert("121m", "GpuCostSpike", {"severity": "warning", **FLEET})],
    }])
    # Read as "+200%" (factor 3), the doubling is not a spike.
    strict = gpu_rule_groups(Alerts.model_validate({"cost_spike": {"factor": 3}}), TEN)
    run_promtool(tmp_path, strict, [{"interval": "1m", "input_series": base + more,
                                     "alert_rule_test": [alert("121m", "GpuCostSpike")]}])


# --- 3. MIG and time-shared GPUs -----------------------------------------------------------------------------


def _mig_gpu(engine: dict[str, str]) -> list[dict[str, str]]:
    """One H100 cut into 1g.10gb instances (ids `engine`'s keys): DCGM leaves device utilisation blank on MIG
    (dcgm-exporter#430, so no series), reports memory and graphics-engine activity (a ratio) per instance."""
    out = []
    for gi, activity in engine.items():
        labels = exporter_labels("ip-mig", 0, H100, pod=("inference", f"vllm-{gi}"), mig=("1g.10gb", gi))
        out += [series("DCGM_FI_DEV_FB_USED", labels, "9000x60"),
                series("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, activity)]
    return out


def _idle_labels(node: str, gpu: int, model: str, **extra: str) -> dict[str, str]:
    return {"severity": "info", "UUID": f"GPU-{node}-{gpu}", "gpu": str(gpu), "modelName": model, "node": node,
            "hostname": node, **extra, **FLEET}


@needs_promtool
def test_idle_mig_instances_are_judged_by_their_graphics_engine(tmp_path: Path) -> None:
    # Instances 7 and 8 are busy (60% engine activity), instance 9 is idle: only 9 is paid for and unused.
    mig = _mig_gpu({"7": "0.6x60", "8": "0.6x60", "9": "0x60"})
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": mig,
        "alert_rule_test": [alert("31m", "GpuIdle", _idle_labels("ip-mig", 0, H100, GPU_I_ID="9",
                                                                 GPU_I_PROFILE="1g.10gb"))],
        # The MIG GPU is one GPU, priced once, though no utilisation series exists for it.
        "promql_expr_test": [{"expr": "gpu_model:gpufleet_gpu_cost_usd_per_hour:sum", "eval_time": "10m",
                              "exp_samples": [{"labels": 'gpu_model:gpufleet_gpu_cost_usd_per_hour:sum'
                                                         '{gpu_fleet="true",gpu_model="h100-80gb"}', "value": 10}]}],
    }])


@needs_promtool
def test_a_time_shared_gpu_is_one_idle_alert(tmp_path: Path) -> None:
    # One L4 time-shared by three pods of two teams: the device's series repeats per pod, one GPU sits idle.
    shared = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-l4", 0, L4, pod=(ns, pod)), "0x60")
              for ns, pod in (("research", "a"), ("research", "b"), ("inference", "c"))]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": shared,
        "alert_rule_test": [alert("31m", "GpuIdle", _idle_labels("ip-l4", 0, L4))],
    }])


@needs_promtool
def test_dashboard_counts_gpus_not_series(tmp_path: Path) -> None:
    shared = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-l4", 0, L4, pod=("research", p)), "0x60")
              for p in "abc"]
    mig = _mig_gpu({"7": "0x60", "8": "0x60"})
    busy_mig = [{**s, "series": s["series"].replace("ip-mig", "ip-mig2")} for s in _mig_gpu({"7": "0.5x60"})]
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": shared + mig + busy_mig,
        "promql_expr_test": [
            {"expr": _panel("GPUs reporting"), "eval_time": "40m", "exp_samples": [{"labels": "{}", "value": 3}]},
            # The shared L4 and the MIG GPU whose instances are all idle; not the one with a busy instance.
            {"expr": _panel("Idle GPUs (under 5% for 30 minutes)"), "eval_time": "40m",
             "exp_samples": [{"labels": "{}", "value": 2}]},
        ],
    }])


# --- 4 and 5. budgets per cloud, notifications that reach on-call, an anomaly monitor any account takes -------


def _of_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def test_aws_alerts_at_80_and_100_and_gcp_at_70_and_90(prod_plan: Plan) -> None:
    (aws_budget,) = _of_type(prod_plan, "aws:budgets/budget:Budget")
    assert [(n["notificationType"], n["threshold"]) for n in aws_budget.inputs["notifications"]] == [
        ("ACTUAL", 80), ("ACTUAL", 100)]
    (gcp_budget,) = _of_type(prod_plan, "gcp:billing/budget:Budget")
    assert sorted({float(r["thresholdPercent"]) for r in gcp_budget.inputs["thresholdRules"]}) == [0.7, 0.9]
    guards = {r.name for r in _of_type(prod_plan, "gcp:monitoring/alertPolicy:AlertPolicy")}
    assert {"budget-gcp-guard-fleet-70", "budget-gcp-guard-fleet-90"} <= guards


def test_cloud_thresholds_fall_back_to_the_shared_list() -> None:
    raw = values()
    assert Budgets.model_validate(raw["budgets"] | {"aws": {"share": 0.15}}).cloud_thresholds("aws") == [0.7, 0.9]
    raw["budgets"]["gcp"]["thresholds"] = [0.9, 0.5]
    assert [e for e in errors(raw) if e.startswith("budgets.gcp.thresholds: thresholds out of order")]


def test_the_gke_guard_pages_the_on_call_receiver(prod_plan: Plan) -> None:
    channels = {r.name: r.inputs for r in _of_type(prod_plan, "gcp:monitoring/notificationChannel:NotificationChannel")}
    pager = channels["budget-gcp-oncall-gpu-oncall"]
    assert pager["type"] == "pagerduty" and "labels" not in pager
    # The integration key is the receiver's secret: a sensitive label, planned masked, never a plain label.
    assert pager["sensitiveLabels"] == "[secret]"
    guards = [p for p in _of_type(prod_plan, "gcp:monitoring/alertPolicy:AlertPolicy") if "-capacity" not in p.urn]
    assert guards
    for policy in guards:  # the budget guards (the GKE capacity signals route by severity: test_gke_capacity_signals)
        assert len(policy.inputs["notificationChannels"]) == 3  # two e-mail channels and the pager


def test_a_slack_receiver_is_refused_for_the_gke_guard() -> None:
    raw = values()
    raw["observability"] = {"receivers": {"chat": {"type": "slack", "secret": "slack-hook"}}}
    raw["budgets"]["gcp"]["receivers"] = ["chat", "nobody"]
    found = errors(raw)
    assert [e for e in found if e.startswith("budgets.gcp.receivers[0]: a slack receiver cannot be a Cloud "
                                             "Monitoring channel") and "pagerduty or email" in e], found
    assert [e for e in found if e.startswith("budgets.gcp.receivers[1]: not a receiver") and "known: chat" in e]


def test_a_slack_channel_name_is_refused_with_a_hint() -> None:
    raw = values()
    raw["budgets"]["aws"]["slack"] = {"workspace_id": "T0ACME0001", "channel_id": "#ml-platform"}
    found = [e for e in errors(raw) if e.startswith("budgets.aws.slack.channel_id: String should match")]
    assert found and "C07EZ1ABC23" in found[0] and "not its name" in found[0], errors(raw)


def test_aws_budget_and_anomaly_alerts_post_to_slack(prod_plan: Plan) -> None:
    topics = {r.name: r for r in _of_type(prod_plan, "aws:sns/topic:Topic")}
    assert set(topics) == {"budget-aws-alerts", "budget-aws-anomalies"}
    policies = {r.name: r.inputs["policy"] for r in _of_type(prod_plan, "aws:sns/topicPolicy:TopicPolicy")}
    assert '"Service": "budgets.amazonaws.com"' in policies["budget-aws-alerts-policy"]
    assert '"aws:SourceAccount"' in policies["budget-aws-alerts-policy"]
    (aws_budget,) = _of_type(prod_plan, "aws:budgets/budget:Budget")
    assert all(len(n["subscriberSnsTopicArns"]) == 1 for n in aws_budget.inputs["notifications"])
    (chat,) = _of_type(prod_plan, "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    assert (chat.inputs["slackTeamId"], chat.inputs["slackChannelId"]) == ("T0ACME0001", "C0MLPLATFORM")
    assert len(chat.inputs["snsTopicArns"]) == 2
    # Anyone in the channel is capped at read-only (the service's default guardrail is AdministratorAccess).
    assert chat.inputs["guardrailPolicyArns"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    (role,) = [r for r in _of_type(prod_plan, "aws:iam/role:Role") if r.name == "budget-aws-chat"]
    assert '"chatbot.amazonaws.com"' in role.inputs["assumeRolePolicy"]


def test_without_slack_budgets_mail_directly(dev_plan: Plan) -> None:
    assert not _of_type(dev_plan, "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    budgets = _of_type(dev_plan, "aws:budgets/budget:Budget")
    assert all("subscriberSnsTopicArns" not in n for b in budgets for n in b.inputs["notifications"])
    assert {r.name for r in _of_type(dev_plan, "aws:sns/topic:Topic")} == {"budget-aws-anomalies"}


def test_the_anomaly_monitor_is_one_any_account_can_add(prod_plan: Plan, prod_doc: dict[str, Any],
                                                        plan_doc: Any) -> None:
    (monitor,) = _of_type(prod_plan, "aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    # Not a second AWS-services monitor (an account holds one): a customer-managed one on the GPU nodes' tag.
    assert monitor.inputs["monitorType"] == "CUSTOM" and "monitorDimension" not in monitor.inputs
    spec = json.loads(monitor.inputs["monitorSpecification"])
    eks = [c["name"] for r in prod_doc["config"]["gpu-fleet:eks"]["regions"] for c in r["clusters"]]
    assert spec == {"Tags": {"Key": "gpu-fleet/cluster", "MatchOptions": ["EQUALS"], "Values": sorted(set(eks))}}
    # An existing monitor is reused, none created.
    arn = "arn:aws:ce::123456789012:anomalymonitor/0b6c4f4e-1d2a-4a51-9d1e-3f6f1a2b3c4d"
    budgets_of(prod_doc)["aws"]["anomaly_monitor_arn"] = arn
    plan = plan_doc(eks_only(prod_doc), "prod")  # prod's AWS side alone: the monitor and its subscription are AWS's
    assert not _of_type(plan, "aws:costexplorer/anomalyMonitor:AnomalyMonitor")
    (sub,) = _of_type(plan, "aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert sub.inputs["monitorArnLists"] == [arn]


# --- 6. dashboards that show data on every platform -------------------------------------------------------


@needs_promtool
def test_per_node_panels_filter_on_the_node_the_alerts_name(tmp_path: Path) -> None:
    # An idle GPU's alert names node ip-l4; the Grafana node filter set to that value shows its panels.
    idle = [series("DCGM_FI_DEV_GPU_UTIL", exporter_labels("ip-l4", 0, L4, pod=("research", "a")), "0x60")]
    node_filter = dashboards.DCGM_EXPORTER.node + '=~"ip-l4"'
    util = next(q.expr for s in dashboards.sections(dashboards.DCGM_EXPORTER, node_filter=node_filter)
                for p in s.panels if s.title == "Per node" and p.title == "GPU utilisation" for q in p.queries)
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": idle,
        "alert_rule_test": [alert("31m", "GpuIdle", _idle_labels("ip-l4", 0, L4))],
        "promql_expr_test": [{"expr": util, "eval_time": "31m", "exp_samples": [{"labels": '{node="ip-l4"}',
                                                                                  "value": 0}]}],
    }])


@needs_promtool
def test_the_spot_panel_reads_what_kube_state_metrics_exports(tmp_path: Path) -> None:
    # kube-state-metrics' node series; the capacity label exists because the stack allow-lists it.
    assert prometheus_stack_values(cluster="c", storage_class="gp3", existing_alertmanager_secret=False)[
        "kube-state-metrics"]["metricLabelsAllowlist"] == [KSM_NODE_LABELS]
    ksm = [series("kube_node_status_allocatable", {"node": n, "resource": "nvidia_com_gpu", "unit": "integer",
                                                   "job": "kube-state-metrics"}, "8x10") for n in ("a", "b", "c")]
    ksm += [series("kube_node_labels", {"node": n, "label_karpenter_sh_capacity_type": cap,
                                        "job": "kube-state-metrics"}, "1x10")
            for n, cap in (("a", "spot"), ("b", "spot"), ("c", "on-demand"))]
    spot = _panel("GPUs on spot and on-demand nodes")
    run_promtool(tmp_path, gpu_rule_groups(Alerts(), TEN), [{
        "interval": "1m", "input_series": ksm,
        "promql_expr_test": [{"expr": spot, "eval_time": "5m", "exp_samples": [
            {"labels": '{label_karpenter_sh_capacity_type="on-demand"}', "value": 8},
            {"labels": '{label_karpenter_sh_capacity_type="spot"}', "value": 16}]}],
    }])


def test_openshift_splits_by_the_machine_sets_capacity_label() -> None:
    spot = _panel("GPUs on spot and on-demand nodes", dashboards.OPENSHIFT)
    assert "label_gpu_fleet_capacity" in spot


def test_gke_has_no_panel_without_a_source() -> None:
    # GKE has no node-level kube-state-metrics: its spot panel reads the inventory's own `gpu_fleet_capacity` label
    # (tests/gcp/test_gke_spot_panel.py), never kube_node_*.
    assert all("kube_node" not in q for q in dashboards.queries(dashboards.sections(dashboards.GKE_MANAGED)))


def test_the_plan_lists_where_budget_alerts_go(prod_plan: Plan) -> None:
    from gpufleet import report

    md = report.markdown(prod_plan)
    assert "| AWS account | budget | budget and anomaly alerts posted to Slack channel C0MLPLATFORM " \
           "(workspace T0ACME0001) |" in md
    assert "| GCP project acme-ml-prod | budget | daily guard pages PagerDuty: gpu-fleet prod budget: gpu-oncall |" \
        in md
