"""Rules of the `budgets:` section that span fields or other sections.

A budget to judge, clouds that exist, shares that add up, teams that are namespaces of the fleet, each where one
guard sees all of its spend.
"""

from __future__ import annotations

from collections.abc import Iterator

from components.config.budgets import Budgets
from components.config.checks import unique_names
from components.config.errors import Issue
from components.config.model import Fleet
from components.config.observability import ReceiverType

_SHARE_SLACK = 1e-9
GCP_CHANNEL_TYPES = (ReceiverType.PAGERDUTY, ReceiverType.EMAIL)
"""Receivers a Cloud Monitoring notification channel can stand for: `pagerduty` (its `service_key`, a sensitive
label) and `email` (one channel per address)."""


def gke_namespaces(fleet: Fleet) -> set[str]:
    """Team namespaces of the GKE clusters."""
    if fleet.gke is None:
        return set()
    return {n.name for r in fleet.gke.regions for c in r.clusters for n in c.addons.namespaces}


def check_budgets(fleet: Fleet) -> Iterator[Issue]:
    budgets = fleet.budgets
    if budgets is None:
        return
    if budgets.daily_usd is None and budgets.monthly_usd is None:
        yield Issue("budgets", "no budget amount", None,
                    "set budgets.daily_usd (seed 002: 50000) or budgets.monthly_usd, or both")
    yield from _thresholds("budgets.thresholds", budgets.thresholds)
    if budgets.daily_usd is not None and budgets.monthly_usd is not None and \
            budgets.monthly_usd <= budgets.daily_usd:
        # Not a policy verdict: a month's budget at or under one day's is a figure under the wrong key (or the two
        # swapped), and the budget policy would judge the whole fleet against it.
        yield Issue("budgets.monthly_usd", f"at or below the daily budget ({budgets.daily_usd:g} USD)",
                    budgets.monthly_usd, "monthly_usd is USD a month, daily_usd USD a day (a month holds about "
                    f"30.4 days: {budgets.daily_usd * 730 / 24:,.0f}); swapped, or a daily figure?")
    for cloud, section in (("gcp", budgets.gcp), ("aws", budgets.aws)):
        if section is not None and section.thresholds is not None:
            yield from _thresholds(f"budgets.{cloud}.thresholds", section.thresholds)
    yield from _gcp_receivers(fleet, budgets)
    yield from unique_names("budgets.emails", budgets.emails)
    if budgets.gcp is not None and fleet.gke is None:
        yield Issue("budgets.gcp", "a GCP budget, but the stack has no GKE fleet", None,
                    "remove budgets.gcp, or add a gpu-fleet:gke section")
    if budgets.aws is not None and fleet.eks is None:
        yield Issue("budgets.aws", "an AWS budget, but the stack has no EKS fleet", None,
                    "remove budgets.aws, or add a gpu-fleet:eks section")
    if budgets.aws is not None and budgets.aws.anomaly_impact_percent is not None:
        yield Issue("budgets.aws.anomaly_impact_percent", "derived from observability.alerts.cost_spike.factor now",
                    budgets.aws.anomaly_impact_percent, "remove it; the cost-spike factor sets both the in-cluster "
                    "alert and the AWS anomaly threshold (factor 2: spend at twice the expected, a 100% impact)")
    if budgets.aws is not None and not budgets.emails:
        yield Issue("budgets.emails", "AWS budget alerts need a recipient", None,
                    "list who reads them, e.g. emails: [finops@example.com]")
    yield from _shares(budgets)
    yield from unique_names("budgets.teams", [t.name for t in budgets.teams])
    yield from _teams(fleet, budgets)


def guard_scopes(fleet: Fleet) -> dict[str, list[str]]:
    """Team namespace -> where its guard can see all of its GPU spend.

    `GKE`: every GKE cluster of the project (Cloud Monitoring sums managed Prometheus across them); an EKS or
    OpenShift cluster: that cluster alone (its Prometheus sees no other).
    """
    out: dict[str, list[str]] = {}
    for name in sorted(gke_namespaces(fleet)):
        out.setdefault(name, []).append("GKE")
    for region in fleet.eks.regions if fleet.eks is not None else []:
        for cluster in region.clusters:
            for ns in cluster.addons.namespaces:
                out.setdefault(ns.name, []).append(f"EKS cluster {region.name}-{cluster.name}")
    for ocp in fleet.openshift.clusters if fleet.openshift is not None else []:
        for ns in ocp.addons.namespaces:
            out.setdefault(ns.name, []).append(f"OpenShift cluster {ocp.name}")
    return out


