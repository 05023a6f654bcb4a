"""The plan's "Price provenance" section: where each GPU pool's price comes from, how old it is, what discount applies.

A pool is priced from the catalog's snapshot (its source and the date of the data), from the stack's own
`gpu-fleet:prices` override, or not at all; a `gpu-fleet:discounts` entry lowers its on-demand price and is shown
with the list price it came from. The footer line names the oldest catalog price the plan uses.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from components.capacity import CapacityRow, pool_path
from components.catalog import prices as catalog_prices
from gpufleet.sections import Section

KEY = "prices"
"""The section's key in the plan JSON."""


def today(extra: dict[str, Any]) -> dt.date:
    """The plan's date (`Plan.extra["today"]`, set when the plan is built), from which price ages are counted."""
    value = extra.get("today")
    return dt.date.fromisoformat(value) if isinstance(value, str) else dt.datetime.now(dt.UTC).date()


def age_days(row: CapacityRow, on: dt.date) -> int | None:
    return (on - dt.date.fromisoformat(row.price_as_of)).days if row.price_as_of else None


def _source(row: CapacityRow) -> str:
    if row.price_source == "override":
        return "stack override (gpu-fleet:prices)"
    if row.price_source == "unpriced":
        return "unpriced"
    parts = urllib.parse.urlsplit(row.price_ref or "")
    path = parts.path.strip("/").split("/")
    where = path[1] if parts.netloc == "github.com" and len(path) > 1 else parts.netloc
    return f"catalog ({where})"


def _usd(row: CapacityRow) -> str:
    if row.hourly_usd_per_node is None:
        return "n/a"
    text = f"${row.hourly_usd_per_node:,.2f}"
    if row.discount and row.list_hourly_usd_per_node is not None:
        text += f" (list ${row.list_hourly_usd_per_node:,.2f}, {row.discount})"
    return text


def _record(row: CapacityRow, on: dt.date) -> dict[str, Any]:
    return {"pool": pool_path(row), "machine_type": row.machine_type, "region": row.region,
            "source": row.price_source, "ref": row.price_ref, "as_of": row.price_as_of,
            "age_days": age_days(row, on), "hourly_usd_per_node": row.hourly_usd_per_node,
            "list_hourly_usd_per_node": row.list_hourly_usd_per_node, "discount": row.discount,
            "unpriced_reason": catalog_prices.UNPRICED.get(row.machine_type) if row.price_source == "unpriced"
            else None}


def oldest(rows: list[CapacityRow]) -> CapacityRow | None:
    """The pool priced from the oldest catalog data."""
    dated = [r for r in rows if r.price_as_of]
    return min(dated, key=lambda r: str(r.price_as_of)) if dated else None


def footer(rows: list[CapacityRow], on: dt.date) -> str | None:
    """One line: the age of the oldest catalog price the plan uses."""
    row = oldest(rows)
    if row is None:
        return None
    return (f"Oldest price used: {row.machine_type} in {row.region}, catalog data of {row.price_as_of} "
            f"({age_days(row, on)} days old).")


def section(rows: list[CapacityRow], extra: dict[str, Any]) -> Section | None:
    """Each pool's price source and age; None for a plan without GPU pools."""
    if not rows:
        return None
    on = today(extra)
    counts = {s: sum(1 for r in rows if r.price_source == s) for s in ("catalog", "override", "unpriced")}
    headline = (f"{counts['catalog']} pools from the catalog, {counts['override']} from stack overrides, "
                f"{counts['unpriced']} unpriced.")
    notes = [f"{m}: {reason}" for m, reason in sorted(catalog_prices.UNPRICED.items())
             if any(r.machine_type == m and r.price_source == "unpriced" for r in rows)]
    discounted = sorted({r.discount for r in rows if r.discount})
    if discounted:
        notes.append("Discounts applied to on-demand prices (gpu-fleet:discounts): " + "; ".join(discounted) + ".")
    line = footer(rows, on)
    if line:
        notes.append(line)
    table: list[tuple[str, ...]] = [
        (pool_path(r), r.machine_type or "(any)", r.region, _source(r), r.price_as_of or "-",
         f"{a} days" if (a := age_days(r, on)) is not None else "-", _usd(r)) for r in rows]
    return Section(key=KEY, title="Price provenance", headline=headline,
                   columns=("pool", "machine", "region", "price source", "data of", "age", "$/node-hour"),
                   rows=table, notes=notes, data=[_record(r, on) for r in rows])


def markdown_lines(s: Section) -> list[str]:
    """The section as markdown (until the report lays out every section from one list)."""
    lines = ["", f"**{s.title}:** {s.headline or ''}", "", "| " + " | ".join(s.columns) + " |",
             "|" + "---|" * len(s.columns)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in s.rows]
    lines += [f"- {n}" for n in s.notes]
    return lines
