"""Production GPUs have capacity behind them: a production-critical pool of scarce GPUs is reserved.

GCP does not promise on-demand A100, H100 or H200 capacity ("sufficient on-demand capacity is not guaranteed",
GKE consumption options); a pool marked production-critical on such a machine with no specific reservation
is a bet on availability, and the stack should say so out loud.
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

from components import catalog
from components.capacity.gke import GKE_NODE_POOL
from components.kubernetes.conventions import LABEL_CAPACITY, LABEL_CRITICAL
from policies.view import config_path, plain


def unbacked_critical_pool(p: Mapping[str, Any]) -> str | None:
    nc = p.get("nodeConfig") or {}
    labels = nc.get("labels") or {}
    if labels.get(LABEL_CRITICAL) != "true" or labels.get(LABEL_CAPACITY, "on-demand") != "on-demand":
        return None
    machine = str(nc.get("machineType") or "")
    if machine.split("-")[0] not in catalog.CAPACITY_CONSTRAINED_SERIES:
        return None
    if (nc.get("reservationAffinity") or {}).get("consumeReservationType") == "SPECIFIC_RESERVATION":
        return None
    path = config_path(p)
    return (f"{path} is production-critical on {machine} with on-demand capacity and no specific reservation: "
            "GCP does not guarantee on-demand A100/H100/H200 capacity, so a stockout leaves production without "
            f"GPUs. Reserve it ({path}.reservation: {{mode: specific, name: <reservation>}}), or set "
            "production_critical: false.")


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != GKE_NODE_POOL:
        return
    props = plain(args.props)
    if props.get("name") in (args.get_config().get("exempt") or []):
        return
    message = unbacked_critical_pool(props)
    if message:
        report(message, None)


gpu_critical_capacity_reserved = ResourceValidationPolicy(
    name="gpu-critical-capacity-reserved",
    description="Production-critical pools of scarce GPUs (A2, A3) consume a specific reservation.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={
        "exempt": {"type": "array", "items": {"type": "string"}, "default": [],
                   "description": "GKE node pool names this policy skips (say why in the pack config's VCS)"},
    }),
)
