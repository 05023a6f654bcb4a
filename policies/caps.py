"""Runtime caps exist, so no scale-up can run past what the quota and budget policies judged.

Every autoscaled GPU pool has a finite maximum, and node auto-provisioning carries GPU resource limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from components.capacity.gke import GKE_CLUSTER, GKE_NODE_POOL
from policies.view import config_path, plain


def pool_cap(props: Mapping[str, Any], max_nodes_per_pool: int) -> str | None:
    node_config = props.get("nodeConfig") or {}
    if not node_config.get("guestAccelerators"):
        return None
    auto = props.get("autoscaling")
    if not auto:
        return None  # a fixed-size pool is its own cap
    maximum = auto.get("totalMaxNodeCount") or auto.get("maxNodeCount")
    zones = len(props.get("nodeLocations") or []) or 1
    total = maximum if auto.get("totalMaxNodeCount") else (maximum or 0) * zones
    if not maximum:
        return f"{config_path(props)} autoscales with no maximum. Set {config_path(props)}.autoscaling.max_nodes."
    if total > max_nodes_per_pool:
        return (f"{config_path(props)} can grow to {total} nodes, above the cap of {max_nodes_per_pool} per pool. "
                f"Lower {config_path(props)}.autoscaling.max_nodes, or raise gpu-pool-max-nodes.max_nodes_per_pool.")
    return None


def nap_limits(props: Mapping[str, Any]) -> str | None:
    autoscaling = props.get("clusterAutoscaling") or {}
    if not autoscaling.get("enabled"):
        return None
    limits = [lim for lim in autoscaling.get("resourceLimits") or []
              if str(lim.get("resourceType", "")).startswith("nvidia-")]
    if not limits:
        return (f"{config_path(props)} has node auto-provisioning without GPU resource limits: it could create GPU "
                f"nodes of any type and number. Set {config_path(props)}.auto_provisioning.gpu_limits.")
    return None


def _pool(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == GKE_NODE_POOL:
        message = pool_cap(plain(args.props), int(args.get_config().get("max_nodes_per_pool", 256)))
        if message:
            report(message, None)


def _nap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == GKE_CLUSTER:
        message = nap_limits(plain(args.props))
        if message:
            report(message, None)


gpu_pool_max_nodes = ResourceValidationPolicy(
    name="gpu-pool-max-nodes",
    description="Every autoscaled GPU node pool has a finite maximum, within a per-pool cap.",
    validate=_pool,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_nodes_per_pool": {"type": "integer", "minimum": 1, "default": 256,
                               "description": "Largest node count any one GPU pool may reach"},
    }),
)

nap_gpu_limits = ResourceValidationPolicy(
    name="nap-gpu-limits",
    description="A cluster with node auto-provisioning carries GPU resource limits.",
    validate=_nap,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),  # nothing to tune: any GPU limit is better than none
)
