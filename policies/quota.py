"""GPU quota at maximum scale, per cloud region and quota metric, plus GCP's global GPUS_ALL_REGIONS and NETWORKS.

Usage comes from the shared capacity rows: GCP counts GPUs against the catalog's metric for the machine
(NVIDIA_H100_MEGA_GPUS is not NVIDIA_H100_GPUS; spot, flex-start and queued capacity count against
PREEMPTIBLE_*, except that they consume the standard quota in a region where no preemptible quota is
granted, as Compute Engine does); AWS counts vCPUs against each On-Demand or Spot quota code a pool can
reach (P, P5 Spot, G), at the worst instance mix its NodePool allows. GCP's VPC networks (the fleet network plus
every GPU fabric network) count against the project's NETWORKS quota where the config grants one (seed 002: 10).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components import catalog
from components.capacity import CapacityRow, pool_path
from policies.demand import GCP_NETWORK, NETWORKS, quota_usage
from policies.view import plain, pool_label, rows


def check(capacity: Iterable[CapacityRow], config: Mapping[str, Any]) -> list[str]:
    granted_regional: Mapping[str, Mapping[str, int]] = config.get("quotas") or {}
    granted_global: Mapping[str, int] = config.get("global_quotas") or {}
    messages = []
    for (region, metric), u in sorted(quota_usage(capacity, granted_regional).items()):
        if region == "global":
            granted = granted_global.get(metric)
            where, key = "all regions", f"gpu-quota.global_quotas.{metric}"
        else:
            granted = granted_regional.get(region, {}).get(metric)
            where, key = region, f"gpu-quota.quotas.{region}.{metric}"
        limit = int(granted or 0)
        if u.requested <= limit:
            continue
        pools = "; ".join(f"{pool_label(r)} at {pool_path(r)}" for r in u.rows)
        granted_text = "no quota granted" if granted is None else f"granted {limit}"
        spill = (f" Spot and flex-start pools count here because no {u.spilled_from} is granted in {region}: "
                 f"once GCP grants it, set gpu-quota.quotas.{region}.{u.spilled_from}." if u.spilled_from else "")
        messages.append(
            f"{where} {metric}: {u.requested} {u.unit} requested at maximum scale, {granted_text}. "
            f"Pools: {pools}. Lower their autoscaling.max_nodes (EKS: gpu_limit), or move them to another region, "
            f"or raise {key} in the stack's policy config once the cloud has granted it.{spill}"
        )
    return messages


def check_networks(names: Iterable[str], config: Mapping[str, Any]) -> list[str]:
    """VPC networks the stack creates against the granted NETWORKS quota; unchecked where none is configured."""
    granted = (config.get("global_quotas") or {}).get(NETWORKS)
    names = sorted(names)
    if granted is None or len(names) <= int(granted):
        return []
    return [f"all regions {NETWORKS}: {len(names)} VPC networks created ({', '.join(names)}), granted {int(granted)}; "
            "GPU fabrics take several (A3 Mega 8, A3 High 4) and the project's `default` network counts too. "
            "Disable the GPU fabric of a family (gpu_pools[].fabric.enabled: false), keep fewer families, or raise "
            f"gpu-quota.global_quotas.{NETWORKS} in the stack's policy config once GCP has granted it."]


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    for message in check(rows(args.resources, config), config):
        report(message, None)
    networks = [str(plain(r.props).get("name") or r.name) for r in args.resources if r.resource_type == GCP_NETWORK]
    for message in check_networks(networks, config):
        report(message, None)


# Region and quota names come from the catalog (both clouds), so a misspelt one is refused instead of granting
# nothing: a typo under `quotas` would otherwise leave the real quota at zero, or raise nothing at all. Each region
# takes its own cloud's names only: a GCP metric under us-east-1 (or an AWS code under us-central1) is never read
# by `check`, so it would grant nothing and say nothing. The schema says so, so the Pulumi CLI refuses it too.
GCP_QUOTA_METRICS = sorted({m for g in catalog.GPUS for m in (g.gcp_quota_metric, g.gcp_preemptible_quota_metric)
                            if m})
AWS_QUOTA_CODES = sorted({q.code for q in catalog.AWS_QUOTAS.values()})


def _region_quotas(region: str) -> dict[str, Any]:
    names = GCP_QUOTA_METRICS if region in catalog.GCP_REGIONS else AWS_QUOTA_CODES
    return {"type": "object", "propertyNames": {"enum": names},
            "additionalProperties": {"type": "integer", "minimum": 0}}


QUOTA_SCHEMA = PolicyConfigSchema(properties={
    "quotas": {
        "type": "object",
        "description": "Granted quota per region and metric: {region: {NVIDIA_H100_GPUS: 16, L-417A185B: 768}}",
        "default": {},
        "propertyNames": {"enum": sorted(catalog.quota_regions())},
        "properties": {region: _region_quotas(region) for region in sorted(catalog.quota_regions())},
    },
    "global_quotas": {
        "type": "object",
        "description": "Granted project-wide quotas, e.g. {GPUS_ALL_REGIONS: 128, NETWORKS: 10}",
        "default": {},
        "propertyNames": {"enum": [catalog.GCP_ALL_REGIONS_METRIC, NETWORKS]},
        "additionalProperties": {"type": "integer", "minimum": 0},
    },
})

gpu_quota = StackValidationPolicy(
    name="gpu-quota",
    description="GPUs at maximum scale fit the granted quota of each region and quota metric.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=QUOTA_SCHEMA,
)
