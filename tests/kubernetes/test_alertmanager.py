"""The Alertmanager configuration built from the stack's receivers, checked by Alertmanager's own `amtool`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.config.observability import Observability
from components.kubernetes.monitoring.alertmanager import NULL_RECEIVER, alertmanager_config

AMTOOL = shutil.which("amtool")
OBS = Observability.model_validate({"receivers": {
    "gpu-oncall": {"type": "pagerduty", "secret": "pagerduty-key", "severities": ["critical"]},
    "gpu-team": {"type": "slack", "channel": "#gpu-alerts", "secret": "slack-webhook"},
    "platform-mail": {"type": "email", "to": ["ml-platform@example.com", "finops@example.com"],
                      "from": "alerts@example.com", "smarthost": "smtp.example.com:587",
                      "auth_username": "alerts@example.com", "secret": "smtp-password", "severities": ["warning"]},
    "audit": {"type": "webhook", "secret": "audit-hook"},
}})
CREDENTIALS = {"pagerduty-key": "0123456789abcdef0123456789abcdef", "slack-webhook": "https://hooks.slack.com/x",
               "smtp-password": "hunter2", "audit-hook": "https://audit.example.com/hook?token=t"}


def test_every_receiver_gets_the_severities_it_lists() -> None:
    config = alertmanager_config(OBS.receivers, CREDENTIALS)
    assert config["route"]["receiver"] == NULL_RECEIVER
    routes = {r["receiver"]: r for r in config["route"]["routes"] if r["receiver"] != NULL_RECEIVER}
    fleet = 'gpu_fleet="true"'  # only gpu-fleet's own alerts (tests/kubernetes/test_oncall_routing.py)
    assert routes["gpu-oncall"]["matchers"] == [fleet, 'severity=~"critical"']
    assert routes["platform-mail"]["matchers"] == [fleet, 'severity=~"warning"']
    assert routes["gpu-team"]["matchers"] == [fleet, 'severity=~"critical|warning|info"']
    assert all(r["continue"] for r in routes.values())  # one alert reaches every receiver that asked for it
    by_name = {r["name"]: r for r in config["receivers"]}
    assert by_name["gpu-oncall"]["pagerduty_configs"][0]["routing_key"] == CREDENTIALS["pagerduty-key"]
    assert by_name["gpu-team"]["slack_configs"][0]["api_url"] == CREDENTIALS["slack-webhook"]
    assert by_name["gpu-team"]["slack_configs"][0]["channel"] == "#gpu-alerts"
    assert by_name["platform-mail"]["email_configs"][0]["to"] == "ml-platform@example.com, finops@example.com"
    assert by_name["audit"]["webhook_configs"][0]["url"] == CREDENTIALS["audit-hook"]
    assert all(c.get("send_resolved") for r in config["receivers"] for k, cs in r.items() if k != "name"
               for c in cs)  # the XID alert's resolution reaches people too


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian/Ubuntu: apt-get install "
                                           "prometheus-alertmanager; ./dev installs it when it runs as root)")
def test_amtool_accepts_the_configuration(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(OBS.receivers, CREDENTIALS)))
    proc = subprocess.run([str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " - 5 receivers" in proc.stdout
    # The checker is real: a misspelt receiver key is refused.
    broken = alertmanager_config(OBS.receivers, CREDENTIALS)
    broken["receivers"][1]["slack_config"] = broken["receivers"][1].pop(next(
        k for k in broken["receivers"][1] if k.endswith("_configs")))
    path.write_text(yaml.safe_dump(broken))
    assert subprocess.run([str(AMTOOL), "check-config", str(path)], capture_output=True, timeout=60).returncode != 0
