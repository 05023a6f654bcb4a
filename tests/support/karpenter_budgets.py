"""Karpenter's disruption-budget arithmetic, to check emitted budgets against what the controller would allow.

Mirrors kubernetes-sigs/karpenter `pkg/apis/v1/nodepool.go` (`GetAllowedDisruptionsByReason`, `Budget.IsActive`):
a budget applies to a reason when it lists it or lists none; it is active when it has no schedule, or when the
last time its cron schedule hit lies less than `duration` ago; the allowed count is the minimum over the active,
applicable budgets. Cron follows robfig/cron's standard parser for the forms gpu-fleet emits (numbers, `*` and
comma lists; day of week 0 = Sunday), UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:0s)?$")


def _field(spec: str, value: int) -> bool:
    return spec == "*" or value in {int(v) for v in spec.split(",")}


def cron_hits(schedule: str, at: datetime) -> bool:
    minute, hour, dom, month, dow = schedule.split()
    cron_dow = (at.weekday() + 1) % 7  # Python: Monday 0; cron: Sunday 0
    return (_field(minute, at.minute) and _field(hour, at.hour) and _field(dom, at.day)
            and _field(month, at.month) and _field(dow, cron_dow))


def duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    assert match and text, text
    return timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))


def is_active(budget: dict[str, Any], at: datetime) -> bool:
    if "schedule" not in budget:
        return True
    window = duration(budget["duration"])
    minute = budget["schedule"].split()[0]
    t = at.replace(second=0, microsecond=0)
    step = timedelta(minutes=1)
    if minute.isdigit():  # hits only at that minute of an hour: walk back hour by hour from the latest one
        t -= timedelta(minutes=(t.minute - int(minute)) % 60)
        step = timedelta(hours=1)
    while at - t < window:  # a hit within `duration` before `at`
        if cron_hits(budget["schedule"], t):
            return True
        t -= step
    return False


def allowed(budgets: list[dict[str, Any]], reason: str, at: datetime, nodes: int = 100) -> int:
    """How many of `nodes` nodes Karpenter may disrupt for `reason` at `at`."""
    counts = []
    for b in budgets:
        if b.get("reasons") and reason not in b["reasons"]:
            continue
        if not is_active(b, at):
            continue
        value = b["nodes"]
        # A share rounds up (concepts/disruption.md: `roundup(total * percentage)`).
        counts.append(-(-int(value[:-1]) * nodes // 100) if value.endswith("%") else int(value))
    return min(counts) if counts else nodes
