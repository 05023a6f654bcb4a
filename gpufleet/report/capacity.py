"""The capacity sections: GPUs and cost by region and model, each pool, the monthly cost, each pool's fabric.

With a base plan, the rows a change moves come first (regions and pools changed), each with its `$` and % delta;
cost is at the floor and the ceiling; the fabric section puts pools left on TCP despite a fabric first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components import catalog
from components.capacity import HOURS_PER_MONTH, CapacityRow, pool_path
from gpufleet.base_plan import base_rows
from gpufleet.report.formatting import Row, delta_count, delta_usd, inline, plural, usd, usd0
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan


@dataclass
class RegionGpu:
    """GPUs of one model in one region, and what they cost per month, at minimum and maximum scale."""

    min_gpus: int = 0
    max_gpus: int = 0
    monthly_usd_min: float = 0.0
    monthly_usd_max: float = 0.0
    priced_pools: int = 0
    unpriced_pools: int = 0

    def usd(self, value: float) -> str:
        """A cost of this group: n/a when none of its pools has a price, marked when some lack one."""
        if self.unpriced_pools and not self.priced_pools:
            return "n/a"
        return usd(value) + (" + n/a" if self.unpriced_pools else "")


def by_region(rows: list[CapacityRow]) -> dict[tuple[str, str], RegionGpu]:
    """(region, gpu) -> GPUs and monthly cost at minimum and maximum scale.

    Unpriced pools add GPUs but no cost here; the plan lists them separately.
    """
    totals: dict[tuple[str, str], RegionGpu] = defaultdict(RegionGpu)
    for row in rows:
        t = totals[(row.region, row.gpu)]
        t.min_gpus += row.min_gpus
        t.max_gpus += row.max_gpus
        if row.hourly_usd_per_node is None:
            t.unpriced_pools += 1
        else:
            t.priced_pools += 1
        price = row.hourly_usd_per_node or 0.0
        t.monthly_usd_min += row.min_nodes * price * HOURS_PER_MONTH
        t.monthly_usd_max += row.max_nodes * price * HOURS_PER_MONTH
    return dict(sorted(totals.items()))


_REGION_COLUMNS = ("region", "GPU", "GPUs min", "GPUs max", "$/month min", "$/month max")


def _region_rows(plan: Plan, base: dict[str, Any] | None, *, only_changed: bool) -> list[tuple[str, ...]]:
    current = by_region(plan.capacity)
    old_rows = base_rows(base)
    old = by_region(old_rows) if old_rows is not None else {}
    rows = []
    for key in sorted(set(current) | set(old)):
        t, o = current.get(key, RegionGpu()), old.get(key, RegionGpu())
        row: tuple[str, ...] = (key[0], key[1], str(t.min_gpus), str(t.max_gpus), t.usd(t.monthly_usd_min),
                                t.usd(t.monthly_usd_max))
        if old_rows is not None:
            moved = (t.min_gpus, t.max_gpus, round(t.monthly_usd_max, 2)) != \
                (o.min_gpus, o.max_gpus, round(o.monthly_usd_max, 2))
            if only_changed and not moved:
                continue
            row += (delta_count(t.max_gpus, o.max_gpus), delta_usd(t.monthly_usd_max, o.monthly_usd_max))
        rows.append(row)
    return rows


def region_changes_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Only the region and GPU rows this change moves (with a base)."""
    if base_rows(base) is None:
        return None
    rows = _region_rows(plan, base, only_changed=True)
    total = len(_region_rows(plan, base, only_changed=False))
    if not rows:
        return None
    return Section(key="regions-changed", title="GPU changes by region and type",
                   headline=f"{len(rows)} of {plural(total, 'region and GPU row')}; {total - len(rows)} unchanged",
                   changed=True, columns=(*_REGION_COLUMNS, "change: GPUs max", "change: $/month max"), rows=rows)


