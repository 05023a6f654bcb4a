"""What a pool's node-hour costs: catalog list prices, the stack's overrides and negotiated discounts.

A value type below both rooms that price pools: capacity (the plan and the policies) and the in-cluster monitoring
(the cost alerts' price series), so that neither imports the other and both price a pool the same way.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components import catalog


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
        return cls(name=str(d["name"]), kind=str(d["kind"]), percent=float(d["percent"]),
                   machine_types=tuple(d.get("machine_types") or ()), regions=tuple(d.get("regions") or ()))

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
            return Quote(hourly_usd=spot_price, list_hourly_usd=spot_price, source=source, as_of=as_of, ref=ref)
        discount = next((d for d in self.discounts if d.covers(machine, region)), None)
        net = on_demand * (1 - discount.percent / 100) if discount else on_demand
        return Quote(hourly_usd=net, list_hourly_usd=on_demand, source=source, as_of=as_of, ref=ref, discount=discount)

    def hourly(self, machine: str, region: str, *, spot: bool) -> float | None:
        q = self.quote(machine, region, spot=spot)
        return q.hourly_usd if q is not None else None

    def row_price(self, machine: str, region: str, *, spot: bool, per: int = 1) -> dict[str, Any]:
        """The price fields of a CapacityRow for `machine` in `region` (unpriced where the book has none)."""
        q = self.quote(machine, region, spot=spot)
        return q.row_fields(per) if q is not None else dict(UNPRICED_FIELDS)
