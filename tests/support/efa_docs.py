"""EKS EFA pools in the prod stack: their config keys and values, and the Karpenter objects the plan registers."""

from __future__ import annotations

from typing import Any

from gpufleet.report import Plan
from tests.support.fabric_docs import _prod_values
from tests.support.k8s_schemas import manifests

EKS_POOL = "eks.regions[us-east-1].clusters[ml-aws].gpu_pools"


def _nodeclasses(plan: Plan) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "EC2NodeClass"}


def _nodepools(plan: Plan) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "NodePool"}


def _eks_values() -> dict[str, Any]:
    return _prod_values()


def _eks_pool(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in raw["eks"]["regions"][0]["clusters"][0]["gpu_pools"] if p["name"] == name)