def regions_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Every region and GPU model at minimum and maximum scale: open without a base, else collapsed."""
    with_base = base_rows(base) is not None
    columns = (*_REGION_COLUMNS, "change: GPUs max", "change: $/month max") if with_base else _REGION_COLUMNS
    rows = _region_rows(plan, base, only_changed=False)
    return Section(key="regions", title="GPUs and monthly cost by region and type, at minimum and maximum scale",
                   headline=f"{plural(len(rows), 'region and GPU row')}", changed=not with_base, columns=columns,
                   rows=rows)


def _monthly_max(row: CapacityRow) -> float:
    return row.max_nodes * (row.hourly_usd_per_node or 0.0) * HOURS_PER_MONTH


def _shape(row: CapacityRow) -> str:
    return f"{row.machine_type or row.gpu}, {row.capacity}"


def pool_changes(current: list[CapacityRow], base: list[CapacityRow]) -> list[tuple[str, ...]]:
    """A row for every GPU pool added, removed or changed against `base`, keyed by its stack-config key."""
    now = {pool_path(r): r for r in current}
    before = {pool_path(r): r for r in base}
    out: list[Row] = []
    for key in sorted(set(now) | set(before)):
        new, old = now.get(key), before.get(key)
        if new is not None and old is not None:
            if (_shape(new), new.min_gpus, new.max_gpus, new.hourly_usd_per_node) == \
                    (_shape(old), old.min_gpus, old.max_gpus, old.hourly_usd_per_node):
                continue
            change = "changed" if _shape(new) == _shape(old) else f"changed from {_shape(old)}"
            gpus_min, gpus_max = f"{old.min_gpus} → {new.min_gpus}", f"{old.max_gpus} → {new.max_gpus}"
        elif new is not None:
            change, gpus_min, gpus_max = "added", f"{new.min_gpus}", f"{new.max_gpus}"
        else:
            assert old is not None
            change, gpus_min, gpus_max = "removed", f"{old.min_gpus} → 0", f"{old.max_gpus} → 0"
        row = new or old
        assert row is not None
        cost = delta_usd(_monthly_max(new) if new else 0.0, _monthly_max(old) if old else 0.0)
        out.append((f"`{key}`", change, _shape(row), row.gpu, gpus_min, gpus_max, cost))
    return out


def pool_changes_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Every GPU pool the change adds, removes or resizes, by the stack-config key to look at."""
    old = base_rows(base)
    if old is None:
        return None
    rows = pool_changes(plan.capacity, old)
    kinds = Counter(r[1].split(" ")[0] for r in rows)
    return Section(key="pools-changed", title="GPU pools changed",
                   headline=f"{plural(len(rows), 'pool') if rows else 'none'}"
                            + (f" ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})" if rows else ""),
                   changed=bool(rows), rows=rows,
                   columns=("pool (stack-config key)", "change", "machine, capacity", "GPU", "GPUs min", "GPUs max",
                            "change: $/month max"))


def subscription_note(rows: list[CapacityRow]) -> str | None:
    """The cost's scope on OpenShift: EC2 GPU machines only, never the OpenShift subscription."""
    clusters = sorted({r.cluster for r in rows if r.platform == "openshift"})
    if not clusters:
        return None
    return (f"OpenShift ({', '.join(clusters)}): the cost is the GPU machines' EC2 price only; the OpenShift "
            "subscription for their cores (Red Hat bills it per core pair) is left out.")


