"""The offline plan as data (`Plan`, its JSON document) and as text: rich tables and a markdown comment."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from components import catalog, versions
from components.capacity import HOURS_PER_MONTH, CapacityRow, Cost, pool_path
from components.kubernetes.monitoring.rules import MONITORING_TYPES
from gpufleet import image_list, watches
from gpufleet.offline import Recorded


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
        doc["images"] = image_list.section(self.resources).data
        if self.policy is not None:
            doc["policy"] = self.policy
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def subscription_note(rows: list[CapacityRow]) -> str | None:
    """The cost's scope on OpenShift: EC2 GPU machines only, never the OpenShift subscription."""
    clusters = sorted({r.cluster for r in rows if r.platform == "openshift"})
    if not clusters:
        return None
    return (f"OpenShift ({', '.join(clusters)}): the cost is the GPU machines' EC2 price only; the OpenShift "
            "subscription for their cores (Red Hat bills it per core pair) is left out.")


def render(plan: Plan, console: Console) -> None:
    console.print(f"[bold]gpu-fleet plan[/bold] for stack [cyan]{plan.stack}[/cyan] (offline, no cloud calls)")

    table = Table(title="GPUs and monthly cost by region and type, at minimum and maximum scale")
    for col in ("region", "gpu", "GPUs min", "GPUs max", "$/month min", "$/month max"):
        table.add_column(col, justify="left" if col in ("region", "gpu") else "right")
    for (region, gpu), t in by_region(plan.capacity).items():
        table.add_row(region, gpu, str(t.min_gpus), str(t.max_gpus), t.usd(t.monthly_usd_min),
                      t.usd(t.monthly_usd_max))
    console.print(table)

    pools = Table(title="GPU pools")
    for col in ("cluster", "region", "pool", "machine", "capacity", "zones", "nodes", "gpus", "$/node-hour", "fabric"):
        pools.add_column(col)
    for row in plan.capacity:
        pools.add_row(row.cluster, row.region, row.pool, row.machine_type or "(any)", row.capacity,
                      str(len(row.zones)), f"{row.min_nodes}-{row.max_nodes} nodes",
                      f"{row.min_gpus}-{row.max_gpus} GPUs", _usd(row.hourly_usd_per_node), row.fabric)
    console.print(pools)

    c = plan.cost
    console.print(f"Cost of GPU capacity: monthly {_usd(c.monthly_usd_min)} at the floor, "
                  f"{_usd(c.monthly_usd_max)} at the ceiling ({_usd(c.hourly_usd_max)}/hour at maximum scale)")
    note = subscription_note(plan.capacity)
    if note is not None:
        console.print(note, markup=False, highlight=False)
    if c.unpriced_pools:
        n = len(c.unpriced_pools)
        console.print(f"[yellow]{_count(n, 'pool')} {'has' if n == 1 else 'have'} no price in the catalog or "
                      f"config and {'is' if n == 1 else 'are'} left out of the cost[/yellow]")

    watched = sorted(watches.watches(_resource_dicts(plan)).values(), key=lambda w: (w.scope, w.kind, w.what))
    if watched:
        table_w = Table(title="Dashboards and budgets")
        for col in ("cluster or account", "kind", "what"):
            table_w.add_column(col)
        for w in watched:
            table_w.add_row(w.scope, w.kind, w.what)
        console.print(table_w)

    if plan.policy is not None:
        violations = plan.policy["violations"]
        console.print(f"Policy pack [bold]{plan.policy['pack']}[/bold]: {len(plan.policy['policies'])} policies, "
                      f"{_count(len(violations), 'violation')}")
        config = plan.policy.get("config")
        console.print(f"policy config: {config}" if config else
                      "policy config: [bold yellow]none[/bold yellow] (schema defaults: no GPU quota granted)")
        for v in violations:
            style = "red" if v["level"] == "mandatory" else "yellow"
            console.print(f"[{style}]{v['level']}[/{style}] [bold]{v['policy']}[/bold]: ", end="")
            console.print(v["message"], markup=False, highlight=False)

    stacks = monitoring(plan.resources)
    if stacks:
        mon = Table(title="Monitoring per cluster")
        for col in ("cluster", "stack", "alerts", "recording rules", "receivers", "GPU health signals"):
            mon.add_column(col)
        for m in stacks:
            mon.add_row(m["cluster"], m["stack"], str(len(m["alerts"])), str(len(m["records"])),
                        ", ".join(m["receivers"]) or "[yellow]none[/yellow]",
                        ", ".join(m["health"]) or "[yellow]none[/yellow]")
        console.print(mon)
        for line in monitoring_warnings(stacks):
            console.print(f"[yellow]warning[/yellow] {line}", markup=True, highlight=False)

    pinned = eks_versions(plan.resources)
    if pinned:
        ver = Table(title="EKS versions per cluster (pinned; a Kubernetes bump moves them all)")
        for col in ("cluster", "component", "version"):
            ver.add_column(col)
        for eks in pinned:
            for component, version in eks["versions"].items():
                ver.add_row(eks["cluster"], component, version)
        console.print(ver)

    counts = Counter(r.type for r in plan.resources)
    kinds = Table(title=f"Resources ({len(plan.resources)})")
    kinds.add_column("type")
    kinds.add_column("count", justify="right")
    for typ, n in sorted(counts.items()):
        kinds.add_row(typ, str(n))
    console.print(kinds)


