"""A plan JSON read back: the target branch's (`--base`) or another stack's (`--with`), as the report compares them.

The report's deltas (gpufleet/report/) and the quota headroom (gpufleet/headroom/) both read a document's capacity
rows here, so an unreadable document means "no delta" to both in the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from components.capacity import CapacityRow

if TYPE_CHECKING:
    from gpufleet.report import Plan


def base_rows(base: Mapping[str, Any] | None) -> list[CapacityRow] | None:
    """A plan JSON's capacity rows as `CapacityRow`s (tuples restored); None without a document or when unreadable."""
    if base is None:
        return None
    known = set(CapacityRow.__dataclass_fields__)
    try:
        rows = []
        for r in base["capacity"]:
            fields = {k: v for k, v in r.items() if k in known}
            for key in ("machine_types", "capacity_types"):
                fields[key] = tuple(fields.get(key) or ())
            rows.append(CapacityRow(**fields))
        return rows
    except (KeyError, TypeError, AttributeError):
        return None


def usable(base: dict[str, Any] | None) -> dict[str, Any] | None:
    """The base plan when its capacity rows can be read, else None: every section then shows no delta."""
    return base if base_rows(base) is not None else None


def _inputs(r: Any) -> str:
    return json.dumps(r.get("inputs") if isinstance(r, dict) else r.inputs, sort_keys=True, default=str)


def resource_counts(plan: Plan, base: Mapping[str, Any]) -> tuple[int, int, int]:
    """(created, updated, deleted) resources against the base, by URN and registered inputs."""
    now = {r.urn: _inputs(r) for r in plan.resources}
    before = {str(r.get("urn")): _inputs(r) for r in base.get("resources") or [] if isinstance(r, dict)}
    return (len(set(now) - set(before)), sum(1 for u in set(now) & set(before) if now[u] != before[u]),
            len(set(before) - set(now)))
