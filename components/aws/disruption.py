"""Karpenter disruption budgets that keep training nodes in service outside the cluster's maintenance window.

Karpenter v1.14 budget semantics (website/content/en/v1.14/concepts/disruption.md, "Disruption Budgets"; the
NodePool CRD's `budgets` description): a budget without `schedule` is always active; one with `schedule` (cron,
UTC, no time zones) is active for `duration` after each hit; where several are active, the most restrictive wins.
A permissive budget scheduled inside the window therefore cannot lift an always-active `nodes: "0"`. So the
blocking budgets are scheduled over the *complement* of the window: one `nodes: "0"` budget per gap between two
window runs, starting when a run ends and lasting until the next one starts. Inside the window only the pool's
own always-active budget (`budget_nodes`) limits drift and consolidation.
"""

from __future__ import annotations

from typing import Any

from components.config.gke import MaintenanceWindow, Weekday

BLOCKED_REASONS = ("Drifted", "Underutilized")
"""Disruption reasons blocked outside the window. `Empty` stays allowed: an empty node runs no job, and removing
it returns reserved capacity to the reservation and stops on-demand billing."""
_DAY = 24 * 60
_WEEK = 7 * _DAY
_CRON_DAY = {Weekday.SU: 0, Weekday.MO: 1, Weekday.TU: 2, Weekday.WE: 3, Weekday.TH: 4, Weekday.FR: 5,
             Weekday.SA: 6}
"""Cron's day-of-week numbers (0 = Sunday), as Karpenter's cron parser (robfig/cron standard spec) reads them."""


def window_runs(window: MaintenanceWindow) -> list[tuple[int, int]]:
    """The window's runs as (start, end) minutes from Sunday 00:00 UTC, merged where they touch or overlap.

    A run that crosses Saturday midnight keeps an end beyond the week; `gaps` wraps it.
    """
    hours, minutes = (int(x) for x in window.start.split(":"))
    starts = sorted(_CRON_DAY[d] * _DAY + hours * 60 + minutes for d in set(window.days))
    runs: list[tuple[int, int]] = []
    for start in starts:
        end = start + window.duration_hours * 60
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    if len(runs) > 1 and runs[-1][1] >= runs[0][0] + _WEEK:  # the last run reaches into next week's first
        first = runs.pop(0)
        runs[-1] = (runs[-1][0], max(runs[-1][1], first[1] + _WEEK))
    return runs


def gaps(window: MaintenanceWindow) -> list[tuple[int, int]]:
    """(start minute of the week, length in minutes) of every stretch outside the window; none if it is always open."""
    runs = window_runs(window)
    out = []
    for i, (_, end) in enumerate(runs):
        next_start = runs[(i + 1) % len(runs)][0] + (_WEEK if i + 1 == len(runs) else 0)
        if next_start > end:
            out.append((end % _WEEK, next_start - end))
    return out


def _duration(minutes: int) -> str:
    """A budget `duration` the CRD accepts: `^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$`."""
    hours, rest = divmod(minutes, 60)
    return f"{hours}h{rest}m" if hours and rest else (f"{hours}h" if hours else f"{rest}m")


def _cron(minute_of_week: int) -> str:
    day, minute = divmod(minute_of_week, _DAY)
    return f"{minute % 60} {minute // 60} * * {day}"


def training_budgets(window: MaintenanceWindow, budget_nodes: str) -> list[dict[str, Any]]:
    """The NodePool `disruption.budgets` of a training pool.

    Its rate limit, and drift and consolidation blocked from the end of each window run to the start of the next.
    """
    blocked = [{"nodes": "0", "reasons": list(BLOCKED_REASONS), "schedule": _cron(start), "duration": _duration(length)}
               for start, length in gaps(window)]
    return [{"nodes": budget_nodes}, *blocked]
