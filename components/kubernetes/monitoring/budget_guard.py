"""The daily budget guard: GPU spend over the last 24 hours against the daily budget, in PromQL.

GCP billing budgets have no daily period (MONTH, QUARTER, YEAR or a custom range), so a daily budget becomes a
monthly billing budget plus this guard. It sums a cost recording rule (the fleet's
`cluster:gpufleet_gpu_cost_usd_per_hour:sum`, every GPU paid for; a team's `namespace:...`, what its namespace
holds; USD per hour at the catalog's prices, the numbers the plan and the budget policy use) over a 24-hour window
sampled every minute: what was spent, not the current rate times 24, so a short burst does not
alert as if it lasted all day. Rendered as Prometheus rules (promtool-tested) and, on GKE, as Cloud Monitoring
alert policies over the project's managed Prometheus data; on EKS and OpenShift, a team's guard is a rule group in the
PrometheusRule of the one cluster that runs the team's namespace (each cluster's Prometheus sees only its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.config.addons import TeamNamespace
from components.config.budgets import TeamBudget
from components.kubernetes.monitoring.rules import CLUSTER_COST_RULE, Rule, RuleGroup

COST_RULE = "namespace:gpufleet_gpu_cost_usd_per_hour:sum"
"""Recording rule (observability rules): USD per hour of the GPUs allocated in each namespace."""
RULE_GROUP = "gpu-fleet-budget-guard"
EVALUATION_INTERVAL = "5m"
FLEET_ALERT = "GpuDailyBudgetGuard"
TEAM_ALERT = "GpuTeamDailyBudgetGuard"
_SAMPLE = "1m"
_SAMPLES_PER_HOUR = 60


@dataclass(frozen=True)
class GuardRule:
    """One alert of the guard: spend in the last 24 hours past `threshold` of `daily_usd`."""

    alert: str
    expr: str
    threshold: float
    daily_usd: float
    labels: dict[str, str]
    summary: str
    """The alert's annotation (Prometheus template: the spend is `$value`)."""
    description: str
    """The same in plain words, for alerting systems without Prometheus templates."""

    @property
    def key(self) -> str:
        """A stable name for the rule: its scope and threshold (`fleet-70`, `team-research-100`)."""
        scope = f"team-{self.labels['team']}" if "team" in self.labels else "fleet"
        return f"{scope}-{round(self.threshold * 100)}"

    def to_rule(self) -> Rule:
        """The alert in the shared rule model (what a Prometheus evaluates: EKS teams, promtool)."""
        return Rule(self.alert, self.expr, True, None, dict(self.labels),
                    {"summary": self.summary, "description": self.description})


def spend_24h(namespace: str | None = None) -> str:
    """PromQL: USD spent in the last 24 hours: on every GPU the clusters pay for, or by one team's namespace.

    The fleet figure sums `CLUSTER_COST_RULE`, every GPU the exporters see, whether a pod holds it or not: idle
    floor nodes are billed too (observability review finding 4: 24 unheld H100 left a guard silent at 22,766 USD
    of 29,463). A team's figure stays what its namespace holds, keeping its `namespace` label.
    """
    if namespace is None:
        return f"sum (sum_over_time({CLUSTER_COST_RULE}[24h:{_SAMPLE}])) / {_SAMPLES_PER_HOUR}"
    return (f'sum by (namespace) (sum_over_time({COST_RULE}{{namespace="{namespace}"}}[24h:{_SAMPLE}])) '
            f"/ {_SAMPLES_PER_HOUR}")


def _severity(threshold: float) -> str:
    return "critical" if threshold >= 1 else "warning"


def fleet_guard(daily_usd: float, thresholds: list[float], *, scope: str) -> list[GuardRule]:
    """One alert per threshold of the daily budget `daily_usd` (the part of the fleet's budget `scope` watches)."""
    return [GuardRule(
        alert=FLEET_ALERT, expr=f"{spend_24h()} > {_amount(t * daily_usd)}", threshold=t, daily_usd=daily_usd,
        labels={"severity": _severity(t), "threshold": f"{round(t * 100)}%", "scope": scope},
        summary=(f"GPU spend on {scope} in the last 24 hours is {{{{ $value | humanize }}}} USD, past "
                 f"{t:.0%} of its daily budget ({t * daily_usd:,.0f} of {daily_usd:,.0f} USD)"),
        description=(f"GPU spend on {scope} in the last 24 hours passed {t:.0%} of its daily budget "
                     f"({t * daily_usd:,.0f} of {daily_usd:,.0f} USD), at the catalog's prices."),
    ) for t in thresholds]


def team_guard(team: str, daily_usd: float, thresholds: list[float]) -> list[GuardRule]:
    """One alert per threshold of a team's daily budget, on the team's namespace."""
    return [GuardRule(
        alert=TEAM_ALERT, expr=f"{spend_24h(team)} > {_amount(t * daily_usd)}", threshold=t, daily_usd=daily_usd,
        labels={"severity": _severity(t), "threshold": f"{round(t * 100)}%", "team": team},
        summary=(f"Team {team} spent {{{{ $value | humanize }}}} USD on GPUs in the last 24 hours, past {t:.0%} of "
                 f"its daily budget ({t * daily_usd:,.0f} of {daily_usd:,.0f} USD)"),
        description=(f"Team {team} (namespace {team}) passed {t:.0%} of its daily GPU budget in the last 24 hours "
                     f"({t * daily_usd:,.0f} of {daily_usd:,.0f} USD), at the catalog's prices."),
    ) for t in thresholds]


def with_team_guard(gpu_rules: Sequence[RuleGroup], teams: Iterable[TeamBudget],
                    namespaces: Iterable[TeamNamespace]) -> list[RuleGroup]:
    """An EKS or OpenShift cluster's GPU rules and the guard of the teams whose namespace it runs.

    Validation puts each team's namespace in one such cluster only. No guard where the cluster has no GPU rules
    (no GPUs, nothing spent on them).
    """
    here = {n.name for n in namespaces}
    rules = [r for t in teams if t.name in here for r in team_guard(t.name, t.daily_usd, t.thresholds)]
    return [*gpu_rules, rule_group(rules)] if rules and gpu_rules else list(gpu_rules)


def rule_group(rules: list[GuardRule]) -> RuleGroup:
    """The guard as a rule group of the shared rule model, evaluated every `EVALUATION_INTERVAL`."""
    return RuleGroup(RULE_GROUP, tuple(r.to_rule() for r in rules), interval=EVALUATION_INTERVAL)


def _amount(value: float) -> str:
    """A USD figure in PromQL: whole numbers without a fraction, others to the cent."""
    rounded = round(value, 2)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.2f}"