def cost_section(plan: Plan, base: dict[str, Any] | None) -> Section:
    """The monthly cost at the floor and the ceiling, and its change against the base."""
    c = plan.cost
    old = (base or {}).get("cost") if base_rows(base) is not None else None
    figures = [("floor (minimum scale), per month", c.monthly_usd_min, "monthly_usd_min"),
               ("ceiling (maximum scale), per month", c.monthly_usd_max, "monthly_usd_max"),
               ("ceiling, per hour", c.hourly_usd_max, "hourly_usd_max")]
    rows = [(what, usd(now), *((delta_usd(now, float(old.get(key) or 0)),) if isinstance(old, dict) else ()))
            for what, now, key in figures]
    notes = [n for n in (subscription_note(plan.capacity),) if n]
    if c.unpriced_pools:
        n = len(c.unpriced_pools)
        notes.append(f"{plural(n, 'pool')} {'has' if n == 1 else 'have'} no price in the catalog or config and "
                     f"{'is' if n == 1 else 'are'} left out of the cost")
    moved = isinstance(old, dict) and any(r[2] != "$0.00" for r in rows)
    headline = f"ceiling {usd0(c.monthly_usd_max)}/month, floor {usd0(c.monthly_usd_min)}/month"
    if isinstance(old, dict):
        headline = (f"ceiling {usd0(c.monthly_usd_max)}/month ({inline(rows[1][2])}), floor "
                    f"{usd0(c.monthly_usd_min)}/month ({inline(rows[0][2])})")
    return Section(key="cost-summary", title="Monthly GPU cost", headline=headline, changed=moved or old is None,
                   columns=("cost", "USD", *(("change",) if isinstance(old, dict) else ())), rows=rows, notes=notes)


def pools_section(plan: Plan, base: dict[str, Any] | None) -> Section:
    """Every GPU pool: machine, capacity, zones, nodes and GPUs at the floor and ceiling, price, fabric."""
    rows: list[Row] = [(r.cluster, r.region, r.pool, r.machine_type or "(any)", r.capacity, str(len(r.zones)),
             f"{r.min_nodes}-{r.max_nodes} nodes", f"{r.min_gpus}-{r.max_gpus} GPUs", usd(r.hourly_usd_per_node),
             r.fabric) for r in plan.capacity]
    return Section(key="pools", title="GPU pools", headline=plural(len(rows), "GPU pool"), rows=rows,
                   columns=("cluster", "region", "pool", "machine", "capacity", "zones", "nodes", "gpus",
                            "$/node-hour", "fabric"))


def _fabric_available(row: CapacityRow) -> str | None:
    """The fabric the pool's machine has in the catalog (GPUDirect, or EFA for training instances), if any."""
    gke = catalog.fabric.gke_fabric(row.machine_type)
    if row.platform == "gke":
        return gke.transport.value if gke is not None else None
    names = row.machine_types or (row.machine_type,)
    if row.platform == "eks" and all(catalog.fabric.efa_by_default(n) for n in names):
        return f"EFA x{catalog.machine_type(names[0]).efa_interfaces}"
    return None


def fabric_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each GPU pool's fabric; pools left on TCP although their machine has a fabric come first."""
    pools = [r for r in plan.capacity if r.pool != "auto-provisioning"]
    if not pools:
        return None

    def missing(r: CapacityRow) -> bool:
        return r.fabric == "TCP" and _fabric_available(r) is not None

    rows: list[Row] = [(f"`{pool_path(r)}`", str(r.machine_type), str(r.gpus_per_node), str(r.max_gpus),
             f"TCP ({r.machine_type} has {_fabric_available(r)}: turned off)" if missing(r) else r.fabric)
            for r in sorted(pools, key=lambda r: (not missing(r), pool_path(r)))]
    off = sum(1 for r in pools if missing(r))
    return Section(key="fabric", title="GPU fabric per pool",
                   headline=(f"{plural(off, 'pool')} on TCP although its machine has a GPU fabric" if off else
                             f"{plural(len(pools), 'pool')}, each on the fabric its machine has"),
                   columns=("pool (stack-config key)", "machine", "GPUs per node", "GPUs max", "fabric"), rows=rows,
                   notes=["TCP: GPUs reach other nodes over the primary NIC only; TCPX, TCPXO, RDMA: GPUDirect over "
                          "the pool's GPU NICs; EFA xN: N EFA interfaces per node."])
