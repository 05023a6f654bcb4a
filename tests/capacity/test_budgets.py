"""Issue 11 section 4: one source for each budget number, cloud budgets and anomaly detection, the daily guard."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.budgets import Budgets
from components.kubernetes.monitoring import budget_guard
from components.kubernetes.monitoring.rules import rule_file
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from tests.support.config_builders import errors, values
from tests.support.engine import engine_config, run_stack_policy
from tests.support.plans import budgets_of
from tests.support.small_stacks import eks_only, one_gke_region


def of_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def by_name(plan: Plan, typ: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in of_type(plan, typ)}


# --- the config: strict, one line per problem ------------------------------------------------------------


@pytest.mark.parametrize(("change", "start", "hint"), [
    (lambda b: b.pop("daily_usd") and b.pop("monthly_usd"), "budgets: no budget amount", "budgets.daily_usd"),
    (lambda b: b.update(thresholds=[0.9, 0.7]), "budgets.thresholds: thresholds out of order", "[0.7, 0.9]"),
    # Above 100% is valid (both clouds alert past the budget); 80 is a percent where a share belongs (issue 20 §2).
    (lambda b: b.update(thresholds=[0.7, 80]), "budgets.thresholds[1]: Input should be less than or equal to 5",
     "0.8 means 80%"),
    (lambda b: b["gcp"].update(billing_account="acme-billing"), "budgets.gcp.billing_account: String should match",
     "01A2B3-C4D5E6-F7A8B9"),
    (lambda b: b.update(emails=["finops at acme"]), "budgets.emails[0]: String should match", "e-mail address"),
    (lambda b: b.update(emails=[f"p{i}@acme.example" for i in range(6)]), "budgets.emails: List should have at most",
     "at most 5"),
    (lambda b: b.update(emails=[]), "budgets.emails: AWS budget alerts need a recipient", "finops@example.com"),
    (lambda b: b["aws"].update(share=0.3), "budgets.aws.share: the clouds' shares add up to more", "gcp.share is 0.85"),
    (lambda b: b["gcp"].pop("share"), "budgets.gcp.share: required when both clouds have budgets", "0.8 and 0.2"),
    (lambda b: b.update(teams=[{"name": "vision", "daily_usd": 100}]),
     "budgets.teams[vision].name: not a team namespace of any cluster", "known: research"),
    (lambda b: b.update(teams=[{"name": "research", "daily_usd": 900}]),
     "budgets.teams[research].daily_usd: above the fleet's daily budget", "500"),
    (lambda b: b["aws"].update(anomaly_monitor_arn="monitor-1"), "budgets.aws.anomaly_monitor_arn: String should match",
     "aws ce get-anomaly-monitors"),
    (lambda b: b["aws"].update(anomaly_impact_percent=200),
     "budgets.aws.anomaly_impact_percent: derived from observability.alerts.cost_spike.factor now (got 200)",
     "factor 2: spend at twice the expected, a 100% impact"),
])
def test_bad_budgets_are_refused_with_the_key_and_a_hint(change: Any, start: str, hint: str) -> None:
    raw = values()
    change(raw["budgets"])
    found = [e for e in errors(raw) if e.startswith(start)]
    assert len(found) == 1, errors(raw)
    assert hint in found[0].split("hint:", 1)[1], found[0]


def test_a_cloud_budget_needs_its_cloud() -> None:
    raw = values()
    del raw["eks"]
    assert "budgets.aws: an AWS budget, but the stack has no EKS fleet; hint: remove budgets.aws, or add a " \
           "gpu-fleet:eks section" in errors(raw)


def test_a_team_budget_is_refused_where_no_one_guard_sees_all_of_its_spend() -> None:
    raw = values("prod")
    # ml-research runs on the EKS cluster too: two Prometheus servers would each judge half the spend.
    raw["gke"]["regions"][0]["clusters"][0]["addons"]["namespaces"].append({"name": "ml-research", "gpus": 8})
    raw["budgets"]["teams"].append({"name": "ml-research", "daily_usd": 2000})
    (line,) = errors(raw)
    assert line.startswith("budgets.teams[ml-research].name: a namespace of several guards (GKE, EKS cluster "
                           "us-east-1-ml-aws)")
    raw = values("prod")
    raw["eks"]["regions"][0]["clusters"][0]["addons"]["dcgm_exporter"] = False
    raw["budgets"]["teams"].append({"name": "ml-research", "daily_usd": 2000})
    assert any(e.startswith("budgets.teams[ml-research].name: EKS cluster us-east-1-ml-aws runs no dcgm-exporter")
               for e in errors(raw)), errors(raw)


def test_eks_and_openshift_teams_are_guarded_by_their_clusters_prometheus(prod_doc: dict[str, Any],
                                                                          plan_doc: Any) -> None:
    """A team on one EKS or OpenShift cluster gets its daily guard in that cluster's rules, the same rules the
    promtool case above runs; GKE teams stay Cloud Monitoring alert policies."""
    from tests.support.monitoring import _check_crd

    budgets_of(prod_doc)["teams"] += [{"name": "ml-research", "daily_usd": 2000},
                                      {"name": "private-ai-demo", "daily_usd": 300, "thresholds": [1.0]}]
    plan = plan_doc(one_gke_region(prod_doc), "prod")  # prod's EKS and OpenShift clusters, and GKE's research-1
    rules = {r.inputs["metadata"]["namespace"]: r
             for r in of_type(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
    expected = {"monitoring": budget_guard.team_guard("ml-research", 2000, [0.8, 1.0]),
                "nvidia-gpu-operator": budget_guard.team_guard("private-ai-demo", 300, [1.0])}
    from components.openshift.monitoring import fleet_groups

    for namespace, guard in expected.items():
        obj = {k: v for k, v in rules[namespace].inputs.items() if not k.startswith("__")}
        _check_crd(obj)
        (group,) = [g for g in obj["spec"]["groups"] if g["name"] == budget_guard.RULE_GROUP]
        want = budget_guard.rule_group(guard)
        # OpenShift's alerts land in gpu-fleet's alerting namespace, the team's as `exported_namespace`.
        (want,) = fleet_groups([want]) if namespace == "nvidia-gpu-operator" else (want,)
        assert group == want.to_dict()
    policies = by_name(plan, "gcp:monitoring/alertPolicy:AlertPolicy")
    assert not [n for n in policies if "ml-research" in n or "private-ai-demo" in n]
    assert "budget-gcp-guard-team-research-100" in policies
    # The plan and the review comment list each guard under its cluster.
    from gpufleet import watches
    from gpufleet.report import _resource_dicts

    lines = {(w.scope, w.what) for w in watches.watches(_resource_dicts(plan)).values() if w.kind == "budget"}
    assert ("us-east-1-ml-aws", "daily guard in the cluster's Prometheus: spend in 24 hours, team ml-research over "
                                "1,600.00 USD (80%), 2,000.00 USD (100%)") in lines
    assert ("ocp-ai", "daily guard in the cluster's Prometheus: spend in 24 hours, team private-ai-demo over "
                      "300.00 USD (100%)") in lines


def test_monthly_ceiling_and_shares() -> None:
    daily = Budgets.model_validate({"daily_usd": 50_000, "gcp": {"billing_account": "01A2B3-C4D5E6-F7A8B9"}})
    assert daily.monthly_ceiling() == pytest.approx(50_000 * 730 / 24)  # a 730-hour month, as the plan's costs
    assert daily.share("gcp") == 1.0 and daily.share("aws") == 0.0  # alone, GCP holds all of it
    both = Budgets.model_validate({"daily_usd": 500, "monthly_usd": 12_000})
    assert both.monthly_ceiling() == 12_000  # the tighter of the monthly budget and 30.4 daily budgets


# --- what the program registers -----------------------------------------------------------------------------


def test_prod_budgets_come_from_its_one_budget(prod_plan: Plan) -> None:
    """prod: 50,000 USD a day, GCP 80% (a monthly billing budget + daily guard), AWS 20% (a DAILY budget)."""
    (gcp_budget,) = of_type(prod_plan, "gcp:billing/budget:Budget")
    inputs = gcp_budget.inputs
    monthly = 0.8 * 50_000 * 730 / 24  # 1,216,666.67 USD
    assert inputs["amount"]["specifiedAmount"] == {"currencyCode": "USD", "units": "1216666", "nanos": 670000000}
    assert round(int(inputs["amount"]["specifiedAmount"]["units"]) + 0.67, 2) == round(monthly, 2)
    assert inputs["billingAccount"] == "01A2B3-C4D5E6-F7A8B9"
    assert inputs["budgetFilter"] == {"projects": ["projects/000000000000"], "calendarPeriod": "MONTH"}
    assert sorted((float(r["thresholdPercent"]), r["spendBasis"]) for r in inputs["thresholdRules"]) == [
        (0.7, "CURRENT_SPEND"), (0.7, "FORECASTED_SPEND"), (0.9, "CURRENT_SPEND"), (0.9, "FORECASTED_SPEND")]
    channels = by_name(prod_plan, "gcp:monitoring/notificationChannel:NotificationChannel")
    assert sorted(c["labels"]["email_address"] for c in channels.values() if c["type"] == "email") == [
        "finops@acme.example", "ml-platform-oncall@acme.example"]  # plain: addresses are no credentials
    assert len(inputs["allUpdatesRule"]["monitoringNotificationChannels"]) == 2

    (aws_budget,) = of_type(prod_plan, "aws:budgets/budget:Budget")
    assert (aws_budget.inputs["timeUnit"], aws_budget.inputs["limitAmount"], aws_budget.inputs["limitUnit"]) == (
        "DAILY", "10000.00", "USD")
    # Daily AWS budgets take ACTUAL notifications only (FORECASTED is refused for DAILY).
    assert [(n["notificationType"], n["threshold"]) for n in aws_budget.inputs["notifications"]] == [
        ("ACTUAL", 80), ("ACTUAL", 100)]  # budgets.aws.thresholds: seed 003
    (sub,) = of_type(prod_plan, "aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert sub.inputs["frequency"] == "IMMEDIATE" and sub.inputs["subscribers"][0]["type"] == "SNS"
    assert sub.inputs["thresholdExpression"]["dimension"] == {
        "key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE", "matchOptions": ["GREATER_THAN_OR_EQUAL"], "values": ["100"]}
    policy = by_name(prod_plan, "aws:sns/topicPolicy:TopicPolicy")["budget-aws-anomalies-policy"]
    assert '"Service": "costalerts.amazonaws.com"' in policy["policy"]
    providers = {r.urn: r for r in of_type(prod_plan, "pulumi:providers:aws")}
    assert providers[aws_budget.provider.rsplit("::", 1)[0]].inputs["region"] == "us-east-1"


def test_the_daily_guard_is_the_budget_in_promql(prod_plan: Plan) -> None:
    """GCP's share of the daily budget (40,000 USD) at 70% and 90%, and seed 003's 80%/100% per team."""
    guards = by_name(prod_plan, "gcp:monitoring/alertPolicy:AlertPolicy")
    queries = {name.removeprefix("budget-gcp-guard-"): p["conditions"][0]["conditionPrometheusQueryLanguage"]
               for name, p in guards.items() if name.startswith("budget-gcp-guard-")}
    assert set(queries) == {"fleet-70", "fleet-90", "team-training-80", "team-training-100", "team-research-80",
                            "team-research-100"}
    spend = "sum (sum_over_time(cluster:gpufleet_gpu_cost_usd_per_hour:sum[24h:1m])) / 60"  # every GPU paid
    assert queries["fleet-70"]["query"] == f"{spend} > 28000"
    assert queries["fleet-90"]["query"] == f"{spend} > 36000"
    assert queries["team-research-100"]["query"] == (
        'sum by (namespace) (sum_over_time(namespace:gpufleet_gpu_cost_usd_per_hour:sum{namespace="research"}'
        '[24h:1m])) / 60 > 6000')
    assert all(q["disableMetricValidation"] and q["evaluationInterval"] == "300s" for q in queries.values())
    # The policies and the pack config never repeat it: prod's warning is 90% of the stack's own 50,000 USD.
    (warning,) = run_stack_policy("gpu-budget-warning", prod_plan, engine_config("gpu-budget-warning", "prod"))
    assert warning.startswith("GPU capacity at maximum scale would use 90% of the daily budget "
                              "($45,137.52 of $50,000.00), past the 90% warning threshold.")


def test_one_number_moves_every_budget(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """Raising budgets.daily_usd changes the policy verdict, both clouds' budgets and the guard together."""
    budgets_of(prod_doc)["daily_usd"] = 60_000
    plan = plan_doc(prod_doc, "prod")
    (gcp_budget,) = of_type(plan, "gcp:billing/budget:Budget")
    assert gcp_budget.inputs["amount"]["specifiedAmount"]["units"] == str(int(0.8 * 60_000 * 730 / 24))
    (aws_budget,) = of_type(plan, "aws:budgets/budget:Budget")
    assert aws_budget.inputs["limitAmount"] == "12000.00"
    guard = by_name(plan, "gcp:monitoring/alertPolicy:AlertPolicy")["budget-gcp-guard-fleet-70"]
    assert guard["conditions"][0]["conditionPrometheusQueryLanguage"]["query"].endswith("> 33600")
    (warning,) = run_stack_policy("gpu-budget-warning", plan, engine_config("gpu-budget-warning", "prod"))
    assert "would use 75% of the daily budget ($45,137.52 of $60,000.00)" in warning


