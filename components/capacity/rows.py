"""The capacity view's records: a registered resource as capacity sees it, a capacity row, cost.

Prices come from `components.catalog.price_book` (a value below capacity and the in-cluster monitoring alike).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from components.catalog.price_book import UNPRICED_FIELDS, DiscountTerm, PriceBook, Quote

__all__ = ["HOURS_PER_MONTH", "UNPRICED_FIELDS", "CapacityRow", "Cost", "DiscountTerm", "Extractor", "PriceBook",
           "Quote", "ResourceView", "cost"]

HOURS_PER_MONTH = 730
"""Cloud billing convention (GCP and AWS both price a month as 730 hours)."""


class ResourceView(NamedTuple):
    """What capacity needs of a registered resource: type token, URN, logical name and properties.

    `inputs` are a custom resource's inputs, or a component's registered outputs.
    """

    type: str
    urn: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class CapacityRow:
    platform: str
    cluster: str
    region: str
    pool: str
    machine_type: str
    gpu: str
    accelerator: str
    gpus_per_node: int
    zones: list[str]
    min_nodes: int
    max_nodes: int
    min_gpus: int
    max_gpus: int
    spot: bool
    hourly_usd_per_node: float | None
    source_urn: str
    capacity: str = "on-demand"
    """on-demand, spot, flex-start or queued; an EKS pool's allowed capacity types joined by `+`."""
    production_critical: bool = False
    machine_types: tuple[str, ...] = ()
    """Every instance type a pool may launch (EKS NodePools); empty where the pool has one (`machine_type`)."""
    capacity_types: tuple[str, ...] = ()
    """Every capacity type a pool may use (EKS NodePools: reserved, spot, on-demand)."""
    fabric: str = "TCP"
    """How the pool's GPUs reach other nodes, as registered: TCPX, TCPXO or RDMA (GKE pools with their GPU NICs),
    `EFA x32` (EKS pools with EFA interfaces), else TCP (the primary NIC only)."""
    price_source: str = "unpriced"
    """Where `hourly_usd_per_node` comes from: `catalog` (the snapshot's list price), `override` (the stack's
    gpu-fleet:prices) or `unpriced`."""
    price_as_of: str | None = None
    """The date of the catalog price's data (None for an override or an unpriced pool)."""
    price_ref: str | None = None
    """The catalog price's source URL, or the override's config key."""
    list_hourly_usd_per_node: float | None = None
    """The price before any negotiated discount (equal to `hourly_usd_per_node` when none applies)."""
    discount: str | None = None
    """The gpu-fleet:discounts entry applied (`name: kind -N%`), or None."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cost:
    hourly_usd_max: float
    monthly_usd_min: float
    monthly_usd_max: float
    unpriced_pools: list[str] = field(default_factory=list)
    """Source URNs of rows without a price (left out of the sums, and reported)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Extractor = Callable[[ResourceView, PriceBook], Iterator[CapacityRow]]


def cost(rows: Iterable[CapacityRow]) -> Cost:
    hourly_min = hourly_max = 0.0
    unpriced: list[str] = []
    for row in rows:
        if row.hourly_usd_per_node is None:
            unpriced.append(row.source_urn)
            continue
        hourly_min += row.min_nodes * row.hourly_usd_per_node
        hourly_max += row.max_nodes * row.hourly_usd_per_node
    return Cost(
        hourly_usd_max=round(hourly_max, 2),
        monthly_usd_min=round(hourly_min * HOURS_PER_MONTH, 2),
        monthly_usd_max=round(hourly_max * HOURS_PER_MONTH, 2),
        unpriced_pools=unpriced,
    )
