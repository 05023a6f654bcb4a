"""Stack documents bigger than the shipped ones, for claims that need a fleet past some size (the review comment's
GitHub limit), grown where the claim's size lives at the least planning cost.

A plan's CPU is the SDK's work per resource (tests/support/small_stacks.py). A cluster brings 20 (a GKE cluster with
no GPU pool) to 142 (prod's EKS cluster) resources, a GPU pool two or three (its node pool and the component around
it), while each pool fills a row of every per-pool table of the comment and a line of its quota violation: a fleet
long to review because it has many pools costs a fraction of one that has many clusters
(benchmarks/plan_bench.py `synthetic`, which measures the planner on clusters).
"""

from __future__ import annotations

import copy
from typing import Any


def pools_times(doc: dict[str, Any], copies: int) -> dict[str, Any]:
    """A copy of `doc` in which every GKE, EKS and OpenShift cluster holds each of its GPU pools `copies` times, as
    `<name>-0` ... `<name>-<copies-1>` with the pool's settings (zones, reservation, autoscaling) unchanged."""
    doc = copy.deepcopy(doc)
    config = doc["config"]
    clusters = [c for key in ("gpu-fleet:gke", "gpu-fleet:eks") for r in (config.get(key) or {}).get("regions", [])
                for c in r["clusters"]]
    clusters += (config.get("gpu-fleet:openshift") or {}).get("clusters", [])
    for cluster in (c for c in clusters if c.get("gpu_pools")):
        cluster["gpu_pools"] = [{**copy.deepcopy(pool), "name": f"{pool['name']}-{n}"}
                                for n in range(copies) for pool in cluster["gpu_pools"]]
    return doc
