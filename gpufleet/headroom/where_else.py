"""Where else it could go: other regions and clouds of the stack with room for a pool that is tight.

For each pool that fails or nearly fails a quota or the budget: the stack's other regions (its own machine types)
and the other cloud (any machine of the same GPU model) whose quota has headroom for all its GPUs, with the price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components import catalog
from components.capacity import CapacityRow, PriceBook, pool_path, stack_prices
from gpufleet.headroom.budget import burns, priced_rows, share_pct
from gpufleet.headroom.quota import NEAR, Quota, plan_views, settings, stack_quotas
from gpufleet.sections import Section
from policies.demand import price_book

if TYPE_CHECKING:
    from gpufleet.report import Plan


@dataclass(frozen=True)
class Move:
    """Somewhere else a tight pool's GPUs could go: a region (or the other cloud) with headroom for all of them."""

    pool: str
    """The pool's stack-config key."""
    why: str
    """What is tight: a quota (`us-central1 NVIDIA_H100_MEGA_GPUS 100%`) or the budget."""
    region: str
    machine: str
    headroom_gpus: int
    """GPUs of this model the quota there still allows."""
    usd_per_gpu_hour: float | None
    delta_usd_per_gpu_hour: float | None
    """Price there minus price now, per GPU-hour (negative: cheaper)."""

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "why": self.why, "region": self.region, "machine": self.machine,
                "headroom_gpus": self.headroom_gpus, "usd_per_gpu_hour": self.usd_per_gpu_hour,
                "delta_usd_per_gpu_hour": self.delta_usd_per_gpu_hour}


def _room(by_key: Mapping[tuple[str, str], Quota], region: str, metric: str) -> int:
    q = by_key.get((region, metric))
    return q.headroom if q is not None else 0


def _candidates(row: CapacityRow, by_key: Mapping[tuple[str, str], Quota],
                regions: Mapping[str, set[str]], book: PriceBook) -> Iterable[tuple[str, str, int, float]]:
    """(region, machine, GPUs of headroom, USD per GPU-hour) for the same GPU model elsewhere in the stack.

    In the pool's own cloud, its own machine types in the other regions; in the other cloud, every machine type of
    the same GPU model (an H100 pool on GKE could be a p5 NodePool on EKS).
    """
    preemptible = row.spot or row.capacity in {"spot", "flex-start", "queued"}
    own = set(row.machine_types or (row.machine_type,))
    own_cloud = {m.cloud for n in own if (m := catalog.find_machine_type(n)) is not None}
    for machine in catalog.MACHINE_TYPES:
        if machine.gpu != row.gpu or not machine.gpus or (machine.cloud in own_cloud and machine.name not in own):
            continue
        aws = machine.cloud is catalog.Cloud.AWS
        for region in sorted(regions["aws" if aws else "gcp"] - {row.region}):
            if aws:
                code = catalog.aws_quota(machine, spot=preemptible).code
                room = max(_room(by_key, region, code), 0) // machine.vcpus * machine.gpus
            else:
                metric = catalog.gcp_quota_metric(machine, spot=preemptible)
                if by_key.get((region, metric)) is None:
                    # As quota_usage counts it: where no PREEMPTIBLE_ metric is granted, spot uses the standard one.
                    metric = metric.removeprefix("PREEMPTIBLE_")
                room = _room(by_key, region, metric)
            hourly = book.hourly(machine.name, region, spot=preemptible)
            if room >= row.max_gpus and hourly is not None:
                yield region, machine.name, room, hourly / machine.gpus


def _tight(row: CapacityRow, now: list[Quota], fleet_share: float | None) -> str | None:
    key = pool_path(row)
    for q in now:
        if key in q.pools and q.share >= NEAR:
            return f"{q.region} {q.metric} {share_pct(q.share) if math.isfinite(q.share) else 'none granted'}"
    if fleet_share is not None and fleet_share >= NEAR:
        return f"budget {share_pct(fleet_share)}"
    return None


def _regions(now: list[Quota]) -> dict[str, set[str]]:
    """The regions of each cloud the stack holds a quota in."""
    regions: dict[str, set[str]] = {"gcp": set(), "aws": set()}
    for q in now:
        if q.region != "global":
            regions["aws" if q.metric.startswith("L-") else "gcp"].add(q.region)
    return regions


def moves(plan: Plan) -> tuple[list[Move], list[str]]:
    """For each pool that fails or nearly fails a quota or the budget: the stack's other regions with headroom.

    Also the keys of the tight pools that have nowhere to go.
    """
    now = stack_quotas(plan)
    by_key = {(q.region, q.metric): q for q in now}
    regions = _regions(now)
    book = PriceBook({**stack_prices(plan_views(plan)).overrides,
                      **price_book(settings(plan.policy, "gpu-budget") or {}).overrides})
    fleet = [b.share for b in burns(plan) if b.name == "fleet"]
    out: list[Move] = []
    stuck: list[str] = []
    for row in priced_rows(plan):
        why = _tight(row, now, max(fleet) if fleet else None)
        if why is None or not row.gpus_per_node:
            continue
        here = row.hourly_usd_per_node / row.gpus_per_node if row.hourly_usd_per_node is not None else None
        found = sorted(_candidates(row, by_key, regions, book), key=lambda c: (c[3], c[0]))
        if why.startswith("budget") and here is not None:
            found = [c for c in found if c[3] < here]
        if not found:
            stuck.append(pool_path(row))
        for region, machine, room, price in found[:3]:
            delta = None if here is None else round(price - here, 4)
            out.append(Move(pool_path(row), why, region, machine, room, price, delta))
    return out, stuck


def where_else_section(plan: Plan, base: Mapping[str, Any] | None) -> Section | None:
    """Where else a pool that fails or nearly fails a quota or the budget could go, with the price difference.

    None without the pack: with no grants known, every pool would read as failing and nowhere as having room.
    """
    if plan.policy is None:
        return None
    found, stuck = moves(plan)
    if not found and not stuck:
        return None
    rows: list[tuple[str, ...]] = [(m.pool, m.why, f"{m.region} ({m.machine})", f"{m.headroom_gpus:,}",
             "n/a" if m.usd_per_gpu_hour is None else f"${m.usd_per_gpu_hour:,.2f}",
             "n/a" if m.delta_usd_per_gpu_hour is None else f"{m.delta_usd_per_gpu_hour:+,.2f} $/GPU-hour")
            for m in found]
    notes = ["Prices: the catalog, the stack's gpu-fleet:prices, then gpu-budget.prices."]
    if stuck:
        notes.append(f"{len(stuck)} tight pool{'' if len(stuck) == 1 else 's'} with no other region or cloud of "
                     f"the stack that has headroom for all their GPUs: {', '.join(stuck)}.")
    return Section(key="where_else", title="Where else it could go", changed=False,
                   columns=("pool", "tight", "elsewhere", "GPUs of headroom", "$/GPU-hour there", "difference"),
                   rows=rows, notes=notes, data={"moves": [m.to_dict() for m in found], "nowhere": stuck})
