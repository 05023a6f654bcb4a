"""Smaller stack documents for tests whose claim holds on a part of a shipped stack (issue 22: plan the smallest
stack that still shows the behaviour). The text forms keep the shipped file's lines as they are, for tests that edit
a stack file as a user would (README recipes).

A plan's CPU is the SDK's work per resource: prod's three GKE regions are most of its 625 resources, and a claim
about every platform (GKE, EKS, OpenShift) needs one region of each, not three of one.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.support.plans import gke_of, gke_only


def gke_region(doc: dict[str, Any], region: str) -> dict[str, Any]:
    """The stack's GKE side (`gke_only`) with only `region`'s clusters: quotas, reservations and pools are per region,
    so a region's verdicts on them are the whole stack's. Everything else (budgets, observability) stays as shipped."""
    doc = gke_only(doc)
    regions = [r for r in gke_of(doc)["regions"] if r["name"] == region]
    assert regions, region
    gke_of(doc)["regions"] = regions
    return doc


def one_gke_region(doc: dict[str, Any]) -> dict[str, Any]:
    """The stack with its GKE side cut to its first region (all its clusters: team budgets name their namespaces);
    EKS and OpenShift untouched."""
    doc = copy.deepcopy(doc)
    gke = gke_of(doc)
    gke["regions"] = gke["regions"][:1]
    return doc


def without_keys(text: str, *keys: str) -> str:
    """`text` (a `Pulumi.<stack>.yaml`) without the `config:` entries `keys` (each with its value's lines)."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("   ") and not line.lstrip().startswith("#"):
            skipping = line.strip().split(":", 2)[0:2] in [k.split(":", 1) for k in keys]
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def openshift_only(text: str) -> str:
    """The stack without its GKE and EKS sections and GCP price overrides; its budget keeps the daily total and
    thresholds but not the GCP, AWS and team parts (each needs a fleet or namespace left out)."""
    budget = ["  gpu-fleet:budgets:",
              *(line for line in _value_lines(text, "gpu-fleet:budgets") if line.startswith(BUDGET_KEPT))]
    kept = without_keys(text, "gpu-fleet:gke", "gpu-fleet:eks", "gpu-fleet:prices", "gpu-fleet:budgets")
    return kept + "\n".join(budget) + "\n"


BUDGET_KEPT = ("    daily_usd:", "    thresholds:", "    emails:")


def _value_lines(text: str, key: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"  {key}:")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  ") and lines[i][2] != " "),
               len(lines))
    return lines[start + 1:end]


def eks_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The stack document without its `gke:` and `openshift:` sections (nor its GCP budget, nor GKE price overrides)."""
    doc = copy.deepcopy(doc)
    for key in ("gpu-fleet:gke", "gpu-fleet:openshift", "gpu-fleet:prices"):
        doc["config"].pop(key, None)
    budgets = doc["config"].get("gpu-fleet:budgets")
    if budgets is not None and budgets.pop("gcp", None) is not None and budgets.get("aws"):
        budgets["aws"].pop("share", None)  # AWS alone holds the whole budget
    _keep_team_budgets(doc, [c for r in doc["config"]["gpu-fleet:eks"]["regions"] for c in r["clusters"]])
    return doc


def _keep_team_budgets(doc: dict[str, Any], clusters: list[dict[str, Any]]) -> None:
    """Only the team budgets whose namespaces `clusters` hold (a team budget needs its namespace on a cluster)."""
    budgets = doc["config"].get("gpu-fleet:budgets")
    if budgets is None or "teams" not in budgets:
        return
    namespaces = {n["name"] for c in clusters for n in (c.get("addons") or {}).get("namespaces", [])}
    budgets["teams"] = [t for t in budgets["teams"] if t["name"] in namespaces]
    if not budgets["teams"]:
        del budgets["teams"]


def gke_cluster(doc: dict[str, Any], region: str, cluster: str) -> dict[str, Any]:
    """`gke_region(doc, region)` with only its `cluster`, without OpenShift (nor its kubeconfig secret), and with only
    the team budgets whose namespaces that cluster holds: for a claim about one cluster's pools, at a third of its
    region's plan. A pool's quota figures are its region's only where no other cluster there shares its quota key."""
    doc = gke_region(doc, region)
    clusters = [c for c in gke_of(doc)["regions"][0]["clusters"] if c["name"] == cluster]
    assert clusters, cluster
    gke_of(doc)["regions"][0]["clusters"] = clusters
    for key in ("gpu-fleet:openshift", "gpu-fleet:openshift-ocp-ai-kubeconfig"):
        doc["config"].pop(key, None)
    _keep_team_budgets(doc, clusters)
    return doc
