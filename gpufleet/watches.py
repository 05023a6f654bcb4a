"""Dashboards and budgets in a plan: what watches the fleet's GPUs and spend, per cluster or per cloud account.

Read from the registered resources (the plan JSON's, so a target branch's plan compares with this one), keyed by
URN: a change that adds, removes or changes a dashboard or a budget shows in the review comment, never its
secrets (nothing here is one: addresses and amounts are plain config).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.kubernetes.conventions import LABEL_CLUSTER
from components.kubernetes.monitoring.budget_guard import RULE_GROUP
from components.kubernetes.monitoring.dashboard_configmap import CONSOLE_LABEL, GRAFANA_LABEL


@dataclass(frozen=True)
class Watch:
    scope: str
    """The cluster (`us-east-1-ml-aws`), or the cloud project or account a budget covers."""
    kind: str
    """dashboard or budget."""
    what: str
    """One line: the form and its numbers (`DAILY AWS budget 10,000.00 USD, alerts at 70%, 90%`)."""


def _pct(values: Iterable[Any]) -> str:
    return ", ".join(f"{float(v) * 100:g}%" if float(v) <= 1 else f"{float(v):g}%" for v in values)


def _usd(value: Any) -> str:
    return f"{float(value):,.2f} USD"


def watch_of(typ: str, name: str, inputs: Mapping[str, Any]) -> Watch | None:
    """The dashboard or budget a registered resource is, or None."""
    reader = _READERS.get(typ)
    return reader(name, inputs) if reader is not None else None


def _dashboard_config_map(name: str, inputs: Mapping[str, Any]) -> Watch | None:
    """A ConfigMap the Grafana sidecar or the OpenShift console loads as a dashboard."""
    meta = inputs.get("metadata") or {}
    labels = meta.get("labels") or {}
    cluster = labels.get(LABEL_CLUSTER, "?")
    if labels.get(GRAFANA_LABEL[0]) == GRAFANA_LABEL[1]:
        return Watch(cluster, "dashboard", f"Grafana dashboard `{meta.get('name')}` ({meta.get('namespace')})")
    if labels.get(CONSOLE_LABEL[0]) == CONSOLE_LABEL[1]:
        return Watch(cluster, "dashboard", f"OpenShift console dashboard `{meta.get('name')}`")
    return None


def _in_cluster_guard(name: str, inputs: Mapping[str, Any]) -> Watch | None:
    """The team guard an EKS or OpenShift cluster's PrometheusRule holds, as one line per cluster."""
    meta = inputs.get("metadata") or {}
    groups = [g for g in ((inputs.get("spec") or {}).get("groups") or []) if g.get("name") == RULE_GROUP]
    limits: dict[str, list[str]] = {}
    for rule in (r for g in groups for r in g.get("rules") or []):
        labels = rule.get("labels") or {}
        limit = str(rule.get("expr", "")).rsplit(">", 1)[-1].strip()
        limits.setdefault(labels.get("team", "?"), []).append(f"{_usd(limit)} ({labels.get('threshold')})")
    if not limits:
        return None
    teams = "; ".join(f"team {team} over {', '.join(at)}" for team, at in sorted(limits.items()))
    return Watch((meta.get("labels") or {}).get(LABEL_CLUSTER, "?"), "budget",
                 f"daily guard in the cluster's Prometheus: spend in 24 hours, {teams}")


def _gcp_dashboard(name: str, inputs: Mapping[str, Any]) -> Watch:
    """A Cloud Monitoring dashboard, by its display name (else its logical name)."""
    try:
        title = json.loads(inputs.get("dashboardJson") or "{}").get("displayName", name)
    except json.JSONDecodeError:
        title = name
    return Watch(f"GCP project {inputs.get('project')}", "dashboard", f"Cloud Monitoring dashboard `{title}`")


def _gcp_budget(name: str, inputs: Mapping[str, Any]) -> Watch:
    """A Cloud Billing budget: its monthly amount and the shares of current or forecasted spend that alert."""
    money = (inputs.get("amount") or {}).get("specifiedAmount") or {}
    amount = float(money.get("units") or 0) + float(money.get("nanos") or 0) / 1e9
    rules = inputs.get("thresholdRules") or []
    shares = sorted({float(r["thresholdPercent"]) for r in rules})
    bases = sorted({str(r.get("spendBasis", "CURRENT_SPEND")).split("_")[0].lower() for r in rules})
    return Watch(f"GCP billing account {inputs.get('billingAccount')}", "budget",
                 f"monthly billing budget {_usd(amount)}, alerts at {_pct(shares)} of {' and '.join(bases)} "
                 "spend")


def _gcp_guard_policy(name: str, inputs: Mapping[str, Any]) -> Watch | None:
    """A Cloud Monitoring alert policy of the daily guard (its PromQL condition in the guard's rule group)."""
    for condition in inputs.get("conditions") or []:
        promql = condition.get("conditionPrometheusQueryLanguage") or {}
        if promql.get("ruleGroup") == RULE_GROUP:
            labels = promql.get("labels") or {}
            who = f"team {labels['team']}" if "team" in labels else "GKE"
            limit = str(promql.get("query", "")).rsplit(">", 1)[-1].strip()
            return Watch(f"GCP project {inputs.get('project')}", "budget",
                         f"daily guard, {who}: spend in 24 hours over {_usd(limit)} "
                         f"({labels.get('threshold')} of the daily budget)")
    return None


