"""The fleet-wide `observability:` section: alert thresholds (the seeds' defaults) and who receives the alerts.

Every cluster of every platform evaluates the same alert rules (`components.kubernetes.monitoring`) with these
thresholds, and its Alertmanager routes them to these receivers. Receivers hold no credentials: each names a
stack config key set with `pulumi config set --secret`, which the program reads as a Pulumi secret.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from components.config.base import Name, Number, Strict
from components.config.eks import DURATION_PATTERN

SECRET_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
"""A `gpu-fleet:` config key (without the namespace) that holds a credential as a secret."""

Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
SecretKey = Annotated[str, StringConstraints(pattern=SECRET_KEY_PATTERN)]

_UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> int:
    """The length of a validated `Duration` in seconds."""
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"([0-9]+)([smh])", duration))


class PercentAlert(Strict):
    """Fires when a GPU (or node) stays past `percent` for `window`; each alert below has its own defaults."""

    enabled: bool = True
    percent: Number = Field(gt=0, le=100)
    window: Duration
    """How long the condition must hold before the alert fires (the rule's `for:`)."""


class GpuUtilization(PercentAlert):
    percent: Number = Field(default=85, gt=0, le=100)
    window: Duration = "5m"


class GpuMemory(PercentAlert):
    percent: Number = Field(default=90, gt=0, le=100)
    window: Duration = "5m"


class GpuIdle(PercentAlert):
    """Fires when utilisation stays *under* `percent`: GPUs paid for and unused."""

    percent: Number = Field(default=5, gt=0, le=100)
    window: Duration = "30m"


class NetworkSaturation(PercentAlert):
    """Node traffic against the machine's NIC bandwidth from the catalog (cloud NICs report no link speed)."""

    percent: Number = Field(default=80, gt=0, le=100)
    window: Duration = "5m"


MAX_SPIKE_FACTOR = 20
"""Spend 20 times what it was an hour ago is already a fleet going from 4 to 80 H100s: a larger factor is the
"200%" of seed 002 written as 200 (never firing), not a threshold anyone means."""


class CostSpike(Strict):
    """Fires when the cluster's GPU spend rate reaches `factor` times what it was `window` ago."""

    enabled: bool = True
    factor: Number = Field(default=2.0, gt=1, le=MAX_SPIKE_FACTOR)
    """Seed 002's "200%": spend now at least 200% of (twice) the spend an hour ago. 3.0 reads it as +200%."""
    window: Duration = "1h"
    min_usd_per_hour: Number = Field(default=25.0, gt=0)
    """The least spend rate a spike is measured against: a smaller (or no) baseline counts as this much, so a pool
    scaling up from zero fires once it costs `factor` times it (50 USD an hour at the defaults, about four H100),
    and a few cheap GPUs appearing in an empty cluster do not."""


class XidErrors(Strict):
    """Fires on a new XID error; resolves once the GPU has reported no new one for `resolve_after`."""

    enabled: bool = True
    resolve_after: Duration = "10m"


DEFAULT_RUNBOOK_BASE = "docs/runbooks"
"""Where alert runbooks live: the repository's own `docs/runbooks/<alert>.md`, relative to its root."""


class Alerts(Strict):
    """Alert thresholds, with the seeds' defaults.

    002: 85% / 90% / 80% for 5 minutes, cost 200% in an hour; 002 and 003: GPUs idle under 5% for 30 minutes;
    003: XID errors.
    """

    enabled: bool = True
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE
    """Base of every alert's `runbook_url` annotation (`<base>/<alert>.md`): the repository-relative
    `docs/runbooks` by default; set it to where the repository is browsed, e.g.
    `https://github.com/<org>/<repo>/blob/main/docs/runbooks`, for links that open from Slack or PagerDuty."""
    gpu_utilization: GpuUtilization = Field(default_factory=GpuUtilization)
    gpu_memory: GpuMemory = Field(default_factory=GpuMemory)
    gpu_idle: GpuIdle = Field(default_factory=GpuIdle)
    network_saturation: NetworkSaturation = Field(default_factory=NetworkSaturation)
    cost_spike: CostSpike = Field(default_factory=CostSpike)
    xid_errors: XidErrors = Field(default_factory=XidErrors)


class ReceiverType(str, Enum):
    SLACK = "slack"
    """A Slack incoming webhook; `secret` holds its URL."""
    PAGERDUTY = "pagerduty"
    """PagerDuty Events API v2; `secret` holds the integration's routing key."""
    EMAIL = "email"
    """SMTP; `secret` (optional) holds the SMTP password of `auth_username`."""
    WEBHOOK = "webhook"
    """Alertmanager's generic webhook; `secret` holds the URL (URLs of hooks carry their token)."""


class Severity(str, Enum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


NULL_RECEIVER = "gpufleet-null"
"""The Alertmanager receiver that drops what no configured receiver asked for; no receiver may take its name."""
DEADMANS_SWITCH = "gpufleet-deadmans-switch"
"""The Alertmanager receiver of `observability.deadmans_switch` (the Watchdog heartbeat)."""

CREDENTIAL_KEYS = ("url", "webhook_url", "api_url", "routing_key", "service_key", "integration_key", "password",
                   "auth_password", "api_key", "token")
"""Keys a user might write a credential under; refused with a hint, their values never echoed."""


class Receiver(Strict):
    """Where alerts go: one Slack channel, PagerDuty service, mailbox or webhook."""

    type: ReceiverType
    secret: SecretKey | None = None
    """The `gpu-fleet:` config key holding the credential, set with `pulumi config set --secret gpu-fleet:<key>`."""
    severities: list[Severity] = Field(
        default_factory=lambda: [Severity.CRITICAL, Severity.WARNING, Severity.INFO], min_length=1)
    """Which alerts this receiver gets (every alert carries a `severity` label)."""
    namespaces: list[Name] = Field(default_factory=list)
    """A team's receiver: only alerts about these namespaces (the workload's, e.g. an application XID or a
    team's budget guard). Empty: every namespace, and alerts about no namespace (hardware, nodes)."""
    channel: str | None = None
    """Slack: the channel, e.g. `#gpu-alerts` (unset: the webhook's own channel)."""
    to: list[str] = Field(default_factory=list)
    """Email: recipients."""
    sender: str | None = Field(default=None, alias="from")
    """Email: the From address."""
    smarthost: str | None = None
    """Email: the SMTP server as host:port, e.g. smtp.example.com:587."""
    auth_username: str | None = None
    """Email: the SMTP user `secret`'s password belongs to."""

    @model_validator(mode="before")
    @classmethod
    def _no_plain_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            found = [k for k in CREDENTIAL_KEYS if k in data]
            if found:
                raise PydanticCustomError(
                    "plain_credential",
                    "`{key}` would put a credential in the stack file in plain text; store it with `pulumi config "
                    "set --secret gpu-fleet:<key> <value>` and name that key in `secret:`",
                    {"key": found[0]})
        return data


class Observability(Strict):
    """Monitoring that every cluster gets: the seed alert rules and the receivers they are routed to.

    Absent, every cluster still gets the rules with the seeds' thresholds, and no receiver.
    """

    alerts: Alerts = Field(default_factory=Alerts)
    receivers: dict[Name, Receiver] = Field(default_factory=dict)
    """Keyed by name (the Alertmanager receiver's name, a stable key); every gpu-fleet alert whose severity a
    receiver lists is sent to it."""
    deadmans_switch: Receiver | None = None
    """Where the always-firing `Watchdog` heartbeat goes (a webhook or PagerDuty heartbeat service that raises an
    incident when the heartbeat stops: Prometheus, the rule evaluator or Alertmanager is down). Unset: the
    heartbeat is dropped, and the plan says nobody would notice monitoring going down."""


def receiver_secret_keys(obs: Observability | None) -> dict[str, str]:
    """Config keys (without namespace) that receivers read as secrets -> the key path naming each."""
    if obs is None:
        return {}
    keys = {r.secret: f"observability.receivers.{name}.secret" for name, r in obs.receivers.items()
            if r.secret is not None}
    if obs.deadmans_switch is not None and obs.deadmans_switch.secret is not None:
        keys[obs.deadmans_switch.secret] = "observability.deadmans_switch.secret"
    return keys


def referenced_secret_keys(raw: Any) -> set[str]:
    """The `secret:` keys receivers name in a raw, not yet validated `observability` value (strings only).

    `infra.config` needs them before the section is validated: those keys are credentials, to be left out of the
    settings and required to be encrypted.
    """
    if not isinstance(raw, dict):
        return set()
    receivers = raw.get("receivers")
    found = list(receivers.values()) if isinstance(receivers, dict) else []
    found.append(raw.get("deadmans_switch"))
    return {r["secret"] for r in found if isinstance(r, dict) and isinstance(r.get("secret"), str)}
