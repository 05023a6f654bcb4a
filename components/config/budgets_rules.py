"""Rules of the `budgets:` section that span fields or other sections.

A budget to judge, clouds that exist, shares that add up, teams that are namespaces of the fleet.
"""

from __future__ import annotations

from collections.abc import Iterator

from components.config.budgets import Budgets
from components.config.checks import unique_names
from components.config.errors import Issue
from components.config.model import Fleet

_SHARE_SLACK = 1e-9


def gke_namespaces(fleet: Fleet) -> set[str]:
    """Team namespaces of the GKE clusters."""
    if fleet.gke is None:
        return set()
    return {n.name for r in fleet.gke.regions for c in r.clusters for n in c.addons.namespaces}


def eks_namespaces(fleet: Fleet) -> set[str]:
    """Team namespaces of the EKS clusters."""
    if fleet.eks is None:
        return set()
    return {n.name for r in fleet.eks.regions for c in r.clusters for n in c.addons.namespaces}


def check_budgets(fleet: Fleet) -> Iterator[Issue]:
    budgets = fleet.budgets
    if budgets is None:
        return
    if budgets.daily_usd is None and budgets.monthly_usd is None:
        yield Issue("budgets", "no budget amount", None,
                    "set budgets.daily_usd (seed 002: 50000) or budgets.monthly_usd, or both")
    yield from _thresholds("budgets.thresholds", budgets.thresholds)
    yield from unique_names("budgets.emails", budgets.emails)
    if budgets.gcp is not None and fleet.gke is None:
        yield Issue("budgets.gcp", "a GCP budget, but the stack has no GKE fleet", None,
                    "remove budgets.gcp, or add a gpu-fleet:gke section")
    if budgets.aws is not None and fleet.eks is None:
        yield Issue("budgets.aws", "an AWS budget, but the stack has no EKS fleet", None,
                    "remove budgets.aws, or add a gpu-fleet:eks section")
    if budgets.aws is not None and not budgets.emails:
        yield Issue("budgets.emails", "AWS budget alerts need a recipient", None,
                    "list who reads them, e.g. emails: [finops@example.com]")
    yield from _shares(budgets)
    yield from unique_names("budgets.teams", [t.name for t in budgets.teams])
    on_gke, on_eks = gke_namespaces(fleet), eks_namespaces(fleet)
    if budgets.teams and budgets.gcp is None:
        yield Issue("budgets.teams", "team budgets are watched by Cloud Monitoring alert policies on the GKE "
                    "project, and the stack has no GCP budget", None, "add budgets.gcp (billing_account)")
    for team in budgets.teams:
        path = f"budgets.teams[{team.name}]"
        if team.name in on_eks - on_gke:
            yield Issue(f"{path}.name", "an EKS-only namespace: team budgets are enforced on GKE today", team.name,
                        "on EKS the team guard needs the in-cluster Prometheus rules (issue 11, section 2); until "
                        "then watch it with budgets.aws")
        elif team.name not in on_gke:
            yield Issue(f"{path}.name", "not a team namespace of any GKE cluster", team.name,
                        "team budgets watch a namespace's GPU cost; known: " + (", ".join(sorted(on_gke)) or "none"))
        yield from _thresholds(f"{path}.thresholds", team.thresholds)
        if budgets.daily_usd is not None and team.daily_usd > budgets.daily_usd:
            yield Issue(f"{path}.daily_usd", "above the fleet's daily budget", team.daily_usd,
                        f"budgets.daily_usd is {budgets.daily_usd:g}; a team's share cannot exceed it")


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
