"""Smaller stack documents for tests whose claim holds on a part of a shipped stack (issue 22: plan the smallest
stack that still shows the behaviour).

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
