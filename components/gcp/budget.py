"""The fleet's GCP budget: a Cloud Billing budget on the project and the daily guard, notifying e-mail and on-call.

Cloud Billing budgets run per month, quarter or year, never per day, so the stack's daily budget becomes a
monthly one (see `Budgets.monthly_ceiling`) with alerts at the stack's thresholds of current and forecasted spend,
plus a daily guard: Cloud Monitoring alert policies whose PromQL condition (`components.kubernetes.monitoring.
budget_guard`) sums the cost recording rule over 24 hours across every GKE cluster of the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.kubernetes.monitoring.budget_guard import EVALUATION_INTERVAL, RULE_GROUP, GuardRule

SPEND_BASES = ("CURRENT_SPEND", "FORECASTED_SPEND")
MAX_DISPLAY_NAME = 60
"""Cloud Billing refuses a budget display name longer than 60 characters."""


@dataclass(frozen=True)
class GcpBudgetArgs:
    project: str
    """The fleet's GCP project id: the budget counts its spend only."""
    billing_account: str
    """The Cloud Billing account that pays for the project."""
    monthly_usd: float
    """GCP's part of the fleet's monthly budget."""
    thresholds: list[float]
    """Shares of the budget that notify, of current and of forecasted spend."""
    emails: list[str]
    """Recipients: one Cloud Monitoring e-mail channel each (a budget takes at most 5)."""
    guard: list[GuardRule]
    """The daily guard's alerts (fleet and teams), each a Cloud Monitoring alert policy."""
    environment: str
    labels: dict[str, str]
    oncall: list[OnCallChannel] = field(default_factory=list)
    """The on-call receivers the guard's policies notify besides `emails`."""


@dataclass(frozen=True)
class OnCallChannel:
    """An `observability.receivers` entry as a Cloud Monitoring notification channel."""

    receiver: str
    """The receiver's name (the channel's logical name)."""
    pagerduty_key: pulumi.Output[str] | None = None
    """PagerDuty: the service's integration key (the receiver's secret), a `sensitive_labels.service_key`."""
    emails: tuple[str, ...] = ()
    """E-mail: the receiver's addresses, one channel each."""


