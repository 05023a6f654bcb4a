"""Spot capacity: its share of the stack's GPUs stays within bounds, and production-critical pools never use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.capacity import CapacityRow, pool_path
from policies.view import pool_label, rows


def spot_share(capacity: list[CapacityRow], config: Mapping[str, Any]) -> list[str]:
    total = sum(r.max_gpus for r in capacity)
    spot = [r for r in capacity if r.spot]
    spot_gpus = sum(r.max_gpus for r in spot)
    if not total:
        return []
    share, limit = spot_gpus / total, float(config.get("max_spot_share", 0.7))
    if share <= limit:
        return []
    pools = "; ".join(pool_path(r) for r in spot)
    return [f"{spot_gpus} of {total} GPUs at maximum scale are spot ({share:.0%}), above the {limit:.0%} allowed. "
            f"Spot pools: {pools}. Lower their autoscaling.max_nodes, set capacity: on-demand on some, or raise "
            "gpu-spot-share.max_spot_share."]


def critical_on_spot(capacity: list[CapacityRow]) -> list[tuple[str, str]]:
    return [(r.source_urn, f"{pool_label(r)} is production-critical but runs on spot capacity. Set "
                           f"{pool_path(r)}.capacity: on-demand, or production_critical: false.")
            for r in capacity if r.production_critical and (r.spot or r.capacity == "spot")]


def _share(args: StackValidationArgs, report: ReportViolation) -> None:
    for message in spot_share(rows(args.resources, args.get_config()), args.get_config()):
        report(message, None)


def _critical(args: StackValidationArgs, report: ReportViolation) -> None:
    for urn, message in critical_on_spot(rows(args.resources, {})):
        report(message, urn)


gpu_spot_share = StackValidationPolicy(
    name="gpu-spot-share",
    description="The share of GPU capacity on spot stays within the stack's bound (seed 002: at most 70%).",
    validate=_share,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={
        "max_spot_share": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.7,
                           "description": "Largest share of GPUs (at maximum scale) that may be spot"},
    }),
)

gpu_critical_not_spot = StackValidationPolicy(
    name="gpu-critical-not-spot",
    description="Pools marked production-critical never run on spot capacity.",
    validate=_critical,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),  # no knob: mark the pool not critical instead
)
