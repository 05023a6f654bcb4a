"""The offline plan as data (`Plan`, its JSON document) and its report: one function per section, two layouts.

Each report section is a function of the plan and the target branch's plan JSON (`base`, or None) that returns a
`Section` (gpufleet/sections.py); `SECTIONS` lists them in the order both layouts show them, so a new section plugs
in by appending its function there. `markdown` (the pull-request comment) and `render` (the terminal) put the
verdict first and lay the sections out with gpufleet/layout.py; neither computes anything a section does not.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from components import catalog, versions
from components.capacity import HOURS_PER_MONTH, CapacityRow, Cost, pool_path
from components.kubernetes.monitoring.rules import CAPACITY_SIGNALS_TYPE, MONITORING_TYPES
from gpufleet import (
    changes,
    headroom,
    image_list,
    layout,
    price_provenance,
    violations,
    waivers_section,
    watches,
)
from gpufleet.layout import Header, Links
from gpufleet.offline import Recorded
from gpufleet.sections import Section

ROOT = Path(__file__).resolve().parents[1]
"""The repository: paths in the report are relative to it."""
Row = tuple[str, ...]
"""A section's table row, as display strings."""


@dataclass
class Plan:
    stack: str
    resources: list[Recorded]
    capacity: list[CapacityRow]
    cost: Cost
    policy: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "stack": self.stack,
            "resources": [
                {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom,
                 "provider": r.provider, "dependencies": r.dependencies, "inputs": r.inputs}
                for r in self.resources
            ],
            "capacity": [row.to_dict() for row in self.capacity],
            "cost": self.cost.to_dict(),
        }
        doc["monitoring"] = monitoring(self.resources)
        doc["eks_versions"] = eks_versions(self.resources)
        if self.policy is not None:
            doc["policy"] = self.policy
        for make in SECTIONS:  # a section's machine-readable form, where it has one of its own
            section = make(self, None)
            if section is not None and section.data is not None and section.key not in doc:
                doc[section.key] = section.data
        return doc


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
        return _usd(value) + (" + n/a" if self.unpriced_pools else "")


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


# --- formatting: `$` and % on every delta, "new" instead of a % from zero -------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _usd0(value: float) -> str:
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def _pct(new: float, old: float) -> str:
    if old == 0:
        return "new" if new else "no change"
    return f"{(new - old) / abs(old) * 100:+.1f}%"


def delta_usd(new: float, old: float, *, cents: bool = True) -> str:
    """`+$67,846.20 (+5.0%)`, `+$12.00 (new)`, `$0.00`: a change of a cost, with its share of the old one."""
    d = new - old
    if abs(d) < 0.005:
        return "$0.00" if cents else "$0"
    money = f"{abs(d):,.2f}" if cents else f"{abs(d):,.0f}"
    return f"{'+' if d > 0 else '-'}${money} ({_pct(new, old)})"


def inline(delta: str) -> str:
    """A delta for running text: `+4, +100.0%` rather than `+4 (+100.0%)`; `no change` rather than `0`."""
    if delta in ("0", "$0", "$0.00"):
        return "no change"
    return delta.replace(" (", ", ").rstrip(")") if delta.endswith(")") else delta


def delta_count(new: int, old: int) -> str:
    """`+16 (+25.0%)`, `+8 (new)`, `0`: a change of a count, with its share of the old one."""
    if new == old:
        return "0"
    return f"{new - old:+d} ({_pct(new, old)})"


# --- the target branch's plan ---------------------------------------------------------------------------------------


def base_rows(base: dict[str, Any] | None) -> list[CapacityRow] | None:
    """The base plan's capacity rows, or None when there is no base or it cannot be read."""
    if base is None:
        return None
    try:
        known = set(CapacityRow.__dataclass_fields__)
        return [CapacityRow(**{k: v for k, v in r.items() if k in known}) for r in base["capacity"]]
    except (KeyError, TypeError, AttributeError):
        return None


def _usable(base: dict[str, Any] | None) -> dict[str, Any] | None:
    return base if base_rows(base) is not None else None


def _inputs(r: Any) -> str:
    return json.dumps(r.get("inputs") if isinstance(r, dict) else r.inputs, sort_keys=True, default=str)


