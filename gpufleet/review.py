"""The review's data sections (quota headroom, budget burn, where else, non-capacity changes), in one list.

Until the report's layout is built from `Section`s, the current markdown and terminal views append these with the
plain renderers below, and the plan JSON stores each section's `data` under its `key`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from gpufleet import changes, headroom, links
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report import Plan


def sections(plan: Plan, base: Mapping[str, Any] | None = None, *, others: Sequence[Mapping[str, Any]] | None = None,
             stack_file: Path | None = None, link_base: str | None = None, root: Path | None = None) -> list[Section]:
    """Every data section that has something to say, in reading order.

    `others`: plan JSONs of the stacks sharing this one's projects and accounts; `stack_file`: the PR's stack file,
    whose key lines the sections link to (relative to `root`, or under `link_base`).
    """
    found = [headroom.budget_section(plan, base), headroom.section(plan, base),
             headroom.where_else_section(plan, base)]
    if others:
        found.append(headroom.shared_section(plan, others))
    if base is not None:
        found.append(changes.section(plan, base))
    out = [s for s in found if s is not None]
    if stack_file is None:
        return out
    return [links.linked(s, stack_file, base=link_base, root=root) for s in out]


def json_data(plan: Plan) -> dict[str, Any]:
    """The base-independent sections' data, for the plan JSON (a later plan compares against it)."""
    return {s.key: s.data for s in sections(plan) if s.data is not None}


def _escape(text: str) -> str:
    """Markdown table cell: pipes escaped, and `<`/`>` as entities so GitHub never eats them as HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def markdown_lines(found: list[Section]) -> list[str]:
    """Each section as a bold title, its headline, a table and notes."""
    lines: list[str] = []
    for s in found:
        lines += ["", f"**{s.title}:** " + _escape(s.headline or ("changed in this PR" if s.changed else "no change"))]
        if s.rows:
            lines += ["", "| " + " | ".join(s.columns) + " |", "|" + "---|" * len(s.columns)]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in s.rows]
        lines += [f"- {_escape(n)}" for n in s.notes]
    return lines


def _cell(text: str) -> str:
    # A link made by gpufleet.links is kept as markdown; everything else is escaped.
    return text if links.is_link(text) else _escape(text)


def render(found: list[Section], console: Console) -> None:
    """Each section as a rich table with its headline as the title."""
    for s in found:
        title = s.title + (f": {s.headline}" if s.headline else "")
        if s.rows:
            table = Table(title=title)
            for col in s.columns:
                table.add_column(col)
            for row in s.rows:
                table.add_row(*(links.plain(c) for c in row))
            console.print(table)
        else:
            console.print(title, markup=False, highlight=False)
        for note in s.notes:
            console.print(f"  {note}", markup=False, highlight=False)
