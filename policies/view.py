"""What policies see of a stack: the shared capacity rows (same code as the plan) and config-key paths.

Props arrive wrapped by the policy engine (unknown values raise on access, secrets are proxied); they are
turned into plain data once, unknowns becoming `UNKNOWN`, so every policy reads ordinary dicts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret

from components.capacity import CapacityRow, ResourceView, capacity_rows
from components.kubernetes.conventions import LABEL_CLUSTER, LABEL_POOL
from policies.demand import price_book

PRICES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Price overrides: negotiated or newer prices replacing the catalog's list prices.",
    "default": [],
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["machine_type", "region", "on_demand_hourly_usd"],
        "properties": {
            "machine_type": {"type": "string"},
            "region": {"type": "string"},
            "on_demand_hourly_usd": {"type": "number", "exclusiveMinimum": 0},
            "spot_hourly_usd": {"type": "number", "exclusiveMinimum": 0},
        },
    },
}


class Unknown:
    """A value only known after deployment. Truthy, so `if not x` checks give it the benefit of the doubt."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


def plain(value: Any) -> Any:
    """Unwrap the engine's proxies: unknown values become `UNKNOWN`, secrets their value."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def views(resources: Iterable[PolicyResource]) -> list[ResourceView]:
    return [ResourceView(r.resource_type, r.urn, r.name, plain(r.props)) for r in resources]


def rows(resources: Iterable[PolicyResource], config: Mapping[str, Any]) -> list[CapacityRow]:
    return capacity_rows(views(resources), price_book(config))


def pool_label(row: CapacityRow) -> str:
    shape = f"{row.machine_type}, " if row.machine_type else ""
    return (f"{row.cluster}/{row.pool} ({shape}{row.max_nodes} nodes x {row.gpus_per_node} GPUs = "
            f"{row.max_gpus} {row.gpu})")


def config_path(p: Mapping[str, Any]) -> str:
    """The stack-config key of a GKE cluster or node pool, as far as its properties tell."""
    region = p.get("location")
    labels = (p.get("nodeConfig") or {}).get("labels") or {}
    if "cluster" not in p:  # a cluster
        return f"gke.regions[{region}].clusters[{p.get('name')}]"
    cluster = labels.get(LABEL_CLUSTER) or p.get("cluster")
    if not isinstance(cluster, str):
        cluster = "?"
    base = f"gke.regions[{region}].clusters[{cluster}]"
    if labels.get(LABEL_POOL):
        return f"{base}.gpu_pools[{labels[LABEL_POOL]}]"
    return f"{base}.system_pool" if p.get("name") == "system" else f"node pool {p.get('name')} of {base}"


def prefix_length(cidr: Any) -> int:
    """The prefix length of a CIDR (0, the widest, for anything unreadable: a check errs toward flagging)."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen
    except ValueError:
        return 0
