"""The budget composer: the stack's budget published for the policies, and the cloud budgets enforcing it."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.aws.budget import AwsBudget, AwsBudgetArgs
from components.capacity.budget import FleetBudget
from components.config.budgets import Budgets, anomaly_impact_percent
from components.config.budgets_rules import gke_namespaces
from components.config.model import Fleet
from components.config.observability import Observability, ReceiverType
from components.gcp.budget import GcpBudget, GcpBudgetArgs, OnCallChannel
from components.kubernetes.monitoring.budget_guard import GuardRule, fleet_guard, team_guard

BILLING_REGION = "us-east-1"
"""AWS Budgets and Cost Explorer (anomaly detection) are global services served from us-east-1."""


def compose(fleet: Fleet, *, project: str, labels: dict[str, str],
            credentials: Mapping[str, pulumi.Output[str]] | None = None) -> dict[str, list[pulumi.Output[str]]]:
    """Declare `budgets:`; every amount comes from it, split between the clouds by their `share`.

    The AWS anomaly threshold comes from the cost-spike alert (`observability.alerts.cost_spike`): one factor for
    both, and no anomaly subscription when that alert is switched off. `credentials` are the receivers' secrets.
    Returns the GCP budget's on-call channels per receiver, for the fleet's other Cloud Monitoring alerts.
    """
    budgets = fleet.budgets
    assert budgets is not None
    FleetBudget("budget", budgets)
    channels: dict[str, list[pulumi.Output[str]]] = {}
    if budgets.gcp is not None:
        channels = _gcp(fleet, budgets, project=project, labels=labels, credentials=credentials or {})
    if budgets.aws is not None:
        _aws(fleet, budgets, labels=labels)
    return channels


def _gcp(fleet: Fleet, budgets: Budgets, *, project: str, labels: dict[str, str],
         credentials: Mapping[str, pulumi.Output[str]]) -> dict[str, list[pulumi.Output[str]]]:
    assert budgets.gcp is not None
    share, thresholds = budgets.share("gcp"), budgets.cloud_thresholds("gcp")
    guard: list[GuardRule] = []
    if budgets.daily_usd is not None:
        guard += fleet_guard(share * budgets.daily_usd, thresholds, scope="gke")
    on_gke = gke_namespaces(fleet)  # validated: a team's namespace is on GKE or on one other cluster
    for team in (t for t in budgets.teams if t.name in on_gke):
        guard += team_guard(team.name, team.daily_usd, team.thresholds)
    return GcpBudget("budget-gcp", GcpBudgetArgs(
        project=project, billing_account=budgets.gcp.billing_account,
        monthly_usd=share * budgets.monthly_ceiling(), thresholds=thresholds,
        emails=list(budgets.emails), guard=guard, environment=fleet.environment, labels=labels,
        oncall=_oncall(fleet, budgets.gcp.receivers, credentials))).oncall_channels


def _oncall(fleet: Fleet, names: list[str], credentials: Mapping[str, pulumi.Output[str]]) -> list[OnCallChannel]:
    """The named receivers (validated: PagerDuty or e-mail ones) as Cloud Monitoring channel specs."""
    receivers = (fleet.observability or Observability()).receivers
    out = []
    for name in names:
        receiver = receivers[name]
        if receiver.type is ReceiverType.PAGERDUTY and receiver.secret is not None:
            out.append(OnCallChannel(name, pagerduty_key=pulumi.Output.secret(credentials[receiver.secret])))
        elif receiver.type is ReceiverType.EMAIL:
            out.append(OnCallChannel(name, emails=tuple(receiver.to)))
    return out


def _aws(fleet: Fleet, budgets: Budgets, *, labels: dict[str, str]) -> None:
    assert budgets.aws is not None
    spike = (fleet.observability or Observability()).alerts
    share = budgets.share("aws")
    amounts = {period: share * amount for period, amount in
               (("daily", budgets.daily_usd), ("monthly", budgets.monthly_usd)) if amount is not None}
    clusters = [c.name for r in fleet.eks.regions for c in r.clusters] if fleet.eks is not None else []
    AwsBudget("budget-aws", AwsBudgetArgs(
        amounts=amounts, thresholds=budgets.cloud_thresholds("aws"), emails=list(budgets.emails),
        anomaly_impact_percent=(anomaly_impact_percent(spike.cost_spike.factor)
                                if spike.enabled and spike.cost_spike.enabled else None),
        anomaly_monitor_arn=budgets.aws.anomaly_monitor_arn, environment=fleet.environment, tags=labels,
        provider=aws.Provider("aws-billing", region=BILLING_REGION), monitor_clusters=clusters,
        slack=budgets.aws.slack))