def resource_counts(plan: Plan, base: dict[str, Any]) -> tuple[int, int, int]:
    """(created, updated, deleted) resources against the base, by URN and registered inputs."""
    now = {r.urn: _inputs(r) for r in plan.resources}
    before = {str(r.get("urn")): _inputs(r) for r in base.get("resources") or [] if isinstance(r, dict)}
    return (len(set(now) - set(before)), sum(1 for u in set(now) & set(before) if now[u] != before[u]),
            len(set(before) - set(now)))


# --- the verdict ---------------------------------------------------------------------------------------------------


def _level_counts(found: violations.Classified, *, has_base: bool) -> str:
    """`1 mandatory (gpu-quota; 1 new) · 2 advisory (0 new)`; without a base, no "new" at all."""
    current = [*found.new, *found.existing]
    new = violations.counts(found.new)
    parts = []
    for level in ("mandatory", "advisory"):
        of_level = [v for v in current if v.get("level") == level]
        policies = sorted({str(v.get("policy")) for v in of_level})
        detail = [", ".join(policies)] if policies and level == "mandatory" else []
        if has_base:
            detail.append("new unknown" if found.unknown else f"{new[level]} new")
        parts.append(f"{len(of_level)} {level}" + (f" ({'; '.join(detail)})" if detail else ""))
    if found.fixed:
        parts.append(f"{len(found.fixed)} fixed")
    return " · ".join(parts)


def header(plan: Plan, base: dict[str, Any] | None, sections: list[Section]) -> Header:
    """The verdict line (pass or fail, and why) with the GPUs at maximum scale and the ceiling cost."""
    found = violations.classify(plan.policy, base)
    gpus = sum(r.max_gpus for r in plan.capacity)
    ceiling = plan.cost.monthly_usd_max
    old_rows = base_rows(base)
    if old_rows is not None and base is not None:
        old_gpus = sum(r.max_gpus for r in old_rows)
        old_ceiling = float((base.get("cost") or {}).get("monthly_usd_max") or 0)
        numbers = (f"GPUs at max {gpus:,} ({inline(delta_count(gpus, old_gpus))}) · ceiling {_usd0(ceiling)}/month "
                   f"({inline(delta_usd(ceiling, old_ceiling, cents=False))})")
    else:
        numbers = f"GPUs at max {gpus:,} · ceiling {_usd0(ceiling)}/month"
    if found is None:
        failed, mark, verdict, why = False, "⚪", "no policy verdict", "policy pack not run (--no-policy)"
    else:
        failed = any(v.get("level") == "mandatory" for v in [*found.new, *found.existing])
        why = _level_counts(found, has_base=base is not None)
        mark, verdict = ("❌", "fails") if failed else ("✅", "passes")
    summary = []
    if found is not None and found.unknown and base is not None:
        summary.append(found.unknown)
    if old_rows is not None and base is not None and not any(s.changed for s in sections):
        created, updated, deleted = resource_counts(plan, base)
        summary.insert(0, "Nothing changes against the target branch: the same resources, GPUs, cost and violations."
                       if not (created or updated or deleted) else
                       f"No GPU, cost or violation change; {created + updated + deleted} resources differ from the "
                       f"target branch's plan ({created} created, {updated} updated, {deleted} deleted).")
    failing = f" — exit {1 if failed else 0}" if found is not None else ""
    return Header(markdown=f"### {mark} gpu-fleet plan `{plan.stack}` {verdict}: {why} · {numbers}",
                  text=f"{'FAIL' if failed else 'PASS' if found else 'NO VERDICT'} gpu-fleet plan {plan.stack} "
                       f"{verdict}: {why} · {numbers}{failing}",
                  failed=failed, summary=summary,
                  footer=[f"Reproduce: `./dev plan {plan.stack}" + (" --base base.json" if base else "")
                          + " --markdown plan.md` (offline, no cloud calls).",
                          *filter(None, [price_provenance.footer(plan.capacity, price_provenance.today(plan.extra))])])


# --- the sections, in the order both layouts show them -------------------------------------------------------------