def units_and_nanos(amount: float) -> tuple[str, int]:
    """A USD amount as Cloud Billing's Money: whole units (a string) and nano units."""
    cents = round(amount * 100)
    return str(cents // 100), (cents % 100) * 10_000_000


class GcpBudget(pulumi.ComponentResource):
    budget_name: pulumi.Output[str]
    channels: list[pulumi.Output[str]]
    oncall_channels: dict[str, list[pulumi.Output[str]]]
    """Each on-call receiver's channels: other Cloud Monitoring alerts of the fleet notify these same channels."""

    def __init__(self, name: str, args: GcpBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gcp:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.channels = self._email_channels(name, args, child)
        self.oncall_channels = self._oncall_channels(name, args, child)
        self.budget_name = self._monthly_budget(name, args, child, channels=self.channels).name
        notify = [*self.channels, *(c for chs in self.oncall_channels.values() for c in chs)]
        for rule in args.guard:
            self._guard_policy(name, args, child, rule=rule, notify=notify)
        self.register_outputs({"budget_name": self.budget_name, "channels": self.channels})

    @staticmethod
    def _email_channels(name: str, args: GcpBudgetArgs, child: pulumi.ResourceOptions) -> list[pulumi.Output[str]]:
        """One Cloud Monitoring e-mail channel per budget recipient: the billing budget notifies these."""
        return [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{slug(email)}",
                project=args.project,
                type="email",
                display_name=f"gpu-fleet {args.environment} budget: {email}",
                labels={"email_address": email},
                user_labels=args.labels,
                opts=child,
            ).name
            for email in args.emails
        ]

    @staticmethod
    def _monthly_budget(name: str, args: GcpBudgetArgs, child: pulumi.ResourceOptions, *,
                        channels: list[pulumi.Output[str]]) -> gcp.billing.Budget:
        """The Cloud Billing budget on the project's monthly spend, alerting `channels` at each threshold."""
        number = gcp.organizations.get_project_output(project_id=args.project).number
        units, nanos = units_and_nanos(args.monthly_usd)
        return gcp.billing.Budget(
            f"{name}-monthly",
            billing_account=args.billing_account,
            display_name=f"gpu-fleet {args.environment} GPU fleet ({args.project})"[:MAX_DISPLAY_NAME],
            amount={"specified_amount": {"currency_code": "USD", "units": units, "nanos": nanos}},
            budget_filter={"projects": [number.apply(lambda n: f"projects/{n}")], "calendar_period": "MONTH"},
            threshold_rules=[{"threshold_percent": t, "spend_basis": basis}
                             for basis in SPEND_BASES for t in args.thresholds],
            all_updates_rule={"monitoring_notification_channels": channels,
                              "disable_default_iam_recipients": False},
            opts=child,
        )

    @staticmethod
    def _guard_policy(name: str, args: GcpBudgetArgs, child: pulumi.ResourceOptions, *, rule: GuardRule,
                      notify: list[pulumi.Output[str]]) -> gcp.monitoring.AlertPolicy:
        """One alert of the daily guard as a Cloud Monitoring alert policy over the cost rule's PromQL."""
        return gcp.monitoring.AlertPolicy(
            f"{name}-guard-{rule.key}",
            project=args.project,
            display_name=f"gpu-fleet {args.environment}: {rule.alert} {rule.labels.get('team', 'fleet')} "
                         f"{rule.labels['threshold']}",
            combiner="OR",
            severity="CRITICAL" if rule.labels["severity"] == "critical" else "WARNING",
            conditions=[{
                "display_name": f"GPU spend in 24 hours past {rule.labels['threshold']} of "
                                f"{rule.daily_usd:,.0f} USD",
                "condition_prometheus_query_language": {
                    "query": rule.expr,
                    "duration": "0s",
                    "evaluation_interval": _seconds(EVALUATION_INTERVAL),
                    "labels": rule.labels,
                    "rule_group": RULE_GROUP,
                    "alert_rule": rule.alert,
                    # The cost recording rule's series exist only once GPUs are allocated; without this the
                    # API refuses a policy on a metric it has not seen yet.
                    "disable_metric_validation": True,
                },
            }],
            documentation={"mime_type": "text/markdown", "content": rule.description},
            notification_channels=notify,
            user_labels=args.labels,
            opts=child,
        )

    @staticmethod
    def _oncall_channels(name: str, args: GcpBudgetArgs,
                         child: pulumi.ResourceOptions) -> dict[str, list[pulumi.Output[str]]]:
        """Cloud Monitoring channels for the on-call receivers: PagerDuty by its key, e-mail by each address.

        The billing budget keeps its e-mail channels (what Cloud Billing documents for budget alerts); the daily
        guard's alert policies, which are Cloud Monitoring's own, page these too.
        """
        by_receiver: dict[str, list[pulumi.Output[str]]] = {}
        for ch in args.oncall:
            by_receiver.setdefault(ch.receiver, []).extend(notification_channels(
                f"{name}-oncall-{ch.receiver}", ch, project=args.project, labels=args.labels, opts=child,
                display=f"gpu-fleet {args.environment} budget: {ch.receiver}"))
        return by_receiver


def notification_channels(logical: str, channel: OnCallChannel, *, project: str, display: str,
                          labels: dict[str, str], opts: pulumi.ResourceOptions) -> list[pulumi.Output[str]]:
    """A receiver's Cloud Monitoring channels, for the budget and the capacity alerts alike.

    PagerDuty by its key (logical name `logical`), e-mail by each address (`logical-<address>`).
    """
    out = []
    if channel.pagerduty_key is not None:
        out.append(gcp.monitoring.NotificationChannel(
            logical, project=project, type="pagerduty", display_name=display,
            sensitive_labels={"service_key": channel.pagerduty_key}, user_labels=labels, opts=opts).name)
    out += [gcp.monitoring.NotificationChannel(
        f"{logical}-{slug(email)}", project=project, type="email", display_name=f"{display} {email}",
        labels={"email_address": email}, user_labels=labels, opts=opts).name for email in channel.emails]
    return out


def slug(email: str) -> str:
    """An e-mail address as a piece of a logical name."""
    return "".join(ch if ch.isalnum() else "-" for ch in email.lower()).strip("-")


def _seconds(duration: str) -> str:
    """`5m` as Cloud Monitoring's `300s`."""
    units = {"s": 1, "m": 60, "h": 3600}
    return f"{int(duration[:-1]) * units[duration[-1]]}s"
