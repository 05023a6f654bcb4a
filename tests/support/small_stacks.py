"""Smaller stack documents for tests whose claim holds on a part of a shipped stack.

A plan's CPU is the SDK's work per resource: prod's three GKE regions are most of its 625 resources, and a claim
about every platform (GKE, EKS, OpenShift) needs one region of each, not three of one.
"""

from __future__ import annotations

import copy
from typing import Any


def one_gke_region(doc: dict[str, Any]) -> dict[str, Any]:
    """The stack with its GKE side cut to its first region (all its clusters: team budgets name their namespaces);
    EKS and OpenShift untouched."""
    doc = copy.deepcopy(doc)
    gke = doc["config"]["gpu-fleet:gke"]
    gke["regions"] = gke["regions"][:1]
    return doc