def live_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The live preview (`gpu-fleet preview --json`, given to the plan by `--live`), open right after the verdict.

    Its agreement with the offline verdict, steps per type, drained GPU pools and live violations come from
    gpufleet/live_preview.py's own section; without a preview (`--live-skipped WHY`: a fork, no credentials) one
    line says why, so a reviewer never reads a missing live preview as a clean one.
    """
    doc, skipped = plan.extra.get("live"), plan.extra.get("live_skipped")
    if isinstance(doc, dict):
        from gpufleet import live_preview  # the Automation API loads only for a comment that has a live preview

        return replace(live_preview.section(live_preview.load(doc)), changed=True)
    if skipped:
        return Section(key="live-skipped", title="Live preview skipped", headline=str(skipped), changed=True)
    return None


def violations_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """New and fixed violations (all of them without a base): open; mandatory first."""
    found = violations.classify(plan.policy, base)
    if found is None:
        return None
    rank = {"mandatory": 0, "advisory": 1}
    status = "" if found.unknown else "new"
    rows: list[Row] = [(status, str(v["level"]), str(v["policy"]), str(v["message"]))
            for v in sorted(found.new, key=lambda v: rank.get(str(v.get("level")), 2))]
    rows += [("fixed", str(v["level"]), str(v["policy"]), str(v["message"])) for v in found.fixed]
    current = [*found.new, *found.existing]
    return Section(key="violations", title="Violations" if found.unknown else "New and fixed violations",
                   headline=None, changed=bool(rows), columns=("", "level", "policy", "message"), rows=rows,
                   mandatory=any(v.get("level") == "mandatory" for v in current),
                   notes=[found.unknown] if found.unknown and base is not None else [])


def existing_violations_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Violations the target branch already has: collapsed, but never cut when mandatory."""
    found = violations.classify(plan.policy, base)
    if found is None or not found.existing:
        return None
    n = violations.counts(found.existing)
    return Section(key="violations-existing", title="Existing violations (unchanged by this pull request)",
                   headline=", ".join(f"{n[k]} {k}" for k in ("mandatory", "advisory") if n[k]),
                   mandatory=bool(n["mandatory"]), columns=("level", "policy", "message"),
                   rows=[(str(v["level"]), str(v["policy"]), str(v["message"])) for v in found.existing])


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
                   headline=f"{len(rows)} of {_count(total, 'region and GPU row')}; {total - len(rows)} unchanged",
                   changed=True, columns=(*_REGION_COLUMNS, "change: GPUs max", "change: $/month max"), rows=rows)


