"""The capacity view's records: a registered resource as capacity sees it, a capacity row, cost, prices."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from components import catalog

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


@dataclass(frozen=True)
class DiscountTerm:
    """A negotiated discount (gpu-fleet:discounts) as pricing applies it: a share off matching on-demand prices."""

    name: str
    kind: str
    """committed-use, savings-plan or negotiated."""
    percent: float
    """Percent off the on-demand price, 0 < percent < 100."""
    machine_types: tuple[str, ...] = ()
    """fnmatch patterns of the machine types it covers; empty: every machine."""
    regions: tuple[str, ...] = ()
    """Regions it covers; empty: every region."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DiscountTerm:
        return cls(str(d["name"]), str(d["kind"]), float(d["percent"]), tuple(d.get("machine_types") or ()),
                   tuple(d.get("regions") or ()))

    def covers(self, machine: str, region: str) -> bool:
        return ((not self.machine_types or any(fnmatch.fnmatchcase(machine, p) for p in self.machine_types))
                and (not self.regions or region in self.regions))


@dataclass(frozen=True)
class Quote:
    """One pool's price per node-hour and where it comes from."""

    hourly_usd: float
    """What a node-hour costs after the discount."""
    list_hourly_usd: float
    source: str
    """`catalog` or `override`."""
    as_of: str | None
    ref: str
    discount: DiscountTerm | None = None

    def row_fields(self, per: int = 1) -> dict[str, Any]:
        """The CapacityRow fields of this quote (`per`: GPUs per priced unit, for per-GPU rows)."""
        d = self.discount
        return {"hourly_usd_per_node": self.hourly_usd / per, "list_hourly_usd_per_node": self.list_hourly_usd / per,
                "price_source": self.source, "price_as_of": self.as_of, "price_ref": self.ref,
                "discount": f"{d.name}: {d.kind} -{d.percent:g}%" if d else None}


UNPRICED_FIELDS: dict[str, Any] = {"hourly_usd_per_node": None, "price_source": "unpriced"}


@dataclass(frozen=True)
class PriceBook:
    """Catalog list prices, with overrides (machine type, region) -> (on-demand, spot) taking precedence.

    Discounts apply to on-demand prices only: committed-use discounts and savings plans cover on-demand usage, and
    Spot is a market price they do not lower. The first discount that covers a machine and region applies.
    """

    overrides: Mapping[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)
    discounts: tuple[DiscountTerm, ...] = ()

    def quote(self, machine: str, region: str, *, spot: bool) -> Quote | None:
        if (machine, region) in self.overrides:
            on_demand, spot_price = self.overrides[(machine, region)]
            source, as_of, ref = "override", None, f"gpu-fleet:prices[{machine}, {region}]"
        else:
            p = catalog.price(machine, region)
            if p is None:
                return None
            on_demand, spot_price = p.on_demand_hourly_usd, p.spot_hourly_usd
            source, as_of, ref = "catalog", p.as_of, p.source.url
        # Without a spot price, spot capacity is priced at on-demand: a ceiling must never be understated.
        if spot and spot_price is not None:
            return Quote(spot_price, spot_price, source, as_of, ref)
        discount = next((d for d in self.discounts if d.covers(machine, region)), None)
        net = on_demand * (1 - discount.percent / 100) if discount else on_demand
        return Quote(net, on_demand, source, as_of, ref, discount)

    def hourly(self, machine: str, region: str, *, spot: bool) -> float | None:
        q = self.quote(machine, region, spot=spot)
        return q.hourly_usd if q is not None else None

    def row_price(self, machine: str, region: str, *, spot: bool, per: int = 1) -> dict[str, Any]:
        """The price fields of a CapacityRow for `machine` in `region` (unpriced where the book has none)."""
        q = self.quote(machine, region, spot=spot)
        return q.row_fields(per) if q is not None else dict(UNPRICED_FIELDS)


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
