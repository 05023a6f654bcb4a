"""The `observability:` section: strict thresholds and receivers, and credentials only as Pulumi secrets.

A receiver names a `gpu-fleet:` config key holding its credential; that key must be stored encrypted, and a
credential written in plain text anywhere is refused (one line, exit 2, its value never printed). The offline plan
cannot decrypt `secure:` values and plans with a masked placeholder secret instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.observability import Alerts
from gpufleet import cli
from infra.config import parse
from tests.support.config_builders import values
from tests.support.observability_config import issues, one
from tests.support.plans import ROOT, gke_of

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
# A `secure:` value as `pulumi config set --secret` writes it; no key here can decrypt it.
SECURE = {"secure": "v1:Zm9vYmFyYmF6:cXV4cXV1eHF1dXhxdXV4cXV1eA=="}


def receivers(**extra: Any) -> dict[str, Any]:
    return {"receivers": {"gpu-team": {"type": "slack", "channel": "#gpu-alerts", "secret": "slack-webhook",
                                       **extra}}}


def test_absent_section_means_the_seed_thresholds_and_no_receiver() -> None:
    parsed = parse(values(), gcp_project="acme-test")
    assert parsed.fleet.observability is None
    a = Alerts()
    assert (a.gpu_utilization.percent, a.gpu_utilization.window) == (85, "5m")
    assert (a.gpu_memory.percent, a.gpu_memory.window) == (90, "5m")
    assert (a.gpu_idle.percent, a.gpu_idle.window) == (5, "30m")
    assert (a.network_saturation.percent, a.network_saturation.window) == (80, "5m")
    assert (a.cost_spike.factor, a.cost_spike.window) == (2.0, "1h")
    assert a.xid_errors.enabled


def test_a_receiver_with_its_credential_in_a_secret_key_is_accepted() -> None:
    raw = {**values(), "observability": receivers()}
    parsed = parse(raw, gcp_project="acme-test", keys=[*(f"gpu-fleet:{k}" for k in raw), "gpu-fleet:slack-webhook"],
                   secret_keys=["gpu-fleet:slack-webhook"])
    assert parsed.fleet.observability is not None
    assert set(parsed.fleet.observability.receivers) == {"gpu-team"}


@pytest.mark.parametrize("key", ["url", "webhook_url", "api_url", "routing_key", "password"])
def test_a_plain_credential_is_refused_and_never_echoed(key: str) -> None:
    raw = {**values(), "observability": receivers(**{key: SLACK_URL})}
    # The offending key itself is named (issue 20 §1), never its value.
    line = one(raw, f"observability.receivers.gpu-team.{key}:", keys={"gpu-fleet:slack-webhook": True})
    assert f"`{key}`" in line and "pulumi config set --secret" in line
    assert SLACK_URL not in line and "XXXX" not in line


def test_the_secret_key_must_exist() -> None:
    line = one({**values(), "observability": receivers()}, "gpu-fleet:slack-webhook: is not set")
    assert "pulumi config set --secret slack-webhook" in line and "observability.receivers.gpu-team.secret" in line


def test_the_secret_key_must_be_encrypted() -> None:
    raw = {**values(), "observability": receivers(), "slack-webhook": SLACK_URL}
    line = one(raw, "gpu-fleet:slack-webhook:", keys={})
    assert "plain text" in line and SLACK_URL not in line


def test_other_gpu_fleet_secrets_are_still_refused() -> None:
    raw = {**values(), "observability": receivers()}
    found = issues(raw, keys={"gpu-fleet:slack-webhook": True, "gpu-fleet:budgets": True})
    assert len(found) == 1 and found[0].startswith("gpu-fleet:budgets: is stored as a secret")


@pytest.mark.parametrize(("receiver", "start", "text"), [
    ({"type": "pagerduty"}, ".secret:", "routing key"),
    ({"type": "webhook", "channel": "#x", "secret": "hook"}, ".channel:", "slack receivers only"),
    ({"type": "email", "to": ["ops@example.com"], "from": "alerts@example.com"}, ".smarthost:", "host:port"),
    ({"type": "email", "to": ["not-an-address"], "from": "alerts@example.com", "smarthost": "smtp.example.com:587"},
     ".to:", "not an email address"),
    ({"type": "email", "to": ["ops@example.com"], "from": "alerts@example.com", "smarthost": "smtp.example.com:587",
      "auth_username": "alerts"}, ".secret:", "both auth_username and secret"),
    ({"type": "teams", "secret": "x"}, ".type:", "Input should be"),
])
def test_receivers_must_be_complete_for_their_type(receiver: dict[str, Any], start: str, text: str) -> None:
    secret = receiver.get("secret")
    raw = {**values(), "observability": {"receivers": {"r1": receiver}}}
    line = one(raw, f"observability.receivers.r1{start}", keys={f"gpu-fleet:{secret}": True} if secret else {})
    assert text in line


def test_receivers_are_keyed_by_name_and_may_not_take_the_drop_receiver() -> None:
    raw = {**values(), "observability": {"receivers": {"gpufleet-null": {"type": "webhook", "secret": "h"}}}}
    assert "drop-everything" in one(raw, "observability.receivers.gpufleet-null:", keys={"gpu-fleet:h": True})
    raw["observability"] = {"receivers": {"Bad Name": {"type": "webhook", "secret": "h"}}}
    assert any("Bad Name" in e for e in issues(raw, keys={"gpu-fleet:h": True}))


@pytest.mark.parametrize(("alerts", "start"), [
    ({"gpu_utilization": {"percent": 85, "window": "30s"}}, "observability.alerts.gpu_utilization.window:"),
    ({"gpu_memory": {"percent": 190, "window": "5m"}}, "observability.alerts.gpu_memory.percent:"),
    ({"gpu_idle": {"percent": 5, "window": "half an hour"}}, "observability.alerts.gpu_idle.window:"),
    ({"cost_spike": {"factor": 1.0}}, "observability.alerts.cost_spike.factor:"),
    ({"cost_spike": {"window": "1m"}}, "observability.alerts.cost_spike.window:"),
    ({"xid_errors": {"resolve_after": "10s"}}, "observability.alerts.xid_errors.resolve_after:"),
    ({"gpu_utilisation": {"percent": 85, "window": "5m"}}, "observability.alerts.gpu_utilisation: unknown key"),
])
def test_thresholds_are_checked(alerts: dict[str, Any], start: str) -> None:
    one({**values(), "observability": {"alerts": alerts}}, start)


def test_the_old_per_cluster_alerts_key_says_where_it_went() -> None:
    raw = values()
    raw["gke"]["regions"][0]["clusters"][0]["addons"]["alerts"] = {"utilization_percent": 70}
    line = one(raw, "gke.regions[us-central1].clusters[dev-1].addons.alerts:")
    assert "observability.alerts" in line


def _stack_with_receiver(tmp_path: Path, secret: Any) -> Path:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["gpu-fleet:observability"] = receivers()
    doc["config"]["gpu-fleet:slack-webhook"] = secret
    gke_of(doc)  # the stack keeps its GKE side
    path = tmp_path / "Pulumi.obs.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_offline_plan_plans_an_undecryptable_secure_value_as_a_masked_secret(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    assert cli.main(["plan", "obs", "--config", str(_stack_with_receiver(tmp_path, SECURE)), "--no-policy",
                     "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    secrets = [r for r in doc["resources"] if r["type"] == "kubernetes:core/v1:Secret"
               and r["inputs"]["metadata"]["namespace"] == "gmp-public"]
    assert len(secrets) == 1
    assert secrets[0]["inputs"]["stringData"] == "[secret]"
    assert SECURE["secure"] not in out.read_text()


def test_a_plain_credential_in_the_stack_file_exits_2_without_printing_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "obs", "--config", str(_stack_with_receiver(tmp_path, SLACK_URL)), "--no-policy"]) == 2
    err = capsys.readouterr().err
    assert "gpu-fleet:slack-webhook: is stored in plain text, but it holds credentials" in err
    assert SLACK_URL not in err and "Traceback" not in err
