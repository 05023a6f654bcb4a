"""Cost of GPU capacity at maximum scale (all pools at max, spot priced as spot) against the stack's budget.

`gpu-budget` (mandatory) fails a stack whose ceiling is over budget; `gpu-budget-warning` (advisory) reports
ceilings past the warning thresholds (seed 002: 70% and 90%). The budget and its thresholds are the stack's own
(`gpu-fleet:budgets`, published by the `FleetBudget` component among the stack's resources), the same numbers the
cloud budgets and the daily guard are built from; the pack's config holds none. Prices come from the catalog,
overridable in the policies' `prices`.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.capacity import CapacityRow, pool_path
from components.capacity.budget import StackBudget, stack_budget
from policies.demand import HOURS_PER_DAY, ceiling_spend
from policies.view import PRICES_SCHEMA, rows, views


def _top(capacity: list[CapacityRow], n: int = 3) -> str:
    priced = [r for r in capacity if r.hourly_usd_per_node is not None]
    priced.sort(key=lambda r: -(r.max_nodes * (r.hourly_usd_per_node or 0)))
    return "; ".join(f"{pool_path(r)} ${r.max_nodes * (r.hourly_usd_per_node or 0) * HOURS_PER_DAY:,.0f}/day"
                     for r in priced[:n])


def _budgets(budget: StackBudget | None) -> list[tuple[str, float]]:
    if budget is None:
        return []
    return [(period, budget.amounts[period]) for period in ("daily", "monthly") if period in budget.amounts]


def over_budget(capacity: list[CapacityRow], budget: StackBudget | None) -> list[str]:
    spend = ceiling_spend(capacity)
    if capacity and not _budgets(budget):
        return [f"This stack has GPU capacity (${spend['daily']:,.2f} per day at maximum scale) but no budget. "
                "Set budgets.daily_usd or budgets.monthly_usd in the stack config (gpu-fleet:budgets)."]
    messages = []
    for period, amount in _budgets(budget):
        if spend[period] > amount:
            unit = "day" if period == "daily" else "month"
            messages.append(
                f"GPU capacity at maximum scale costs ${spend[period]:,.2f} per {unit}, over the {period} budget "
                f"of ${amount:,.2f}. Largest pools: {_top(capacity)}. Lower their "
                f"autoscaling.max_nodes, move capacity to spot, or raise budgets.{period}_usd in the stack config."
            )
    unpriced = [r for r in capacity if r.hourly_usd_per_node is None]
    if unpriced and _budgets(budget):
        pools = "; ".join(f"{pool_path(r)} ({r.machine_type} in {r.region})" for r in unpriced)
        messages.append(f"{len(unpriced)} GPU pool{'' if len(unpriced) == 1 else 's'} without a catalog price, so "
                        f"the budget cannot be checked for {'it' if len(unpriced) == 1 else 'them'}: {pools}. "
                        "Price the machine in that region with the stack's gpu-fleet:prices (the plan's costs use "
                        "it too), or with gpu-budget.prices in the stack's policy config.")
    return messages


def past_thresholds(capacity: list[CapacityRow], budget: StackBudget | None) -> list[str]:
    spend = ceiling_spend(capacity)
    thresholds = budget.thresholds if budget is not None else []
    messages = []
    for period, amount in _budgets(budget):
        share = spend[period] / amount if amount else 0.0
        crossed = [t for t in thresholds if share >= t]
        if crossed and share <= 1:
            messages.append(
                f"GPU capacity at maximum scale would use {share:.0%} of the {period} budget "
                f"(${spend[period]:,.2f} of ${amount:,.2f}), past the {crossed[-1]:.0%} warning threshold. "
                f"Largest pools: {_top(capacity)}."
            )
    return messages


BUDGET_PROPERTIES: dict[str, dict[str, Any]] = {"prices": PRICES_SCHEMA}
"""Only prices: the budget and its thresholds are the stack's (`gpu-fleet:budgets`), never a second copy here."""


def _over(args: StackValidationArgs, report: ReportViolation) -> None:
    budget = stack_budget(views(args.resources))
    for message in over_budget(rows(args.resources, args.get_config()), budget):
        report(message, None)


def _warn(args: StackValidationArgs, report: ReportViolation) -> None:
    budget = stack_budget(views(args.resources))
    for message in past_thresholds(rows(args.resources, args.get_config()), budget):
        report(message, None)


gpu_budget = StackValidationPolicy(
    name="gpu-budget",
    description="GPU capacity at maximum scale stays within the stack's daily and monthly budget.",
    validate=_over,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties=BUDGET_PROPERTIES),
)

gpu_budget_warning = StackValidationPolicy(
    name="gpu-budget-warning",
    description="GPU capacity at maximum scale past a warning share of the budget.",
    validate=_warn,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties=BUDGET_PROPERTIES),
)
