"""Price freshness: an advisory naming every GPU pool priced from catalog data older than the configured age.

A stale list price understates or overstates the plan's cost and every budget verdict built on it. The age is the
price data's own date (the snapshot's source date, `components/catalog/price_snapshot.py`), counted to today.
`max_change_percent` is read by `gpu-fleet prices refresh --check` from the same pack config, so the scheduled
drift check and this policy share one place for both thresholds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.capacity import CapacityRow, pool_path
from policies.view import rows

NAME = "gpu-price-age"
DEFAULT_MAX_AGE_DAYS = 180
DEFAULT_MAX_CHANGE_PERCENT = 10.0
PROPERTIES: dict[str, dict[str, Any]] = {
    "max_age_days": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_AGE_DAYS,
                     "description": "Oldest catalog price data (days, counted from the data's own date) a pool may "
                                    "be priced from without an advisory"},
    "max_change_percent": {"type": "number", "exclusiveMinimum": 0, "default": DEFAULT_MAX_CHANGE_PERCENT,
                           "description": "Largest move (percent of the snapshot's price) `gpu-fleet prices refresh "
                                          "--check` accepts before it fails"},
}


def stale(capacity: list[CapacityRow], config: Mapping[str, Any], *, today: dt.date) -> list[tuple[str, str]]:
    """(URN, message) per pool priced from catalog data older than `max_age_days`."""
    limit = int(config.get("max_age_days", DEFAULT_MAX_AGE_DAYS))
    found = []
    for r in capacity:
        if r.price_source != "catalog" or not r.price_as_of:
            continue
        age = (today - dt.date.fromisoformat(r.price_as_of)).days
        if age > limit:
            found.append((r.source_urn, f"{pool_path(r)} is priced from catalog data of {r.price_as_of} ({age} days "
                                        f"old, over the {limit} days allowed) for {r.machine_type} in {r.region} "
                                        f"({r.price_ref}). Run `gpu-fleet prices refresh` and review the snapshot "
                                        "diff, or price it with the stack's gpu-fleet:prices."))
    return found


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    for urn, message in stale(rows(args.resources, {}), config, today=dt.datetime.now(dt.UTC).date()):
        report(message, urn)


gpu_price_age = StackValidationPolicy(
    name=NAME,
    description="GPU pools are priced from catalog data no older than the configured age.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties=PROPERTIES),
)
