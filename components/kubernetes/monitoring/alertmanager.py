"""The Alertmanager routing of gpu-fleet's alerts, one model for every platform's Alertmanager.

Only gpu-fleet's own alerts reach the GPU receivers: each receiver's route matches the fleet label every
gpu-fleet rule carries (`FLEET_ALERT_LABEL`) plus the severities it lists, so the platform's defaults (the
kube-prometheus-stack rules on EKS, OpenShift's platform alerts) never page the GPU on-call. `Watchdog`, the
always-firing heartbeat, goes to the dead man's switch when one is configured; kube-prometheus' standard inhibit
rules mute a warning while the same alert is critical, and info alerts under an `InfoInhibitor`.

`routing()` is that model without credentials (routes, receiver names, inhibit rules): the kube-prometheus-stack
and GKE Secrets are rendered from it here, and OpenShift's AlertmanagerConfig can be built from it too. Credentials
are only ever handled as Pulumi secrets: `config_yaml` applies over the secret outputs, so the rendered text is
itself a secret and reaches the cluster as a Kubernetes Secret, never a plain resource input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import yaml

from components.config.errors import ConfigError, Issue
from components.config.observability import DEADMANS_SWITCH, NULL_RECEIVER, Receiver, ReceiverType
from components.kubernetes.conventions import FLEET_ALERT_LABEL

GROUP_BY = ["alertname", "cluster", "namespace"]
HEARTBEAT = "Watchdog"
"""kube-prometheus' always-firing alert (kube-prometheus-stack `general.rules`; gpu-fleet's own on GKE)."""
INFO_INHIBITOR = "InfoInhibitor"
"""kube-prometheus' alert that fires while a namespace has only info alerts, to mute them."""
_SLACK_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.cluster }})'
_SLACK_TEXT = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n" \
              "{{ with .Annotations.runbook_url }}Runbook: {{ . }}\n{{ end }}{{ end }}"


@dataclass(frozen=True)
class Routing:
    """Where alerts go, as names and matchers only: no credential, so any platform's renderer can take it."""

    routes: list[dict[str, Any]]
    """The root route's children, in order (Alertmanager's `route.routes`)."""
    receivers: list[str]
    """Every receiver a route names: the configured ones, the drop receiver, the dead man's switch if set."""
    inhibit_rules: list[dict[str, Any]]
    default_receiver: str = NULL_RECEIVER


def _fleet_matchers(r: Receiver) -> list[str]:
    severities = "|".join(s.value for s in r.severities)
    out = [f'{FLEET_ALERT_LABEL[0]}="{FLEET_ALERT_LABEL[1]}"', f'severity=~"{severities}"']
    if r.namespaces:
        out.append(f'namespace=~"{"|".join(sorted(r.namespaces))}"')
    return out


def _heartbeat_route(deadmans_switch: Receiver | None) -> dict[str, Any]:
    """Watchdog alone, re-sent every minute so the switch notices within minutes when it stops."""
    return {"receiver": DEADMANS_SWITCH if deadmans_switch is not None else NULL_RECEIVER,
            "matchers": [f'alertname="{HEARTBEAT}"'], "group_wait": "0s", "group_interval": "1m",
            "repeat_interval": "1m"}


def inhibit_rules() -> list[dict[str, Any]]:
    """kube-prometheus-stack's default inhibit rules (chart values `alertmanager.config.inhibit_rules`).

    With `cluster` in `equal`, so one cluster's critical never mutes another's warning where Alertmanagers are shared.
    """
    same = ["alertname", "cluster", "namespace"]
    return [
        {"source_matchers": ["severity=critical"], "target_matchers": ["severity=~warning|info"], "equal": same},
        {"source_matchers": ["severity=warning"], "target_matchers": ["severity=info"], "equal": same},
        {"source_matchers": [f"alertname={INFO_INHIBITOR}"], "target_matchers": ["severity=info"],
         "equal": ["cluster", "namespace"]},
        {"target_matchers": [f"alertname={INFO_INHIBITOR}"]},
    ]


def routing(receivers: Mapping[str, Receiver], deadmans_switch: Receiver | None = None) -> Routing:
    """The routing of gpu-fleet's alerts to `receivers`, the heartbeat to `deadmans_switch`."""
    routes = [_heartbeat_route(deadmans_switch),
              {"receiver": NULL_RECEIVER, "matchers": [f'alertname="{INFO_INHIBITOR}"']}]
    routes += [{"receiver": name, "matchers": _fleet_matchers(r), "continue": True}
               for name, r in sorted(receivers.items())]
    names = [NULL_RECEIVER] + ([DEADMANS_SWITCH] if deadmans_switch is not None else []) + sorted(receivers)
    return Routing(routes, names, inhibit_rules())


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


def _credential(r: Receiver, credentials: Mapping[str, str]) -> str | None:
    return credentials.get(r.secret) if r.secret else None


def _all_receivers(receivers: Mapping[str, Receiver], deadmans_switch: Receiver | None) -> dict[str, Receiver]:
    return {**receivers, **({DEADMANS_SWITCH: deadmans_switch} if deadmans_switch is not None else {})}


def require_credentials(receivers: Mapping[str, Receiver], deadmans_switch: Receiver | None,
                        credentials: Mapping[str, Any]) -> list[str]:
    """The receivers' secret keys, sorted; a ConfigError naming each receiver whose credential was not passed.

    Named as the validator names it (`observability.receivers.NAME.secret`), so a composer that forgot to hand a
    credential over reads as the key it concerns, not as a traceback.
    """
    every = _all_receivers(receivers, deadmans_switch)
    issues = [Issue("observability.deadmans_switch.secret" if name == DEADMANS_SWITCH
                    else f"observability.receivers.{name}.secret", "no credential passed for it", r.secret,
                    f"pulumi config set --secret gpu-fleet:{r.secret} < <file>; the composer hands every receiver's "
                    "credential to the component")
              for name, r in every.items() if r.secret and r.secret not in credentials]
    if issues:
        raise ConfigError(issues)
    return sorted({r.secret for r in every.values() if r.secret})


def alertmanager_config(receivers: Mapping[str, Receiver], credentials: Mapping[str, str],
                        deadmans_switch: Receiver | None = None) -> dict[str, Any]:
    """The configuration as data; `credentials` maps each receiver's `secret` key to its value."""
    model = routing(receivers, deadmans_switch)
    every = _all_receivers(receivers, deadmans_switch)
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {"receiver": model.default_receiver, "group_by": GROUP_BY, "group_wait": "30s",
                  "group_interval": "5m", "repeat_interval": "4h", "routes": model.routes},
        "inhibit_rules": model.inhibit_rules,
        "receivers": [{"name": NULL_RECEIVER}] + [
            _receiver(name, every[name], _credential(every[name], credentials))
            for name in model.receivers if name != NULL_RECEIVER],
    }


def config_yaml(receivers: Mapping[str, Receiver], credentials: Mapping[str, pulumi.Input[str]],
                deadmans_switch: Receiver | None = None) -> pulumi.Output[str]:
    """`alertmanager.yaml` with the receivers' credentials filled in: a secret, whatever the inputs."""
    needed = require_credentials(receivers, deadmans_switch, credentials)
    values = pulumi.Output.all(*[credentials[k] for k in needed])
    text = values.apply(lambda vals: yaml.safe_dump(
        alertmanager_config(receivers, dict(zip(needed, vals, strict=True)), deadmans_switch), sort_keys=False))
    return pulumi.Output.secret(text)
