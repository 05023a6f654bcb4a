"""The stack's budget, published as a component's outputs so that the budget policies judge the stack's own numbers.

`gpu-fleet:budgets` is the one place a budget is written: the cloud budgets and the daily guard get it as typed
arguments, and this component carries it to the CrossGuard pack, which reads it from the stack's resources (as it
reads the price overrides) instead of from a second copy in the pack's config. It provisions nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from components.capacity.rows import ResourceView

if TYPE_CHECKING:  # annotations only: the policy pack imports this module and needs no stack model
    from components.config.budgets import Budgets

TYPE = "gpufleet:budgets:FleetBudget"


@dataclass(frozen=True)
class StackBudget:
    """The budget a stack published: amounts per period (daily, monthly) and the warning thresholds."""

    amounts: dict[str, float]
    thresholds: list[float]


@dataclass(frozen=True)
class TeamAmount:
    """One team's (namespace's) daily budget as the stack published it."""

    name: str
    daily_usd: float
    thresholds: tuple[float, ...]


class FleetBudget(pulumi.ComponentResource):
    daily_usd: float | None
    monthly_usd: float | None
    thresholds: list[float]
    teams: list[dict[str, object]]

    def __init__(self, name: str, budgets: Budgets, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.daily_usd = budgets.daily_usd
        self.monthly_usd = budgets.monthly_usd
        self.thresholds = list(budgets.thresholds)
        self.teams = [{"name": t.name, "daily_usd": t.daily_usd, "thresholds": list(t.thresholds)}
                      for t in budgets.teams]
        self.register_outputs({"daily_usd": self.daily_usd, "monthly_usd": self.monthly_usd,
                               "thresholds": self.thresholds, "teams": self.teams})


def stack_budget(resources: Iterable[ResourceView]) -> StackBudget | None:
    """The budget the stack published through `FleetBudget`, or None when it has none."""
    for r in resources:
        if r.type == TYPE:
            return _read(r.inputs)
    return None


def _read(outputs: Mapping[str, Any]) -> StackBudget:
    # Numbers may arrive as text (the offline plan records non-integral floats as strings).
    amounts = {period: float(outputs[f"{period}_usd"]) for period in ("daily", "monthly")
               if outputs.get(f"{period}_usd") is not None}
    return StackBudget(amounts=amounts, thresholds=sorted(float(t) for t in outputs.get("thresholds") or []))


def stack_teams(resources: Iterable[ResourceView]) -> list[TeamAmount]:
    """The team budgets the stack published through `FleetBudget` (`budgets.teams`), for the review's burn."""
    for r in resources:
        if r.type == TYPE:
            return [TeamAmount(name=str(t["name"]), daily_usd=float(t["daily_usd"]),
                               thresholds=tuple(sorted(float(x) for x in t.get("thresholds") or [])))
                    for t in r.inputs.get("teams") or []]
    return []
