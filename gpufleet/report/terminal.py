"""The terminal view of the plan: the same verdict and sections as the comment (gpufleet/report/comment.py).

gpufleet/layout.py lays them out as tables; `--resources` adds the resource counts per type.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from gpufleet import layout
from gpufleet.base_plan import usable
from gpufleet.report.comment import header, sections

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan


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
    readable = usable(base)
    found = sections(plan, readable)
    console.print(f"gpu-fleet plan for stack {plan.stack} (offline, no cloud calls)", markup=False, highlight=False)
    layout.terminal(header(plan, readable, found), found, console,
                    extra=[resources_table(plan)] if resources else None)
