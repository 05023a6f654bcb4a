"""The stack's budgets (`gpu-fleet:budgets`): the one place each budget number is written.

The CrossGuard budget policies, the cloud budgets (GCP billing budget, AWS Budgets and Cost Anomaly Detection)
and the daily spend guard all read these values; nothing else in the stack or the policy pack repeats them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from components.config.base import MOVED, Name, Number, Strict

HOURS_PER_DAY = 24
BILLING_ACCOUNT_PATTERN = r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
ANOMALY_MONITOR_ARN_PATTERN = r"^arn:aws[a-z-]*:ce::[0-9]{12}:anomalymonitor/[0-9a-f-]+$"
SLACK_WORKSPACE_PATTERN = r"^T[A-Z0-9]{8,}$"
SLACK_CHANNEL_PATTERN = r"^[CG][A-Z0-9]{8,}$"
MAX_EMAILS = 5
"""A GCP budget notifies at most 5 Cloud Monitoring channels (`all_updates_rule`); AWS takes 10 per notification."""

BillingAccount = Annotated[str, StringConstraints(pattern=BILLING_ACCOUNT_PATTERN)]
Email = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]
Share = Annotated[Number, Field(gt=0, le=1)]
Threshold = Annotated[Number, Field(gt=0, le=5)]


class GcpBudget(Strict):
    """A Cloud Billing budget on the fleet's GCP project, and the daily guard GCP budgets cannot be."""

    billing_account: BillingAccount
    """The Cloud Billing account paying for the project (`gcloud billing projects describe PROJECT`)."""
    share: Share | None = None
    """The share of the fleet's budget spent on GCP (required when `aws` is set too; alone, all of it)."""
    thresholds: list[Threshold] | None = Field(default=None, min_length=1, max_length=4)
    """GCP's budget alerts and daily guard (seed 002: 70% and 90%); unset: `budgets.thresholds`."""
    receivers: list[Name] = Field(default_factory=list)
    """`observability.receivers` (PagerDuty or e-mail ones) the daily guard's alert policies also notify, as Cloud
    Monitoring channels: the on-call, not only `emails`."""


class SlackChannel(Strict):
    """A Slack channel Amazon Q Developer in chat applications (formerly AWS Chatbot) posts to.

    The workspace is authorised once in that service's console (an OAuth step no API does); these are its ids.
    """

    workspace_id: Annotated[str, StringConstraints(pattern=SLACK_WORKSPACE_PATTERN)]
    """The Slack workspace (team) id, e.g. `T07EA123LEP`."""
    channel_id: Annotated[str, StringConstraints(pattern=SLACK_CHANNEL_PATTERN)]
    """The channel id (channel details in Slack), e.g. `C07EZ1ABC23`; private channels need the app invited."""


class AwsBudget(Strict):
    """AWS Budgets on the fleet's AWS account, and a Cost Anomaly Detection subscription for spikes.

    The subscription reports anomalies at the in-cluster cost-spike alert's factor (`anomaly_impact_percent`
    below), so a spike is one number in the stack.
    """

    share: Share | None = None
    """The share of the fleet's budget spent on AWS (required when `gcp` is set too; alone, all of it)."""
    anomaly_impact_percent: object | None = Field(default=None, json_schema_extra=MOVED)
    """Moved: the anomaly threshold is derived from `observability.alerts.cost_spike.factor` (refused when set)."""
    anomaly_monitor_arn: Annotated[str, StringConstraints(pattern=ANOMALY_MONITOR_ARN_PATTERN)] | None = None
    """An existing anomaly monitor to subscribe to (`aws ce get-anomaly-monitors`); unset, gpu-fleet creates a
    customer-managed monitor on its GPU nodes' `gpu-fleet/cluster` cost-allocation tag, which any number of stacks
    can have (an account holds only one AWS-services monitor, so gpu-fleet never creates that kind)."""
    thresholds: list[Threshold] | None = Field(default=None, min_length=1, max_length=4)
    """AWS Budgets' alerts (seed 003: 80% and 100%); unset: `budgets.thresholds`."""
    slack: SlackChannel | None = None
    """Where AWS budget and cost-anomaly alerts are posted for the on-call, through Amazon Q Developer in chat
    applications, besides `emails`."""


class TeamBudget(Strict):
    """A team's (namespace's) GPU spend budget, watched by the daily guard on the cost recording rule."""

    name: Name
    """A team namespace declared in a cluster's `addons.namespaces`."""
    daily_usd: Number = Field(gt=0)
    """The team's GPU spend a day, at the catalog's prices, as the cost recording rule measures it."""
    thresholds: list[Threshold] = Field(default_factory=lambda: [0.8, 1.0], min_length=1, max_length=4)
    """Shares of the team's daily budget that alert (seed 003: 80% and 100% per project)."""


class Budgets(Strict):
    """The fleet's GPU budget and its thresholds, and where the clouds enforce it."""

    daily_usd: Number | None = Field(default=None, gt=0)
    """Daily budget of the whole fleet (seed 002: 50,000 USD); GPU capacity at maximum scale must fit it."""
    monthly_usd: Number | None = Field(default=None, gt=0)
    """Monthly budget (a 730-hour month); either or both of the two."""
    thresholds: list[Threshold] = Field(default_factory=lambda: [0.7, 0.9], min_length=1, max_length=4)
    """Shares of the budget that warn: the advisory policy, the cloud budgets' alerts, the daily guard (002)."""
    emails: list[Email] = Field(default_factory=list, max_length=MAX_EMAILS)
    """Who the cloud budgets and the guard notify (plain addresses; no credentials)."""
    gcp: GcpBudget | None = None
    aws: AwsBudget | None = None
    teams: list[TeamBudget] = Field(default_factory=list)
    """Per-team daily budgets (seed 003's per-project budgets; a team is a namespace)."""

    def cloud_thresholds(self, cloud: str) -> list[float]:
        """The shares one cloud's budgets alert at: its own list, else the fleet's."""
        section = self.gcp if cloud == "gcp" else self.aws
        own = section.thresholds if section is not None else None
        return list(own if own is not None else self.thresholds)

    def share(self, cloud: str) -> float:
        """The share of the fleet's budget one cloud's budgets hold (validated: set when both clouds are)."""
        section = self.gcp if cloud == "gcp" else self.aws
        if section is None:
            return 0.0
        return section.share if section.share is not None else 1.0

    def monthly_ceiling(self) -> float:
        """The fleet's budget for a calendar month: the monthly budget, or the daily one over a 730-hour month."""
        candidates = [v for v in (self.monthly_usd,
                                  self.daily_usd * 730 / HOURS_PER_DAY if self.daily_usd is not None else None)
                      if v is not None]
        return min(candidates)


def anomaly_impact_percent(factor: float) -> float:
    """Cost Anomaly Detection's threshold for spend at `factor` times the expected.

    Its TotalImpactPercentage is (actual - expected) / expected * 100 (AWS Billing and Cost Management API
    reference, `Impact`), so spend at twice the expected is a 100% impact.
    """
    return round((factor - 1) * 100, 6)
