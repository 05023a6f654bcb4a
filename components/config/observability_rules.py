"""What an `observability:` section must satisfy beyond its types.

Receivers complete for their type, windows the rule evaluator can honour, and credentials only behind secret
config keys (checked against the stack's keys in `infra.config`, which alone knows which are stored encrypted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from components.config.errors import Issue
from components.config.model import Fleet
from components.config.observability import (
    DEADMANS_SWITCH,
    NULL_RECEIVER,
    Observability,
    Receiver,
    ReceiverType,
    seconds,
)

RULE_INTERVAL_S = 60
"""Rules are evaluated every minute: a window shorter than that cannot be honoured."""
_SMARTHOST = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
_RUNBOOK_BASE = re.compile(r"^(https://[^\s]+|[A-Za-z0-9._-][A-Za-z0-9._/-]*)$")
"""Where runbooks are linked from: an https URL, or a path relative to the repository (no scheme, no spaces)."""
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NEEDS_SECRET = {ReceiverType.SLACK: "the Slack webhook URL", ReceiverType.PAGERDUTY: "the PagerDuty routing key",
                 ReceiverType.WEBHOOK: "the webhook URL"}
_ONLY_FOR = {"channel": ReceiverType.SLACK, "to": ReceiverType.EMAIL, "sender": ReceiverType.EMAIL,
             "smarthost": ReceiverType.EMAIL, "auth_username": ReceiverType.EMAIL}
_KEY_NAMES = {"sender": "from"}


def check_observability(fleet: Fleet) -> Iterator[Issue]:
    obs = fleet.observability
    if obs is None:
        return
    alerts = obs.alerts
    yield from _percents(obs)
    for key in ("gpu_utilization", "gpu_memory", "gpu_idle", "network_saturation"):
        window = getattr(alerts, key).window
        if seconds(window) < RULE_INTERVAL_S:
            yield Issue(f"observability.alerts.{key}.window", "shorter than the rules' evaluation interval (1m)",
                        window, "use 1m or longer, e.g. 5m")
    if seconds(alerts.cost_spike.window) < 5 * RULE_INTERVAL_S:
        yield Issue("observability.alerts.cost_spike.window", "too short to compare spend over",
                    alerts.cost_spike.window, "use 5m or longer; seed 002 compares against an hour ago (1h)")
    if seconds(alerts.xid_errors.resolve_after) < RULE_INTERVAL_S:
        yield Issue("observability.alerts.xid_errors.resolve_after", "shorter than the rules' evaluation interval (1m)",
                    alerts.xid_errors.resolve_after, "use 1m or longer, e.g. 10m")
    if not _RUNBOOK_BASE.match(alerts.runbook_base_url):
        yield Issue("observability.alerts.runbook_base_url", "not an https URL or a repository-relative path",
                    alerts.runbook_base_url, "e.g. https://github.com/<org>/<repo>/blob/main/docs/runbooks, or "
                    "docs/runbooks")
    yield from _receivers(obs)


PERCENT_ALERTS = ("gpu_utilization", "gpu_memory", "gpu_idle", "network_saturation")


def _percents(obs: Observability) -> Iterator[Issue]:
    """A share (0.85) where a percent belongs: budgets in the same file take shares, so the slip is easy.

    0.85 would make the utilisation alert fire on any GPU 1% busy. Only `gpu_idle` keeps 1 (idle under 1%, a
    real threshold); 1 on the others (1% busy, 1% of memory) reads as 100% written as a share.
    """
    for key in PERCENT_ALERTS:
        percent = getattr(obs.alerts, key).percent
        if percent < 1 or (percent == 1 and key != "gpu_idle"):
            yield Issue(f"observability.alerts.{key}.percent", "a share where a percent belongs", percent,
                        f"write percents: {percent * 100:g} for {percent * 100:g}% (budgets take shares, alerts "
                        "percents)")


def _receivers(obs: Observability) -> Iterator[Issue]:
    for name, r in obs.receivers.items():
        path = f"observability.receivers.{name}"
        if name == NULL_RECEIVER:
            yield Issue(path, "is the name of gpu-fleet's drop-everything receiver", name, "pick another name")
        if name == DEADMANS_SWITCH:
            yield Issue(path, "is the name of gpu-fleet's dead man's switch receiver", name,
                        "pick another name; the heartbeat's receiver is observability.deadmans_switch")
        yield from _receiver(path, name, r)
    if obs.deadmans_switch is not None:
        yield from _receiver("observability.deadmans_switch", DEADMANS_SWITCH, obs.deadmans_switch)
        for key in ("severities", "namespaces"):
            if key in obs.deadmans_switch.model_fields_set:
                yield Issue(f"observability.deadmans_switch.{key}", "the dead man's switch gets only the Watchdog "
                            "heartbeat", None, f"remove it; set {key} on a receiver under observability.receivers")
    owners: dict[str, str] = {}
    named = [(f"observability.receivers.{n}.secret", n, r) for n, r in obs.receivers.items()]
    if obs.deadmans_switch is not None:
        named.append(("observability.deadmans_switch.secret", "deadmans_switch", obs.deadmans_switch))
    for path, name, r in named:
        if r.secret is None:
            continue
        if r.secret in owners:
            yield Issue(path, f"also used by receiver {owners[r.secret]}",
                        r.secret, "give each receiver its own secret key, so rotating one touches only one")
        owners.setdefault(r.secret, name)


def _receiver(path: str, name: str, r: Receiver) -> Iterator[Issue]:
    set_fields = r.model_fields_set
    for field, owner in _ONLY_FOR.items():
        if field in set_fields and getattr(r, field) not in (None, []) and r.type is not owner:
            yield Issue(f"{path}.{_KEY_NAMES.get(field, field)}", f"applies to {owner.value} receivers only", None,
                        f"remove it, or set type: {owner.value}")
    if r.type in _NEEDS_SECRET and r.secret is None:
        yield Issue(f"{path}.secret", f"a {r.type.value} receiver needs {_NEEDS_SECRET[r.type]}", None,
                    f"pulumi config set --secret gpu-fleet:{name}-{r.type.value} <value>, then "
                    f"secret: {name}-{r.type.value}")
    if r.type is ReceiverType.EMAIL:
        yield from _email(path, r.to, r.sender, r.smarthost, r.auth_username, r.secret)


def _email(path: str, to: list[str], sender: str | None, smarthost: str | None, user: str | None,
           secret: str | None) -> Iterator[Issue]:
    if not to:
        yield Issue(f"{path}.to", "an email receiver needs recipients", None, "to: [gpu-platform@example.com]")
    for address in [*to, *([sender] if sender else [])]:
        if not _EMAIL.match(address):
            yield Issue(f"{path}.{'to' if address in to else 'from'}", "not an email address", address,
                        "e.g. gpu-platform@example.com")
    if sender is None:
        yield Issue(f"{path}.from", "an email receiver needs a From address", None, "from: alerts@example.com")
    if smarthost is None or not _SMARTHOST.match(smarthost):
        yield Issue(f"{path}.smarthost", "an email receiver needs the SMTP server as host:port", smarthost,
                    "e.g. smtp.example.com:587")
    if (user is None) != (secret is None):
        yield Issue(f"{path}.{'secret' if secret is None else 'auth_username'}",
                    "SMTP authentication needs both auth_username and secret (the password)", None,
                    "set both, or neither for a relay that takes mail without a login")