def test_the_cost_spike_factor_is_the_aws_anomaly_threshold(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    """One number for a spike: the in-cluster alert's factor and AWS's impact percentage (actual over expected,
    minus one); switching the alert off removes the anomaly subscription too."""
    # dev's AWS side alone (dev 0.7 s a plan, prod 4 s) has both numbers' homes: its EKS cluster's in-cluster
    # rules and its AWS account's anomaly subscription.
    dev_doc = eks_only(dev_doc)
    observability = dev_doc["config"].setdefault("gpu-fleet:observability", {})
    observability["alerts"] = {"cost_spike": {"factor": 3, "window": "1h"}}
    plan = plan_doc(dev_doc, "dev")
    (sub,) = of_type(plan, "aws:costexplorer/anomalySubscription:AnomalySubscription")
    assert sub.inputs["thresholdExpression"]["dimension"]["values"] == ["200"]
    (rules,) = [r for r in of_type(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
                if r.inputs["metadata"]["namespace"] == "monitoring"]
    spike = [x for g in rules.inputs["spec"]["groups"] for x in g["rules"] if x.get("alert") == "GpuCostSpike"]
    assert spike and spike[0]["expr"].startswith("cluster:gpufleet_gpu_cost_usd_per_hour:sum >= 3 * ")
    observability["alerts"] = {"cost_spike": {"enabled": False}}
    plan = plan_doc(dev_doc, "dev")
    assert not [r for r in plan.resources if "anomaly" in r.type.lower()
                or (r.type.startswith("aws:sns") and "anomalies" in r.name)]
    assert of_type(plan, "aws:budgets/budget:Budget")  # the budgets themselves stay


def test_dev_budgets_daily_and_monthly(dev_plan: Plan) -> None:
    budgets = {r.inputs["timeUnit"]: r.inputs for r in of_type(dev_plan, "aws:budgets/budget:Budget")}
    assert {u: b["limitAmount"] for u, b in budgets.items()} == {"DAILY": "75.00", "MONTHLY": "1800.00"}
    assert sorted({n["notificationType"] for n in budgets["MONTHLY"]["notifications"]}) == ["ACTUAL", "FORECASTED"]
    (gcp_budget,) = of_type(dev_plan, "gcp:billing/budget:Budget")
    # The tighter of 12,000 a month and 500 a day over 730 hours (15,208), GCP's 85%.
    assert gcp_budget.inputs["amount"]["specifiedAmount"] == {"currencyCode": "USD", "units": "10200", "nanos": 0}


def test_no_budget_section_registers_no_budget(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    del dev_doc["config"]["gpu-fleet:budgets"]
    plan = plan_doc(dev_doc, "dev")
    assert not [r for r in plan.resources if "budget" in r.type.lower() or "anomaly" in r.type.lower()]
    (msg,) = run_stack_policy("gpu-budget", plan, engine_config("gpu-budget", "dev"))
    assert "no budget" in msg and "gpu-fleet:budgets" in msg


# --- the guard's timing, with promtool ------------------------------------------------------------------


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (CI installs Debian's `prometheus` package)")
def test_guard_fires_when_the_money_is_spent_not_on_a_burst(tmp_path: Path) -> None:
    rules = budget_guard.fleet_guard(1000, [0.7, 0.9], scope="gke") + budget_guard.team_guard("research", 500,
                                                                                               [0.8, 1.0])
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file([budget_guard.rule_group(rules)])))
    series = 'namespace:gpufleet_gpu_cost_usd_per_hour:sum{namespace="%s"}'
    described = {r.key: r.description for r in rules}

    # Every gpu-fleet alert carries the fleet label (routing) and its runbook (tests/kubernetes/test_oncall_alerts.py).
    def fleet(threshold: str) -> dict[str, Any]:
        return {"exp_labels": {"gpu_fleet": "true", "severity": "warning", "threshold": threshold, "scope": "gke"}}

    def annotated(summary: str, key: str) -> dict[str, str]:
        alert = budget_guard.TEAM_ALERT if key.startswith("team-") else budget_guard.FLEET_ALERT
        return {"summary": summary, "description": described[key], "runbook_url": f"docs/runbooks/{alert}.md"}

    team = {"exp_labels": {"gpu_fleet": "true", "severity": "warning", "threshold": "80%", "team": "research",
                           "namespace": "research"}}
    cluster = "cluster:gpufleet_gpu_cost_usd_per_hour:sum"  # the fleet guard's: every GPU paid for
    # Stepped at the guard group's own interval (5m), as a Prometheus evaluates it: promtool evaluates every group at
    # each `evaluation_interval` step whatever its `interval` (prometheus/prometheus cmd/promtool/unittest.go), and
    # each evaluation sums a 24-hour subquery of 1-minute steps over the input series, so 1m cost five times as much.
    # Every eval_time below is on the 5-minute grid.
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": budget_guard.EVALUATION_INTERVAL, "tests": [
        {"name": "40 USD an hour: 70% of 1,000 (700) is spent after 17.5 hours, 90% after 22.5",
         "interval": "1m", "input_series": [{"series": series % "research", "values": "40x1500"},
                                            {"series": cluster, "values": "40x1500"}],
         "alert_rule_test": [
             {"eval_time": "17h", "alertname": "GpuDailyBudgetGuard", "exp_alerts": []},
             {"eval_time": "18h", "alertname": "GpuDailyBudgetGuard", "exp_alerts": [
                 {**fleet("70%"), "exp_annotations": annotated("GPU spend on gke in the last 24 hours is 720.7 "
                                                               "USD, past 70% of its daily budget (700 of 1,000 USD)",
                                                               "fleet-70")}]},
             {"eval_time": "23h", "alertname": "GpuDailyBudgetGuard", "exp_alerts": [
                 {**fleet("70%"), "exp_annotations": annotated("GPU spend on gke in the last 24 hours is 920.7 "
                                                               "USD, past 70% of its daily budget (700 of 1,000 USD)",
                                                               "fleet-70")},
                 {**fleet("90%"), "exp_annotations": annotated("GPU spend on gke in the last 24 hours is 920.7 "
                                                               "USD, past 90% of its daily budget (900 of 1,000 USD)",
                                                               "fleet-90")}]},
             {"eval_time": "9h30m", "alertname": "GpuTeamDailyBudgetGuard", "exp_alerts": []},
             {"eval_time": "10h30m", "alertname": "GpuTeamDailyBudgetGuard", "exp_alerts": [
                 {**team, "exp_annotations": annotated("Team research spent 420.7 USD on GPUs in the last 24 "
                                                       "hours, past 80% of its daily budget (400 of 500 USD)",
                                                       "team-research-80")}]},
         ]},
        {"name": "a one-hour burst at 600 USD an hour is 610 USD spent, not 14,400 a day",
         "interval": "1m", "input_series": [{"series": series % "batch", "values": "600x60 stale"},
                                            {"series": cluster, "values": "600x60 stale"}],
         "alert_rule_test": [{"eval_time": "3h", "alertname": "GpuDailyBudgetGuard", "exp_alerts": []}],
         "promql_expr_test": [{"expr": budget_guard.spend_24h(), "eval_time": "3h",
                               "exp_samples": [{"labels": "{}", "value": 610}]}]},
    ]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    for command in (["check", "rules", "rules.yaml"], ["test", "rules", "test.yaml"]):
        done = subprocess.run([str(PROMTOOL), *command], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
