"""What the plan holds besides capacity: resource changes, price sources, images, dashboards and budgets.

Each section's content comes from its own module (gpufleet/changes.py, price_provenance.py, image_list.py,
watches.py); these adapt them to the report's one signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpufleet import changes, image_list, price_provenance, watches
from gpufleet.base_plan import base_rows
from gpufleet.report.formatting import Row
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan


def changes_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """What is not capacity: resources per type, alert thresholds, policy config (gpufleet/changes.py)."""
    return changes.section(plan, base) if base is not None else None


def prices_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Each pool's price source and age (gpufleet/price_provenance.py)."""
    return price_provenance.section(plan.capacity, plan.extra)


def images_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The images each cluster runs and how each is pinned (gpufleet/image_list.py)."""
    return image_list.section(plan.resources)


def resource_dicts(plan: Plan) -> list[dict[str, Any]]:
    """The plan's resources in the plan JSON's shape, as gpufleet/watches.py reads both plans."""
    return [{"urn": r.urn, "type": r.type, "name": r.name, "inputs": r.inputs} for r in plan.resources]


def watches_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Dashboards and budgets: with a base, those the change adds, removes or changes; else all of them."""
    current = watches.watches(resource_dicts(plan))
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