def _resource_dicts(plan: Plan) -> list[dict[str, Any]]:
    return [{"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs} for r in plan.resources]


def _monthly_max(row: CapacityRow) -> float:
    return row.max_nodes * (row.hourly_usd_per_node or 0.0) * HOURS_PER_MONTH


def _shape(row: CapacityRow) -> str:
    return f"{row.machine_type or row.gpu}, {row.capacity}"


def pool_changes(current: list[CapacityRow], base: list[CapacityRow]) -> list[str]:
    """Markdown rows for every GPU pool added, removed or changed against `base`, keyed by its config key."""
    now = {pool_path(r): r for r in current}
    before = {pool_path(r): r for r in base}
    lines = []
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
        delta = (_monthly_max(new) if new else 0.0) - (_monthly_max(old) if old else 0.0)
        lines.append(f"| `{key}` | {change} | {_shape(row)} | {row.gpu} | {gpus_min} | {gpus_max} | "
                     f"{delta:+,.2f} |")
    return lines


def _fabric_available(row: CapacityRow) -> str | None:
    """The fabric the pool's machine has in the catalog (GPUDirect, or EFA for training instances), if any."""
    gke = catalog.fabric.gke_fabric(row.machine_type)
    if row.platform == "gke":
        return gke.transport.value if gke is not None else None
    names = row.machine_types or (row.machine_type,)
    if row.platform == "eks" and all(catalog.fabric.efa_by_default(n) for n in names):
        return f"EFA x{catalog.machine_type(names[0]).efa_interfaces}"
    return None


def fabric_lines(rows: list[CapacityRow]) -> list[str]:
    """Markdown: each GPU pool's fabric; pools left on TCP although their machine has a fabric come first, in bold."""
    pools = [r for r in rows if r.pool != "auto-provisioning"]
    if not pools:
        return []

    def missing(r: CapacityRow) -> bool:
        return r.fabric == "TCP" and _fabric_available(r) is not None

    lines = ["", "**GPU fabric per pool** (TCP: GPUs reach other nodes over the primary NIC only; TCPX, TCPXO, RDMA: "
             "GPUDirect over the pool's GPU NICs; EFA xN: N EFA interfaces per node):", "",
             "| pool (stack-config key) | machine | GPUs per node | GPUs max | fabric |", "|---|---|---:|---:|---|"]
    for r in sorted(pools, key=lambda r: (not missing(r), pool_path(r))):
        cell = f"**TCP** ({r.machine_type} has {_fabric_available(r)}: turned off)" if missing(r) else r.fabric
        lines.append(f"| `{pool_path(r)}` | {r.machine_type} | {r.gpus_per_node} | {r.max_gpus} | {cell} |")
    return lines


def markdown(plan: Plan, base: dict[str, Any] | None = None) -> str:
    """A pull-request comment: GPUs and cost by region and type, the delta against `base`, violations."""
    lines = [f"### gpu-fleet plan: `{plan.stack}`", ""]
    old: dict[tuple[str, str], RegionGpu] = {}
    base_rows: list[CapacityRow] = []
    if base is not None:
        try:
            known = set(CapacityRow.__dataclass_fields__)
            base_rows = [CapacityRow(**{k: v for k, v in r.items() if k in known}) for r in base["capacity"]]
            old = by_region(base_rows)
        except (KeyError, TypeError):
            lines += ["_The target branch's plan could not be read; no delta is shown._", ""]
            base = None
    current = by_region(plan.capacity)
    header = "| region | GPU | GPUs min | GPUs max | $/month min | $/month max |"
    if base is not None:
        header += " change: GPUs max | change: $/month max |"
    lines += [header, "|---|---|" + "---:|" * (header.count("|") - 3)]
    for key in sorted(set(current) | set(old)):
        t, o = current.get(key, RegionGpu()), old.get(key, RegionGpu())
        line = (f"| {key[0]} | {key[1]} | {t.min_gpus} | {t.max_gpus} | {t.usd(t.monthly_usd_min)} | "
                f"{t.usd(t.monthly_usd_max)} |")
        if base is not None:
            line += f" {t.max_gpus - o.max_gpus:+d} | {t.monthly_usd_max - o.monthly_usd_max:+,.2f} |"
        lines.append(line)
    c = plan.cost
    lines += ["", f"**Monthly GPU cost:** {_usd(c.monthly_usd_min)} at the floor, {_usd(c.monthly_usd_max)} "
              "at the ceiling."]
    note = subscription_note(plan.capacity)
    if note is not None:
        lines.append(f"_{note}_")
    if base is not None:
        old_cost = base.get("cost", {})
        d_max = c.monthly_usd_max - float(old_cost.get("monthly_usd_max", 0))
        d_min = c.monthly_usd_min - float(old_cost.get("monthly_usd_min", 0))
        lines.append(f"**Change against the target branch:** {d_min:+,.2f} USD/month at the floor, "
                     f"{d_max:+,.2f} USD/month at the ceiling.")
    lines += fabric_lines(plan.capacity)
    if base is not None:
        changed = pool_changes(plan.capacity, base_rows)
        lines += ["", f"**GPU pools changed:** {_count(len(changed), 'pool') if changed else 'none'}."]
        if changed:
            lines += ["", "| pool (stack-config key) | change | machine, capacity | GPU | GPUs min | GPUs max | "
                          "change: $/month max |", "|---|---|---|---|---:|---:|---:|", *changed]
    lines += monitoring_section(plan, base)
    lines += eks_versions_section(plan)
    lines += image_list.markdown_lines(image_list.section(plan.resources))
    base_watches = watches.watches(base.get("resources") or []) if base is not None else None
    lines += watches.markdown_lines(watches.watches(_resource_dicts(plan)), base_watches)
    if plan.policy is not None:
        violations = plan.policy.get("violations", [])
        config = plan.policy.get("config")
        lines += ["", f"**Policy pack `{plan.policy.get('pack')}`:** "
                  + ("no violations." if not violations else f"{_count(len(violations), 'violation')}.")
                  + (f" Policy config: `{config}`." if config else
                     " **No policy config for this stack: no GPU quota is granted.**")]
        if violations:
            lines += ["", "| policy | level | message |", "|---|---|---|"]
            for v in violations:
                msg = str(v["message"]).replace("\n", " ").replace("|", "\\|")
                lines.append(f"| `{v['policy']}` | {v['level']} | {msg} |")
    lines.append("")
    return "\n".join(lines)


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
    return sorted(found, key=lambda m: m["cluster"])


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


def monitoring_section(plan: Plan, base: dict[str, Any] | None) -> list[str]:
    """Markdown: each cluster's monitoring, or with `base` what the change adds to or removes from it."""
    now = {m["cluster"]: m for m in monitoring(plan.resources)}
    before_list = base.get("monitoring") if base is not None else None
    if base is None or not isinstance(before_list, list):
        if not now:
            return []
        lines = ["", "**Monitoring:**" + (" (the target branch's plan has no monitoring section: no delta)"
                                          if base is not None else ""), "",
                 "| cluster | stack | alerts | recording rules | receivers | GPU health signals |",
                 "|---|---|---:|---:|---|---|"]
        for cluster, m in now.items():
            lines.append(f"| `{cluster}` | {m['stack']} | {len(m['alerts'])} | {len(m['records'])} | "
                         f"{_names(m['receivers']) or '**none**'} | {_names(m['health']) or '**none**'} |")
        lines += [f"- **warning:** {w}" for w in monitoring_warnings(list(now.values()))]
        return lines
    before = {str(m.get("cluster")): m for m in before_list if isinstance(m, dict)}
    changes = []
    for cluster in sorted(set(now) | set(before)):
        old = before.get(cluster)
        if old is not None:
            old = {k: (list(old.get(k) or []) if k != "stack" else str(old.get(k, "")))
                   for k in ("stack", "alerts", "records", "receivers")}
        text = _monitoring_change(now.get(cluster), old)
        if text:
            changes.append(f"| `{cluster}` | {text} |")
    lines = ["", f"**Monitoring changed:** {_count(len(changes), 'cluster') if changes else 'none'}."]
    if changes:
        lines += ["", "| cluster | change |", "|---|---|", *changes]
    lines += [f"- **warning:** {w}" for w in monitoring_warnings(list(now.values()))]
    return lines


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


def eks_versions_section(plan: Plan) -> list[str]:
    """Markdown: each EKS cluster's Kubernetes version and the add-on versions pinned for it."""
    pinned = eks_versions(plan.resources)
    if not pinned:
        return []
    lines = ["", "**EKS versions (pinned):**", "", "| cluster | component | version |", "|---|---|---|"]
    for c in pinned:
        lines += [f"| `{c['cluster']}` | {component} | `{version}` |" for component, version in c["versions"].items()]
    return lines