def _teams(fleet: Fleet, budgets: Budgets) -> Iterator[Issue]:
    if not budgets.teams:
        return
    scopes = guard_scopes(fleet)
    for team in budgets.teams:
        path = f"budgets.teams[{team.name}]"
        where = scopes.get(team.name, [])
        if not where:
            yield Issue(f"{path}.name", "not a team namespace of any cluster", team.name,
                        "team budgets watch a namespace's GPU cost; known: " + (", ".join(sorted(scopes)) or "none"))
        elif len(where) > 1:
            yield Issue(f"{path}.name", "a namespace of several guards (" + ", ".join(where) + ")", team.name,
                        "each guard sees one Prometheus, so each would judge part of the spend against the whole "
                        "budget: give the team one namespace per cluster, each with its own budget")
        elif where == ["GKE"] and budgets.gcp is None:
            yield Issue(f"{path}.name", "a GKE team's guard is a Cloud Monitoring alert policy on the GCP project, "
                        "and the stack has no GCP budget", team.name, "add budgets.gcp (billing_account)")
        elif where[0].startswith("EKS"):
            yield from _eks_cost_rules(fleet, path, team.name)
        yield from _thresholds(f"{path}.thresholds", team.thresholds)
        if budgets.daily_usd is not None and team.daily_usd > budgets.daily_usd:
            yield Issue(f"{path}.daily_usd", "above the fleet's daily budget", team.daily_usd,
                        f"budgets.daily_usd is {budgets.daily_usd:g}; a team's share cannot exceed it")


def _eks_cost_rules(fleet: Fleet, path: str, team: str) -> Iterator[Issue]:
    assert fleet.eks is not None
    for region in fleet.eks.regions:
        for cluster in region.clusters:
            if team in {n.name for n in cluster.addons.namespaces} and not cluster.addons.dcgm_exporter:
                yield Issue(f"{path}.name", f"EKS cluster {region.name}-{cluster.name} runs no dcgm-exporter, so "
                            "it has no cost recording rule to guard", team,
                            f"set eks.regions[{region.name}].clusters[{cluster.name}].addons.dcgm_exporter: true")


def _gcp_receivers(fleet: Fleet, budgets: Budgets) -> Iterator[Issue]:
    """The guard's on-call receivers: declared ones, of a kind a Cloud Monitoring channel can be."""
    if budgets.gcp is None:
        return
    declared = fleet.observability.receivers if fleet.observability is not None else {}
    yield from unique_names("budgets.gcp.receivers", budgets.gcp.receivers)
    for i, name in enumerate(budgets.gcp.receivers):
        receiver = declared.get(name)
        if receiver is None:
            yield Issue(f"budgets.gcp.receivers[{i}]", "not a receiver of observability.receivers", name,
                        "known: " + (", ".join(sorted(declared)) or "none"))
        elif receiver.type not in GCP_CHANNEL_TYPES:
            yield Issue(f"budgets.gcp.receivers[{i}]", f"a {receiver.type.value} receiver cannot be a Cloud "
                        "Monitoring channel", name, "name a pagerduty or email receiver (Cloud Monitoring's Slack "
                        "channel needs the Slack app authorised in the console, not a webhook)")


def _thresholds(path: str, thresholds: list[float]) -> Iterator[Issue]:
    if len(set(thresholds)) != len(thresholds):
        yield Issue(path, "a threshold is listed twice", thresholds, "list each share once, e.g. [0.7, 0.9]")
    elif thresholds != sorted(thresholds):
        yield Issue(path, "thresholds out of order", thresholds, f"list them rising: {sorted(thresholds)}")


def _shares(budgets: Budgets) -> Iterator[Issue]:
    if budgets.gcp is None or budgets.aws is None:
        return
    for cloud, section in (("gcp", budgets.gcp), ("aws", budgets.aws)):
        if section.share is None:
            yield Issue(f"budgets.{cloud}.share", "required when both clouds have budgets", None,
                        "the share of the fleet's budget spent on this cloud, e.g. 0.8 and 0.2: a cloud budget "
                        "sees one cloud's bill, so each gets its part")
    if budgets.gcp.share is not None and budgets.aws.share is not None and \
            budgets.gcp.share + budgets.aws.share > 1 + _SHARE_SLACK:
        yield Issue("budgets.aws.share", "the clouds' shares add up to more than the fleet's budget",
                    budgets.aws.share, f"gcp.share is {budgets.gcp.share:g}; the two must add up to 1 or less")
