"""The Alertmanager configuration for the stack's receivers, one renderer for every platform's Alertmanager.

Every alert goes to each receiver that lists its severity (routes with `continue: true`); anything else goes to a
receiver that drops it. Credentials are only ever handled as Pulumi secrets: `config_yaml` applies over the
secret outputs, so the rendered text is itself a secret and reaches the cluster as a Kubernetes Secret, never a
plain resource input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import yaml

from components.config.observability import NULL_RECEIVER, Receiver, ReceiverType

GROUP_BY = ["alertname", "cluster", "namespace"]
_SLACK_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.cluster }})'
_SLACK_TEXT = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n{{ end }}"


def _receiver(name: str, r: Receiver, credential: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if r.type is ReceiverType.SLACK:
        slack: dict[str, Any] = {"api_url": credential, "send_resolved": True, "title": _SLACK_TITLE,
                                 "text": _SLACK_TEXT}
        if r.channel:
            slack["channel"] = r.channel
        out["slack_configs"] = [slack]
    elif r.type is ReceiverType.PAGERDUTY:
        out["pagerduty_configs"] = [{"routing_key": credential, "send_resolved": True}]
    elif r.type is ReceiverType.WEBHOOK:
        out["webhook_configs"] = [{"url": credential, "send_resolved": True}]
    else:
        email: dict[str, Any] = {"to": ", ".join(r.to), "from": r.sender, "smarthost": r.smarthost,
                                 "send_resolved": True}
        if r.auth_username:
            email["auth_username"] = r.auth_username
            email["auth_password"] = credential
        out["email_configs"] = [email]
    return out


def alertmanager_config(receivers: Mapping[str, Receiver], credentials: Mapping[str, str]) -> dict[str, Any]:
    """The configuration as data; `credentials` maps each receiver's `secret` key to its value."""
    routes = []
    for name, r in sorted(receivers.items()):
        severities = "|".join(s.value for s in r.severities)
        routes.append({"receiver": name, "matchers": [f'severity=~"{severities}"'], "continue": True})
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {"receiver": NULL_RECEIVER, "group_by": GROUP_BY, "group_wait": "30s", "group_interval": "5m",
                  "repeat_interval": "4h", "routes": routes},
        "receivers": [{"name": NULL_RECEIVER}] + [
            _receiver(name, r, credentials.get(r.secret) if r.secret else None)
            for name, r in sorted(receivers.items())],
    }


def config_yaml(receivers: Mapping[str, Receiver],
                credentials: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """`alertmanager.yaml` with the receivers' credentials filled in: a secret, whatever the inputs."""
    needed = sorted({r.secret for r in receivers.values() if r.secret})
    missing = [k for k in needed if k not in credentials]
    if missing:
        raise ValueError(f"no credential passed for {missing}")
    values = pulumi.Output.all(*[credentials[k] for k in needed])
    text = values.apply(lambda vals: yaml.safe_dump(
        alertmanager_config(receivers, dict(zip(needed, vals, strict=True))), sort_keys=False))
    return pulumi.Output.secret(text)
