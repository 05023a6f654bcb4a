"""A minimal valid `eks:` section and helpers to break it, for config-rule tests of the EKS wing."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError, load_fleet

CPATH = "eks.regions[us-east-1].clusters[ml-aws]"
PATH = f"{CPATH}.gpu_pools[pool]"


def raw_eks() -> dict[str, Any]:
    return {"environment": "test", "eks": {
        "admin_principal_arn": "arn:aws:iam::123456789012:role/admins",
        "regions": [{"name": "us-east-1", "clusters": [{
            "name": "ml-aws", "vpc_cidr": "10.40.0.0/16", "zones": ["us-east-1a", "us-east-1b"],
            "ami_version": "v20260724",
            # CI's path to the private endpoint (required since issue 17 §1).
            "deploy_from": {"runner": ["self-hosted", "gpu-fleet"], "private_cidrs": ["10.40.0.0/19"]},
            "gpu_pools": [{"name": "pool", "instance_types": ["g6e.48xlarge"], "capacity_types": ["on-demand"],
                           "gpu_limit": 16}]}]}]}}


def pool_of(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["eks"]["regions"][0]["clusters"][0]["gpu_pools"][0]


def eks_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The `gpu-fleet:eks` section of a stack document."""
    return doc["config"]["gpu-fleet:eks"]


def errors(raw: dict[str, Any]) -> list[str]:
    """The one-line issues loading `raw` reports (it must fail)."""
    with pytest.raises(ConfigError) as exc:
        load_fleet(raw)
    return [str(i) for i in exc.value.issues]
