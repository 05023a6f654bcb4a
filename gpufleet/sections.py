"""One section of the plan report: the value the terminal view, the JSON document and the pull-request comment share.

Each report section (quota headroom, budget burn, resource changes, waivers, ...) is a function of the plan and the
base plan that returns a `Section`; the two renderers in `gpufleet/report/` only lay sections out (the comment
puts `headline`s in its summary and collapses unchanged sections in `<details>`; the terminal prints `rows` as a
table sized to the terminal), and `Plan.to_json` stores `data` under `key`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """What a report section says, independent of where it is rendered."""

    key: str
    """Stable identifier, also the section's key in the plan JSON (`quota`, `budget`, `changes`, ...)."""
    title: str
    """Heading, e.g. "Quota headroom"."""
    headline: str | None = None
    """One sentence for the comment's summary and the terminal's first lines, or None when it has nothing to add."""
    changed: bool = False
    """True when this pull request changes what the section reports: shown open; otherwise collapsed."""
    mandatory: bool = False
    """True when the section holds something that must survive GitHub's comment limit (a failing verdict)."""
    columns: tuple[str, ...] = ()
    """Column headings of `rows`."""
    rows: list[tuple[str, ...]] = field(default_factory=list)
    """Table rows as display strings (already formatted: `$`, `%`, "new"), the same in the terminal and the comment."""
    notes: list[str] = field(default_factory=list)
    """Sentences printed under the table (plain text; the markdown renderer escapes them)."""
    data: dict[str, Any] | list[Any] | None = None
    """The machine-readable form, stored in the plan JSON under `key`."""