def regions_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Every region and GPU model at minimum and maximum scale: open without a base, else collapsed."""
    with_base = base_rows(base) is not None
    columns = (*_REGION_COLUMNS, "change: GPUs max", "change: $/month max") if with_base else _REGION_COLUMNS
    rows = _region_rows(plan, base, only_changed=False)
    return Section(key="regions", title="GPUs and monthly cost by region and type, at minimum and maximum scale",
                   headline=f"{_count(len(rows), 'region and GPU row')}", changed=not with_base, columns=columns,
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
                   headline=f"{_count(len(rows), 'pool') if rows else 'none'}"
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
    rows = [(what, _usd(now), *((delta_usd(now, float(old.get(key) or 0)),) if isinstance(old, dict) else ()))
            for what, now, key in figures]
    notes = [n for n in (subscription_note(plan.capacity),) if n]
    if c.unpriced_pools:
        n = len(c.unpriced_pools)
        notes.append(f"{_count(n, 'pool')} {'has' if n == 1 else 'have'} no price in the catalog or config and "
                     f"{'is' if n == 1 else 'are'} left out of the cost")
    moved = isinstance(old, dict) and any(r[2] != "$0.00" for r in rows)
    headline = f"ceiling {_usd0(c.monthly_usd_max)}/month, floor {_usd0(c.monthly_usd_min)}/month"
    if isinstance(old, dict):
        headline = (f"ceiling {_usd0(c.monthly_usd_max)}/month ({inline(rows[1][2])}), floor "
                    f"{_usd0(c.monthly_usd_min)}/month ({inline(rows[0][2])})")
    return Section(key="cost-summary", title="Monthly GPU cost", headline=headline, changed=moved or old is None,
                   columns=("cost", "USD", *(("change",) if isinstance(old, dict) else ())), rows=rows, notes=notes)


def pools_section(plan: Plan, base: dict[str, Any] | None) -> Section:
    """Every GPU pool: machine, capacity, zones, nodes and GPUs at the floor and ceiling, price, fabric."""
    rows: list[Row] = [(r.cluster, r.region, r.pool, r.machine_type or "(any)", r.capacity, str(len(r.zones)),
             f"{r.min_nodes}-{r.max_nodes} nodes", f"{r.min_gpus}-{r.max_gpus} GPUs", _usd(r.hourly_usd_per_node),
             r.fabric) for r in plan.capacity]
    return Section(key="pools", title="GPU pools", headline=_count(len(rows), "GPU pool"), rows=rows,
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
                   headline=(f"{_count(off, 'pool')} on TCP although its machine has a GPU fabric" if off else
                             f"{_count(len(pools), 'pool')}, each on the fabric its machine has"),
                   columns=("pool (stack-config key)", "machine", "GPUs per node", "GPUs max", "fabric"), rows=rows,
                   notes=["TCP: GPUs reach other nodes over the primary NIC only; TCPX, TCPXO, RDMA: GPUDirect over "
                          "the pool's GPU NICs; EFA xN: N EFA interfaces per node."])


def _resource_dicts(plan: Plan) -> list[dict[str, Any]]:
    return [{"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs} for r in plan.resources]


def watches_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Dashboards and budgets: with a base, those the change adds, removes or changes; else all of them."""
    current = watches.watches(_resource_dicts(plan))
    ordered = sorted(current.values(), key=lambda w: (w.scope, w.kind, w.what))
    every: list[Row] = [(w.scope, w.kind, w.what) for w in ordered]
    if base is None or base_rows(base) is None:
        return Section(key="watches", title="Dashboards and budgets", headline=f"{len(every)} in place",
                       columns=("cluster or account", "kind", "what"), rows=every) if every else None
    changed = watches.changes(current, watches.watches(base.get("resources") or []))
    if not changed:
        return Section(key="watches", title="Dashboards and budgets",
                       headline=f"none changed ({len(every)} in place)",
                       columns=("cluster or account", "kind", "what"), rows=every)
    return Section(key="watches", title="Dashboards and budgets changed",
                   headline=f"{len(changed)} added, removed or changed", changed=True,
                   columns=("cluster or account", "kind", "what", "change"),
                   rows=[Row((w.scope, w.kind, w.what, change)) for w, change in changed])


