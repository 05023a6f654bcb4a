"""What a cluster's rules need from the catalog: each GPU model's hourly price, each GPU machine's host NIC bandwidth.

Prices come from the same `PriceBook` the plan and the budget policies use (catalog list prices, then the stack's
`prices` overrides), per GPU: a pool's machine price over its GPUs per machine, spot pools at the spot price, and
the dearest where one DCGM model name covers several pools or instance types (a ceiling is never understated).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components import catalog
from components.catalog.price_book import DiscountTerm, PriceBook
from components.config.model import PriceOverride
from components.config.prices import Discount
from components.kubernetes.monitoring.rules import GpuPrice, NicBandwidth


@dataclass(frozen=True)
class PoolPricing:
    """A GPU pool as pricing sees it: the machine types it may run, where, and whether it is priced as spot."""

    machine_types: tuple[str, ...]
    region: str
    spot: bool


def price_book(overrides: Sequence[PriceOverride], discounts: Sequence[Discount] = ()) -> PriceBook:
    """The stack's price book: its `prices` overrides over the catalog's list prices, less its `discounts`."""
    return PriceBook({(p.machine_type, p.region): (p.on_demand_hourly_usd, p.spot_hourly_usd) for p in overrides},
                     tuple(DiscountTerm.from_dict(d.model_dump(mode="json")) for d in discounts))


def gpu_prices(pools: Iterable[PoolPricing], book: PriceBook) -> tuple[GpuPrice, ...]:
    """One price per DCGM model name in the cluster; GPUs without a catalog pattern or price are left out."""
    by_pattern: dict[str, tuple[set[str], float]] = {}
    for pool in pools:
        for name in pool.machine_types:
            machine = catalog.find_machine_type(name)
            pattern = catalog.dcgm_model_pattern(machine.gpu) if machine else None
            hourly = book.hourly(name, pool.region, spot=pool.spot) if machine else None
            if machine is None or pattern is None or hourly is None:
                continue
            ids, best = by_pattern.get(pattern, (set(), 0.0))
            by_pattern[pattern] = (ids | {machine.gpu}, max(best, hourly / machine.gpus))
    return tuple(GpuPrice("+".join(sorted(ids)), pattern, round(price, 6))
                 for pattern, (ids, price) in sorted(by_pattern.items(), key=lambda kv: sorted(kv[1][0])))


def nic_bandwidths(machine_types: Iterable[str]) -> tuple[NicBandwidth, ...]:
    """The bandwidth each machine type's host NIC counters are judged against (`catalog.host_nic_gbps`).

    Machine types without one are left out.
    """
    out = {m: catalog.host_nic_gbps(m) for m in machine_types}
    return tuple(NicBandwidth(m, gbps) for m, gbps in sorted(out.items()) if gbps is not None)
