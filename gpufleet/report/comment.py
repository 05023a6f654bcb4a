"""The report's assembly: the verdict (`header`), every section in one order (`SECTIONS`), the comment (`markdown`).

The terminal view (terminal.py) lays out the same header and sections.

Each section is a function of the plan and the target branch's plan JSON (`base`, or None) that returns a `Section`
or None; a new one plugs in by appending its function to `SECTIONS`, and then shows in the comment, the terminal
and (with `data`) the plan JSON alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gpufleet import layout, price_provenance, violations
from gpufleet.base_plan import base_rows, resource_counts, usable
from gpufleet.layout import Header, Links
from gpufleet.report.capacity import (
    cost_section,
    fabric_section,
    pool_changes_section,
    pools_section,
    region_changes_section,
    regions_section,
)
from gpufleet.report.formatting import delta_count, delta_usd, inline, usd0
from gpufleet.report.inventory import changes_of, images_of, prices_of, watches_section
from gpufleet.report.limits import budget_of, quota_of, quota_table_of, shared_of, where_else_of
from gpufleet.report.monitoring import eks_versions_section, monitoring_section
from gpufleet.report.verdict import (
    existing_violations_section,
    live_of,
    policy_section,
    violations_section,
    waivers_of,
)
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan

SectionFn = Callable[["Plan", dict[str, Any] | None], Section | None]
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
    base = usable(base)
    return [s for s in (make(plan, base) for make in SECTIONS) if s is not None]


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


def _numbers(plan: Plan, base: dict[str, Any] | None) -> str:
    """GPUs at maximum scale and the ceiling cost, with their change against a readable base."""
    gpus = sum(r.max_gpus for r in plan.capacity)
    ceiling = plan.cost.monthly_usd_max
    old_rows = base_rows(base)
    if old_rows is None or base is None:
        return f"GPUs at max {gpus:,} · ceiling {usd0(ceiling)}/month"
    old_gpus = sum(r.max_gpus for r in old_rows)
    old_ceiling = float((base.get("cost") or {}).get("monthly_usd_max") or 0)
    return (f"GPUs at max {gpus:,} ({inline(delta_count(gpus, old_gpus))}) · ceiling {usd0(ceiling)}/month "
            f"({inline(delta_usd(ceiling, old_ceiling, cents=False))})")


def _summary(plan: Plan, base: dict[str, Any] | None, found: violations.Classified | None,
             shown: list[Section]) -> list[str]:
    """The lines under the verdict: violations that cannot be told new, or that nothing the sections show moved."""
    summary = []
    if found is not None and found.unknown and base is not None:
        summary.append(found.unknown)
    if base_rows(base) is not None and base is not None and not any(s.changed for s in shown):
        created, updated, deleted = resource_counts(plan, base)
        summary.insert(0, "Nothing changes against the target branch: the same resources, GPUs, cost and violations."
                       if not (created or updated or deleted) else
                       f"No GPU, cost or violation change; {created + updated + deleted} resources differ from the "
                       f"target branch's plan ({created} created, {updated} updated, {deleted} deleted).")
    return summary


def header(plan: Plan, base: dict[str, Any] | None, sections: list[Section]) -> Header:
    """The verdict line (pass or fail, and why) with the GPUs at maximum scale and the ceiling cost."""
    found = violations.classify(plan.policy, base)
    numbers = _numbers(plan, base)
    if found is None:
        failed, mark, verdict, why = False, "⚪", "no policy verdict", "policy pack not run (--no-policy)"
    else:
        failed = any(v.get("level") == "mandatory" for v in [*found.new, *found.existing])
        why = _level_counts(found, has_base=base is not None)
        mark, verdict = ("❌", "fails") if failed else ("✅", "passes")
    failing = f" — exit {1 if failed else 0}" if found is not None else ""
    return Header(markdown=f"### {mark} gpu-fleet plan `{plan.stack}` {verdict}: {why} · {numbers}",
                  text=f"{'FAIL' if failed else 'PASS' if found else 'NO VERDICT'} gpu-fleet plan {plan.stack} "
                       f"{verdict}: {why} · {numbers}{failing}",
                  failed=failed, summary=_summary(plan, base, found, sections),
                  footer=[f"Reproduce: `./dev plan {plan.stack}" + (" --base base.json" if base else "")
                          + " --markdown plan.md` (offline, no cloud calls).",
                          *filter(None, [price_provenance.footer(plan.capacity, price_provenance.today(plan.extra))])])


def markdown(plan: Plan, base: dict[str, Any] | None = None, *, links: Links | None = None,
             limit: int | None = layout.COMMENT_BUDGET) -> str:
    """The pull-request comment: verdict first, what this change moves open, the rest collapsed, under `limit`."""
    readable = usable(base)
    found = sections(plan, readable)
    head = header(plan, readable, found)
    if base is not None and readable is None:
        head.summary.insert(0, "The target branch's plan could not be read; no delta is shown.")
    return layout.markdown(head, found, links=links, limit=limit)