def monitoring(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Per cluster: its monitoring stack, alerts, recording rules and receivers, by name (never a credential)."""
    found = []
    for r in resources:
        if r.type in MONITORING_TYPES:
            out = r.outputs
            found.append({"cluster": str(out.get("cluster", r.name)), "stack": str(out.get("stack", "")),
                          "alerts": list(out.get("alerts") or []), "records": list(out.get("records") or []),
                          "receivers": list(out.get("receivers") or []), "health": list(out.get("health") or []),
                          "heartbeat": bool(out.get("heartbeat"))})
    _add_capacity_signals(found, resources)
    return sorted(found, key=lambda m: m["cluster"])


def _add_capacity_signals(found: list[dict[str, Any]], resources: list[Recorded]) -> None:
    """GKE's capacity alerts (Cloud Monitoring policies) join their cluster's alerts, with the receivers they reach.

    `capacity_signals` names the log-based metrics behind them; `unreached`, receivers Cloud Monitoring cannot notify.
    """
    by_cluster = {m["cluster"]: m for m in found}
    for r in resources:
        if r.type == CAPACITY_SIGNALS_TYPE and str(r.outputs.get("cluster")) in by_cluster:
            m = by_cluster[str(r.outputs["cluster"])]
            m["alerts"] += list(r.outputs.get("alerts") or [])
            m["capacity_signals"] = list(r.outputs.get("signals") or [])
            m["capacity_receivers"] = list(r.outputs.get("receivers") or [])
            m["unreached"] = list(r.outputs.get("unreached") or [])


_HARDWARE = {"xid", "ecc-dbe", "row-remap"}
"""Signals without which a failing GPU goes unnoticed (XID, uncorrectable ECC, row remapping)."""


def monitoring_warnings(stacks: list[dict[str, Any]]) -> list[str]:
    """What on-call would not be told, one line each.

    Monitoring going down without a dead man's switch, GPU clusters without hardware-health signals.
    """
    out = []
    blind = [m["cluster"] for m in stacks if m["alerts"] and not m["heartbeat"]]
    if blind:
        out.append(f"no dead man's switch on {', '.join(blind)}: the Watchdog heartbeat is dropped, so nobody is "
                   "told when Prometheus, the rule evaluator or Alertmanager stops; set "
                   "observability.deadmans_switch")
    for m in stacks:
        if m.get("capacity_signals") and not m.get("capacity_receivers"):
            out.append(f"{m['cluster']}: its capacity alerts (Cloud Monitoring) reach no receiver"
                       + (f" ({', '.join(m['unreached'])}: Cloud Monitoring cannot post to Slack or webhook "
                          "receivers)" if m.get("unreached") else "")
                       + "; add a PagerDuty or e-mail receiver to observability.receivers")
        if m["alerts"] and not _HARDWARE & set(m["health"]):
            out.append(f"{m['cluster']}: no GPU hardware-health alert (XID, ECC, row remap): its DCGM source "
                       "exports none of them; run dcgm-exporter there (GKE: addons.dcgm: exporter)")
    return out


def _names(items: list[str]) -> str:
    return ", ".join(f"`{i}`" for i in items)


def _monitoring_change(new: dict[str, Any] | None, old: dict[str, Any] | None) -> str:
    """What changed in one cluster's monitoring, in words; empty when nothing did."""
    if new is None:
        assert old is not None
        return f"{old['stack']} removed, with {_count(len(old['alerts']), 'alert')} and receivers " \
               f"{_names(old['receivers']) or 'none'}"
    if old is None:
        return f"{new['stack']} added: alerts {_names(new['alerts']) or 'none'}; " \
               f"{_count(len(new['records']), 'recording rule')}; receivers {_names(new['receivers']) or 'none'}"
    parts = [] if new["stack"] == old["stack"] else [f"stack {old['stack']} → {new['stack']}"]
    for key, noun in (("alerts", "alerts"), ("records", "recording rules"), ("receivers", "receivers")):
        added = [x for x in new[key] if x not in old[key]]
        removed = [x for x in old[key] if x not in new[key]]
        if added:
            parts.append(f"{noun} added: {_names(added)}")
        if removed:
            parts.append(f"{noun} removed: {_names(removed)}")
    return "; ".join(parts)


def monitoring_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each cluster's monitoring, or with a base what the change adds to or removes from it."""
    now = {m["cluster"]: m for m in monitoring(plan.resources)}
    warnings = [f"warning: {w}" for w in monitoring_warnings(list(now.values()))]
    before_list = base.get("monitoring") if base is not None else None
    if base is None or not isinstance(before_list, list):
        if not now:
            return None
        rows: list[Row] = [(f"`{cluster}`", m["stack"], str(len(m["alerts"])), str(len(m["records"])),
                 _names(m["receivers"]) or "none", _names(m["health"]) or "none") for cluster, m in now.items()]
        notes = (["the target branch's plan has no monitoring section: no delta"] if base is not None else [])
        return Section(key="monitoring-summary", title="Monitoring per cluster",
                       headline=f"{_count(len(rows), 'cluster')}, {_count(len(warnings), 'warning')}",
                       columns=("cluster", "stack", "alerts", "recording rules", "receivers", "GPU health signals"),
                       rows=rows, notes=notes + warnings)
    before = {str(m.get("cluster")): m for m in before_list if isinstance(m, dict)}
    changes: list[Row] = []
    for cluster in sorted(set(now) | set(before)):
        old = before.get(cluster)
        if old is not None:
            old = {k: (list(old.get(k) or []) if k != "stack" else str(old.get(k, "")))
                   for k in ("stack", "alerts", "records", "receivers")}
        text = _monitoring_change(now.get(cluster), old)
        if text:
            changes.append((f"`{cluster}`", text))
    return Section(key="monitoring-summary", title="Monitoring changed",
                   headline=_count(len(changes), "cluster") if changes else "none",
                   changed=bool(changes), columns=("cluster", "change"), rows=changes, notes=warnings)


EKS_VERSIONED = ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon")


def eks_versions(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Per EKS cluster: the control plane's and system node group's Kubernetes version and each add-on's pin.

    Grouped by the component that owns them (each EksCluster's children), named by the cluster's logical name.
    """
    owned: dict[str, dict[str, str]] = defaultdict(dict)
    names: dict[str, str] = {}
    for r in resources:
        if r.type not in EKS_VERSIONED:
            continue
        if r.type == "aws:eks/cluster:Cluster":
            names[r.parent] = r.name
            owned[r.parent]["kubernetes"] = str(r.inputs.get("version"))
        elif r.type == "aws:eks/nodeGroup:NodeGroup":
            owned[r.parent]["system node group"] = str(r.inputs.get("version"))
        else:
            owned[r.parent][str(r.inputs.get("addonName"))] = str(r.inputs.get("addonVersion"))
    order = ["kubernetes", "system node group", *versions.EKS_ADDONS]

    def rank(key: str) -> tuple[int, str]:
        return (order.index(key) if key in order else len(order), key)

    return sorted(({"cluster": names.get(parent, parent), "versions": {k: v[k] for k in sorted(v, key=rank)}}
                   for parent, v in owned.items()), key=lambda c: c["cluster"])


def eks_versions_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each EKS cluster's Kubernetes version and the add-on versions pinned for it; open when the change moves one."""
    pinned = eks_versions(plan.resources)
    if not pinned:
        return None
    before = base.get("eks_versions") if base is not None else None
    moved = isinstance(before, list) and before != pinned
    rows: list[Row] = [(f"`{c['cluster']}`", component, f"`{version}`") for c in pinned
            for component, version in c["versions"].items()]
    kubernetes = sorted({c["versions"].get("kubernetes", "?") for c in pinned})
    return Section(key="eks-versions-summary",
                   title="EKS versions per cluster (pinned; a Kubernetes bump moves them all)",
                   headline=f"{_count(len(pinned), 'cluster')} on Kubernetes {', '.join(kubernetes)}"
                            + ("; this change moves a pin" if moved else ""),
                   changed=moved, columns=("cluster", "component", "version"), rows=rows)


def relative(path: str | None) -> str | None:
    """A path as the repository names it; a file outside the repository by its name alone."""
    if not path:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return f"{p.name} (outside the repository)"


def policy_section(plan: Plan, base: dict[str, Any] | None) -> Section:
    """The pack that gave the verdict, its config file (repository-relative) and each policy's level."""
    if plan.policy is None:
        return Section(key="policy-pack", title="Policy pack",
                       headline="not run (--no-policy): this plan has no verdict")
    config = relative(plan.policy.get("config"))
    policies = plan.policy.get("policies") or []
    headline = (f"`{plan.policy.get('pack')}`, {_count(len(policies), 'policy').replace('policys', 'policies')}, "
                + (f"config {config}" if config else "no policy config for this stack: no GPU quota is granted"))
    return Section(key="policy-pack", title="Policy pack", headline=headline, columns=("policy", "level"),
                   rows=[(str(p.get("name")), str(p.get("enforcement"))) for p in policies],
                   mandatory=not config)


def budget_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The budget in its own period, for the fleet and each team (gpufleet/headroom.py)."""
    return headroom.budget_section(plan, base)


def _quota_rows_that_matter(section: Section, *, has_base: bool, grants_known: bool = True) -> list[Row]:
    """The quota rows a reviewer must see: over the grant, moved by this PR, or (without a base) at 90% or more.

    prod sits at 100% of twelve grants on purpose: repeating those
    unchanged rows open on every pull request buried the one that moved (pr-review.md §2.3, "Unchanged rows hidden").
    Planned without the pack no grant is known, so "over" and "near" mean nothing: only what moved is shown.
    """
    granted, status, change = (section.columns.index(c) for c in ("granted", "status", "change"))

    def matters(row: Row) -> bool:
        if not grants_known:
            return has_base and row[change] not in ("", "+0")
        if row[status] == "over":
            return True
        if has_base:
            return row[change] not in ("", "+0") or "changed in this PR" in row[granted]
        return row[status] == "near"

    return [r for r in section.rows if matters(r)]


def quota_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Quota headroom per region and quota metric (gpufleet/headroom.py), open with the rows that matter.

    Every row is in `quota_table_of` (collapsed); with none that matters, the whole table is collapsed here.
    """
    found = headroom.section(plan, base)
    rows = _quota_rows_that_matter(found, has_base=base is not None, grants_known=plan.policy is not None)
    if not rows:
        return replace(found, changed=False)
    hidden = len(found.rows) - len(rows)
    why = "unchanged by this PR and not over the grant" if base is not None else "under 90% of the grant"
    return replace(found, rows=rows, changed=True,
                   notes=[*found.notes, *([f"{_count(hidden, 'other quota')} {why}: every quota is in the collapsed "
                                           "table below"] if hidden else [])])


def quota_table_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Every quota's row, collapsed, when `quota_of` shows only some of them open."""
    found = headroom.section(plan, base)
    shown = _quota_rows_that_matter(found, has_base=base is not None, grants_known=plan.policy is not None)
    if not shown or len(shown) == len(found.rows):
        return None
    return Section(key="quota-all", title="Quota headroom, every region and metric",
                   headline=_count(len(found.rows), "quota"), columns=found.columns, rows=found.rows)


def where_else_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Other regions and clouds of the stack with headroom for a pool that (nearly) fails a quota or the budget."""
    return headroom.where_else_section(plan, base)


def shared_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Quotas this stack shares with the stacks given by --with, summed."""
    others = plan.extra.get("others")
    return headroom.shared_section(plan, others) if others else None


def changes_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """What is not capacity: resources per type, alert thresholds, policy config (gpufleet/changes.py)."""
    return changes.section(plan, base) if base is not None else None


def prices_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each pool's price source and age (gpufleet/price_provenance.py)."""
    return price_provenance.section(plan.capacity, plan.extra)


def images_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The images each cluster runs and how each is pinned (gpufleet/image_list.py)."""
    return image_list.section(plan.resources)


def waivers_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Violations waived until their expiry, and waivers that match nothing (gpufleet/waivers_section.py)."""
    return waivers_section.section(plan.policy, (base or {}).get("policy") if base is not None else None)


SectionFn = Callable[[Plan, dict[str, Any] | None], Section | None]
"""A report section: the plan and the target branch's plan JSON (or None) -> what it says, or None for nothing."""

SECTIONS: list[SectionFn] = [
    live_of,
    violations_section,
    waivers_of,
    budget_of,
    quota_of,
    where_else_of,
    shared_of,
    region_changes_section,
    pool_changes_section,
    cost_section,
    changes_of,
    regions_section,
    quota_table_of,
    pools_section,
    fabric_section,
    prices_of,
    watches_section,
    monitoring_section,
    eks_versions_section,
    images_of,
    existing_violations_section,
    policy_section,
]
"""Every section, in the order the comment and the terminal show them (the comment opens the changed ones first).
A new section plugs in by appending its function here."""


def sections(plan: Plan, base: dict[str, Any] | None = None) -> list[Section]:
    """Every section that has something to say, against `base` when it can be read."""
    base = _usable(base)
    return [s for s in (make(plan, base) for make in SECTIONS) if s is not None]


def markdown(plan: Plan, base: dict[str, Any] | None = None, *, links: Links | None = None,
             limit: int | None = layout.COMMENT_BUDGET) -> str:
    """The pull-request comment: verdict first, what this change moves open, the rest collapsed, under `limit`."""
    usable = _usable(base)
    found = sections(plan, usable)
    head = header(plan, usable, found)
    if base is not None and usable is None:
        head.summary.insert(0, "The target branch's plan could not be read; no delta is shown.")
    return layout.markdown(head, found, links=links, limit=limit)


def resources_table(plan: Plan) -> Table:
    """Registered resources per type (the terminal's `--resources`)."""
    counts = Counter(r.type for r in plan.resources)
    kinds = Table(title=f"Resources ({len(plan.resources)})")
    kinds.add_column("type")
    kinds.add_column("count", justify="right")
    for typ, n in sorted(counts.items()):
        kinds.add_row(typ, str(n))
    return kinds


def render(plan: Plan, console: Console, base: dict[str, Any] | None = None, *, resources: bool = False) -> None:
    """The terminal view: the same sections as the comment, verdict first and last; `resources` adds the counts."""
    usable = _usable(base)
    found = sections(plan, usable)
    console.print(f"gpu-fleet plan for stack {plan.stack} (offline, no cloud calls)", markup=False, highlight=False)
    layout.terminal(header(plan, usable, found), found, console,
                    extra=[resources_table(plan)] if resources else None)
