"""The monitoring sections: each cluster's alerts, rules, receivers and health signals; each EKS cluster's pins.

Warnings name what on-call would not be told (no dead man's switch, no hardware-health alert, capacity alerts that
reach no receiver). The plan JSON stores both lists (`monitoring`, `eks_versions`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from components import versions
from components.kubernetes.monitoring.types import CAPACITY_SIGNALS_TYPE, MONITORING_TYPES
from gpufleet.offline import Recorded
from gpufleet.report.formatting import Row, plural
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan


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
        return f"{old['stack']} removed, with {plural(len(old['alerts']), 'alert')} and receivers " \
               f"{_names(old['receivers']) or 'none'}"
    if old is None:
        return f"{new['stack']} added: alerts {_names(new['alerts']) or 'none'}; " \
               f"{plural(len(new['records']), 'recording rule')}; receivers {_names(new['receivers']) or 'none'}"
    parts = [] if new["stack"] == old["stack"] else [f"stack {old['stack']} → {new['stack']}"]
    for key, noun in (("alerts", "alerts"), ("records", "recording rules"), ("receivers", "receivers")):
        added = [x for x in new[key] if x not in old[key]]
        removed = [x for x in old[key] if x not in new[key]]
        if added:
            parts.append(f"{noun} added: {_names(added)}")
        if removed:
            parts.append(f"{noun} removed: {_names(removed)}")
    return "; ".join(parts)


def _monitoring_now(now: dict[str, dict[str, Any]], warnings: list[str], *, has_base: bool) -> Section | None:
    """Each cluster's monitoring as it is, when there is no base monitoring to compare with."""
    if not now:
        return None
    rows: list[Row] = [(f"`{cluster}`", m["stack"], str(len(m["alerts"])), str(len(m["records"])),
             _names(m["receivers"]) or "none", _names(m["health"]) or "none") for cluster, m in now.items()]
    notes = (["the target branch's plan has no monitoring section: no delta"] if has_base else [])
    return Section(key="monitoring-summary", title="Monitoring per cluster",
                   headline=f"{plural(len(rows), 'cluster')}, {plural(len(warnings), 'warning')}",
                   columns=("cluster", "stack", "alerts", "recording rules", "receivers", "GPU health signals"),
                   rows=rows, notes=notes + warnings)


def monitoring_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each cluster's monitoring, or with a base what the change adds to or removes from it."""
    now = {m["cluster"]: m for m in monitoring(plan.resources)}
    warnings = [f"warning: {w}" for w in monitoring_warnings(list(now.values()))]
    before_list = base.get("monitoring") if base is not None else None
    if base is None or not isinstance(before_list, list):
        return _monitoring_now(now, warnings, has_base=base is not None)
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
                   headline=plural(len(changes), "cluster") if changes else "none",
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
                   headline=f"{plural(len(pinned), 'cluster')} on Kubernetes {', '.join(kubernetes)}"
                            + ("; this change moves a pin" if moved else ""),
                   changed=moved, columns=("cluster", "component", "version"), rows=rows)