def _gcp_pagerduty(name: str, inputs: Mapping[str, Any]) -> Watch | None:
    """A PagerDuty notification channel the daily guard pages; other channel types are not watches."""
    if inputs.get("type") != "pagerduty":
        return None
    return Watch(f"GCP project {inputs.get('project')}", "budget",
                 f"daily guard pages PagerDuty: {inputs.get('displayName')}")


def _aws_budget(name: str, inputs: Mapping[str, Any]) -> Watch:
    """An AWS Budgets budget: its period, limit and notification thresholds."""
    notes = inputs.get("notifications") or []
    shares = sorted({float(n["threshold"]) for n in notes})
    kinds = sorted({str(n.get("notificationType", "")).lower() for n in notes})
    return Watch("AWS account", "budget", f"{inputs.get('timeUnit')} AWS budget {_usd(inputs.get('limitAmount'))}, "
                 f"alerts at {_pct(shares)} ({' and '.join(kinds)})")


def _aws_slack(name: str, inputs: Mapping[str, Any]) -> Watch:
    """The Slack channel AWS Chatbot posts budget and anomaly alerts to."""
    return Watch("AWS account", "budget", f"budget and anomaly alerts posted to Slack channel "
                 f"{inputs.get('slackChannelId')} (workspace {inputs.get('slackTeamId')})")


def _aws_anomaly_subscription(name: str, inputs: Mapping[str, Any]) -> Watch:
    """A Cost Explorer anomaly subscription: its impact threshold and frequency."""
    values = (((inputs.get("thresholdExpression") or {}).get("dimension")) or {}).get("values") or ["?"]
    return Watch("AWS account", "budget", f"cost anomaly alerts, impact {values[0]}% or more "
                 f"({str(inputs.get('frequency', '')).lower()})")


_READERS: dict[str, Callable[[str, Mapping[str, Any]], Watch | None]] = {
    "kubernetes:core/v1:ConfigMap": _dashboard_config_map,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": _in_cluster_guard,
    "gcp:monitoring/dashboard:Dashboard": _gcp_dashboard,
    "gcp:billing/budget:Budget": _gcp_budget,
    "gcp:monitoring/alertPolicy:AlertPolicy": _gcp_guard_policy,
    "aws:budgets/budget:Budget": _aws_budget,
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": _aws_slack,
    "gcp:monitoring/notificationChannel:NotificationChannel": _gcp_pagerduty,
    "aws:costexplorer/anomalySubscription:AnomalySubscription": _aws_anomaly_subscription,
}
"""Resource type -> how a resource of it reads as a watch (the logical name and the inputs in; None: not one)."""


def watches(resources: Iterable[Mapping[str, Any]]) -> dict[str, Watch]:
    """URN -> the dashboard or budget it is, over plan-JSON-shaped resources (`urn`, `type`, `name`, `inputs`)."""
    found = {}
    for r in resources:
        watch = watch_of(str(r.get("type")), str(r.get("name")), r.get("inputs") or {})
        if watch is not None:
            found[str(r["urn"])] = watch
    return found


def changes(current: Mapping[str, Watch], base: Mapping[str, Watch]) -> list[tuple[Watch, str]]:
    """(watch, change) for every dashboard or budget added, removed or changed, sorted by scope and kind."""
    out: list[tuple[Watch, str]] = []
    for urn in set(current) | set(base):
        now, before = current.get(urn), base.get(urn)
        if now is not None and before is None:
            out.append((now, "added"))
        elif now is None and before is not None:
            out.append((before, "removed"))
        elif now is not None and before is not None and now != before:
            out.append((now, f"changed (was: {before.what})"))
    return sorted(out, key=lambda c: (c[0].scope, c[0].kind, c[0].what))


def markdown_lines(current: Mapping[str, Watch], base: Mapping[str, Watch] | None) -> list[str]:
    """The review comment's section: with a base, what the change adds, removes or changes; without, what there is."""
    if base is None:
        rows = sorted(current.values(), key=lambda w: (w.scope, w.kind, w.what))
        if not rows:
            return ["", "**Dashboards and budgets:** none."]
        return ["", f"**Dashboards and budgets:** {len(rows)}.", "", "| cluster or account | kind | what |",
                "|---|---|---|", *(f"| {w.scope} | {w.kind} | {w.what} |" for w in rows)]
    changed = changes(current, base)
    if not changed:
        return ["", "**Dashboards and budgets changed:** none."]
    return ["", f"**Dashboards and budgets changed:** {len(changed)}.", "",
            "| cluster or account | kind | what | change |", "|---|---|---|---|",
            *(f"| {w.scope} | {w.kind} | {w.what} | {change} |" for w, change in changed)]
