"""Smaller stack documents for tests whose claim lives in one part of a stack (issue 22: plan the smallest stack
that still shows the behaviour)."""

from __future__ import annotations

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
