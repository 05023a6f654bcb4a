"""Cloud Monitoring notification channels of the on-call receivers that no budget channel serves yet.

Cloud Monitoring's own alert policies (the daily budget guard, GKE's capacity signals) cannot use the clusters'
Alertmanager, so they notify receivers through notification channels. The budget already makes one for each receiver
in `budgets.gcp.receivers`; this component makes them for the other receivers those policies notify, one project-wide
set, so every policy of a receiver notifies the same channel. Only receivers Cloud Monitoring can reach without a
credential in clear are given one: PagerDuty (the routing key as the channel's `sensitive_labels.service_key`) and
e-mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.budget import OnCallChannel, slug


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
        child = pulumi.ResourceOptions(parent=self)
        out = []
        if r.pagerduty_key is not None:
            out.append(gcp.monitoring.NotificationChannel(
                f"{name}-{r.receiver}", project=args.project, type="pagerduty",
                display_name=f"gpu-fleet {args.environment} on-call: {r.receiver}",
                sensitive_labels={"service_key": r.pagerduty_key}, user_labels=args.labels, opts=child).name)
        out += [gcp.monitoring.NotificationChannel(
            f"{name}-{r.receiver}-{slug(email)}", project=args.project, type="email",
            display_name=f"gpu-fleet {args.environment} on-call: {r.receiver} {email}",
            labels={"email_address": email}, user_labels=args.labels, opts=child).name for email in r.emails]
        return out
