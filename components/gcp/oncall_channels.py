"""Cloud Monitoring notification channels of the on-call receivers that no budget channel serves yet.

Cloud Monitoring's own alert policies (the daily budget guard, GKE's capacity signals) cannot use the clusters'
Alertmanager, so they notify receivers through notification channels. The budget already makes one for each receiver
in `budgets.gcp.receivers`; this component makes them for the other receivers those policies notify, one project-wide
set, so every policy of a receiver notifies the same channel. Only receivers Cloud Monitoring can reach without a
credential in clear are given one: PagerDuty (the routing key as the channel's `sensitive_labels.service_key`) and
e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.config.observability import Observability, Receiver, ReceiverType, Severity
from components.gcp.budget import OnCallChannel, notification_channels
from components.gcp.capacity_signals import AlertChannel


@dataclass(frozen=True)
class GcpOnCallChannelsArgs:
    project: str
    receivers: list[OnCallChannel]
    """The receivers to make channels for (none of them already has a budget channel)."""
    environment: str
    labels: dict[str, str] = field(default_factory=dict)


class GcpOnCallChannels(pulumi.ComponentResource):
    channels: dict[str, list[pulumi.Output[str]]]
    """Each receiver's channel names (`projects/<p>/notificationChannels/<id>`)."""

    def __init__(self, name: str, args: GcpOnCallChannelsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gcp:OnCallChannels", name, None, opts)
        self.channels = {r.receiver: self._channels(name, args, r) for r in args.receivers}
        self.register_outputs({"receivers": sorted(self.channels)})

    def _channels(self, name: str, args: GcpOnCallChannelsArgs, r: OnCallChannel) -> list[pulumi.Output[str]]:
        return notification_channels(f"{name}-{r.receiver}", r, project=args.project, labels=args.labels,
                                     opts=pulumi.ResourceOptions(parent=self),
                                     display=f"gpu-fleet {args.environment} on-call: {r.receiver}")


PAGED = frozenset({Severity.CRITICAL, Severity.WARNING})
"""The severities of GKE's capacity alerts: a receiver that takes neither gets no channel for them."""


def capacity_receivers(obs: Observability) -> dict[str, Receiver]:
    """Receivers that take capacity alerts: every namespace's (they are about nodes), at a severity the alerts have."""
    return {n: r for n, r in sorted(obs.receivers.items()) if not r.namespaces and PAGED & set(r.severities)}


def unreached_receivers(obs: Observability) -> list[str]:
    """Receivers Cloud Monitoring cannot notify: Slack incoming webhooks and plain webhooks.

    A webhook's URL (its token) would be a channel label in clear, and Cloud Monitoring's Slack channel takes a Slack
    app's token, not an incoming webhook.
    """
    return [n for n, r in capacity_receivers(obs).items() if r.type in (ReceiverType.SLACK, ReceiverType.WEBHOOK)]


def capacity_alert_channels(obs: Observability, *, project: str, labels: dict[str, str],
                            credentials: Mapping[str, pulumi.Output[str]],
                            budget_channels: Mapping[str, list[pulumi.Output[str]]]) -> list[AlertChannel]:
    """Each capacity receiver's Cloud Monitoring channels: the budget's where it has them, else the project's own.

    The project's own are one GcpOnCallChannels (`oncall-gcp`), made only when some receiver needs one.
    """
    specs = []
    for name, r in capacity_receivers(obs).items():
        if name in budget_channels:
            continue
        if r.type is ReceiverType.PAGERDUTY and r.secret is not None:
            specs.append(OnCallChannel(name, pagerduty_key=pulumi.Output.secret(credentials[r.secret])))
        elif r.type is ReceiverType.EMAIL and r.to:
            specs.append(OnCallChannel(name, emails=tuple(r.to)))
    own = GcpOnCallChannels("oncall-gcp", GcpOnCallChannelsArgs(
        project=project, receivers=specs, environment=labels.get("environment", ""), labels=labels)).channels \
        if specs else {}
    found = {**own, **{n: list(c) for n, c in budget_channels.items()}}
    return [AlertChannel(n, frozenset(r.severities), c) for n, r in capacity_receivers(obs).items()
            for c in found.get(n, [])]
