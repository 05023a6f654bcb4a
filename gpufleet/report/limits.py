"""The headroom sections as the report shows them: budget burn, quota headroom, where else, shared quotas.

The quota headroom opens only the rows that matter and collapses every row below it.

What each one computes is gpufleet/headroom/'s; this module only chooses what a reviewer sees open.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gpufleet import headroom
from gpufleet.report.formatting import Row, plural
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan


def budget_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The budget in its own period, for the fleet and each team (gpufleet/headroom/budget.py)."""
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
    """Quota headroom per region and quota metric (gpufleet/headroom/quota.py), open with the rows that matter.

    Every row is in `quota_table_of` (collapsed); with none that matters, the whole table is collapsed here.
    """
    found = headroom.section(plan, base)
    rows = _quota_rows_that_matter(found, has_base=base is not None, grants_known=plan.policy is not None)
    if not rows:
        return replace(found, changed=False)
    hidden = len(found.rows) - len(rows)
    why = "unchanged by this PR and not over the grant" if base is not None else "under 90% of the grant"
    return replace(found, rows=rows, changed=True,
                   notes=[*found.notes, *([f"{plural(hidden, 'other quota')} {why}: every quota is in the collapsed "
                                           "table below"] if hidden else [])])


def quota_table_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Every quota's row, collapsed, when `quota_of` shows only some of them open."""
    found = headroom.section(plan, base)
    shown = _quota_rows_that_matter(found, has_base=base is not None, grants_known=plan.policy is not None)
    if not shown or len(shown) == len(found.rows):
        return None
    return Section(key="quota-all", title="Quota headroom, every region and metric",
                   headline=plural(len(found.rows), "quota"), columns=found.columns, rows=found.rows)


def where_else_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Other regions and clouds of the stack with headroom for a pool that (nearly) fails a quota or the budget."""
    return headroom.where_else_section(plan, base)


def shared_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Quotas this stack shares with the stacks given by --with, summed."""
    others = plan.extra.get("others")
    return headroom.shared_section(plan, others) if others else None
