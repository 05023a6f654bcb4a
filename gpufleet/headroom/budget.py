"""Budget burn: each budget at the ceiling in its own period, the fleet's and each team's.

The fleet's ceiling is the pack's own arithmetic (`policies.demand.ceiling_spend`) over capacity priced as the budget
policies price it, so the comment and the verdict cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.capacity import CapacityRow, ResourceView, capacity_rows
from components.capacity.budget import StackBudget, stack_budget, stack_teams
from gpufleet.headroom.quota import plan_views, settings
from gpufleet.sections import Section
from policies.demand import ceiling_spend, price_book

if TYPE_CHECKING:
    from gpufleet.report import Plan

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class Burn:
    """One budget at the ceiling: the fleet's daily or monthly budget, or a team's daily budget."""

    name: str
    """`fleet` or the team's name."""
    period: str
    """`daily` or `monthly`: the budget's own period."""
    ceiling: float
    """USD per period with every pool at its maximum (teams: their namespace GPU quota at the dearest pool)."""
    amount: float
    thresholds: tuple[float, ...]

    @property
    def share(self) -> float:
        return self.ceiling / self.amount if self.amount else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "period": self.period, "ceiling_usd": round(self.ceiling, 2),
                "amount_usd": self.amount, "share": round(self.share, 4), "thresholds": list(self.thresholds)}


def priced_rows(plan: Plan) -> list[CapacityRow]:
    """Capacity priced as the budget policies price it: catalog, stack overrides, then gpu-budget.prices."""
    return capacity_rows(plan_views(plan), price_book(settings(plan.policy, "gpu-budget") or {}))


def team_ceiling(team: str, resources: Iterable[ResourceView], rows: list[CapacityRow]) -> float:
    """A team's daily ceiling: each of its namespaces' GPU quota at the dearest GPU-hour of that cluster's pools.

    The namespace's ResourceQuota (`requests.nvidia.com/gpu`) caps what the team can hold, so that quota held for a
    day on the most expensive GPUs the cluster offers is the most the team's guard can ever see.
    """
    total = 0.0
    for r in resources:
        if r.type != "kubernetes:core/v1:ResourceQuota" or (r.inputs.get("metadata") or {}).get("namespace") != team:
            continue
        gpus = (r.inputs.get("spec") or {}).get("hard", {}).get("requests.nvidia.com/gpu")
        here = [row for row in rows if r.name.startswith(f"{row.region}-{row.cluster}-")
                and row.hourly_usd_per_node is not None and row.gpus_per_node]
        if gpus is None or not here:
            continue
        dearest = max((row.hourly_usd_per_node or 0.0) / row.gpus_per_node for row in here)
        total += int(str(gpus)) * dearest * HOURS_PER_DAY
    return total


def burns(plan: Plan) -> list[Burn]:
    """The fleet's budgets and each team's, at the ceiling, in their own period."""
    views = plan_views(plan)
    budget: StackBudget | None = stack_budget(views)
    if budget is None:
        return []
    rows = priced_rows(plan)
    spend = ceiling_spend(rows)
    out = [Burn("fleet", period, spend[period], amount, tuple(budget.thresholds))
           for period, amount in sorted(budget.amounts.items())]
    out += [Burn(t.name, "daily", team_ceiling(t.name, views, rows), t.daily_usd, t.thresholds)
            for t in stack_teams(views)]
    return out


def _unit(period: str) -> str:
    return "USD/day" if period == "daily" else "USD/month"


def burn_line(b: Burn, before: Mapping[str, Any] | None) -> str:
    """One budget's burn, e.g. `ceiling 46,526 USD/day = 93% of 50,000 USD/day, was 89%, warning at 90% crossed`."""
    text = f"ceiling {b.ceiling:,.0f} {_unit(b.period)} = {share_pct(b.share)} of {b.amount:,.0f} {_unit(b.period)}"
    if before is None:
        return text
    was = float(before.get("share") or 0.0)
    if abs(was - b.share) < 0.00005 and float(before.get("amount_usd") or 0) == b.amount:
        return text + ", unchanged"
    text += f", was {share_pct(was)}"
    if float(before.get("amount_usd") or 0) != b.amount:
        text += f" of {float(before.get('amount_usd') or 0):,.0f} {_unit(b.period)}"
    up = [t for t in b.thresholds if was < t <= b.share]
    down = [t for t in b.thresholds if b.share < t <= was]
    if b.share > 1 >= was:
        text += ", budget exceeded"
    elif up:
        text += f", warning at {share_pct(up[-1])} crossed"
    elif down:
        text += f", back under the {share_pct(down[0])} warning"
    return text


def share_pct(share: float) -> str:
    """A share as a percentage that never rounds a pass up to 100% (99.94% reads 99.9%)."""
    pct = share * 100
    return f"{pct:.1f}%" if 99 < pct < 100 or pct < 1 else f"{pct:.0f}%"


def _base_burns(base: Mapping[str, Any] | None) -> dict[tuple[str, str], Mapping[str, Any]]:
    block = base.get("budget") if base is not None else None
    items = block.get("budgets") if isinstance(block, Mapping) else None
    return {(str(b.get("name")), str(b.get("period"))): b for b in items or [] if isinstance(b, Mapping)}


def budget_section(plan: Plan, base: Mapping[str, Any] | None) -> Section | None:
    """Each budget at the ceiling in its own period, against the base plan's."""
    found = burns(plan)
    if not found:
        return None
    before = _base_burns(base)
    rows: list[tuple[str, ...]] = []
    lines: list[str] = []
    changed = False
    for b in found:
        old = before.get((b.name, b.period))
        line = burn_line(b, old if base is not None else None)
        changed = changed or (base is not None and not line.endswith("unchanged"))
        key = f"budgets.{b.period}_usd" if b.name == "fleet" else f"budgets.teams[{b.name}]"
        rows.append((b.name, key, line))
        lines.append(f"{b.name}: {line}")
    notes = []
    if base is not None and not before:
        notes.append("The base plan carries no budget section (planned by an older gpu-fleet): no 'was' figures.")
    if any(b.name != "fleet" for b in found):
        notes.append("A team's ceiling is its namespaces' GPU quota held all day on the dearest GPUs of each cluster.")
    fleet = next((line for line in lines if line.startswith("fleet:")), None)
    return Section(key="budget", title="Budget at the ceiling", headline=fleet, changed=changed,
                   mandatory=any(b.share > 1 for b in found if b.name == "fleet"),
                   columns=("budget", "stack-config key", "at the ceiling"), rows=rows, notes=notes,
                   data={"budgets": [b.to_dict() for b in found]})
