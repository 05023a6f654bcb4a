"""Errors raised while components build resources name the config key, as the validator's Issues do.

The validator makes sure every receiver's secret key is set; a component that is not handed one (a composer's
mistake) still reads as the key it concerns, exit 2 with one line, not a bare ValueError.
"""

from __future__ import annotations

import pytest

from components.config import ConfigError
from components.config.observability import Receiver
from components.kubernetes.monitoring import alertmanager


def _receivers() -> dict[str, Receiver]:
    return {"oncall": Receiver.model_validate({"type": "pagerduty", "secret": "oncall-pagerduty"}),
            "chat": Receiver.model_validate({"type": "slack", "secret": "chat-slack", "channel": "#gpu"})}


def test_a_missing_credential_names_its_receiver_key() -> None:
    dms = Receiver.model_validate({"type": "webhook", "secret": "dms-webhook"})
    with pytest.raises(ConfigError) as raised:
        alertmanager.config_yaml(_receivers(), {"chat-slack": "https://hooks.example/x"}, dms)
    assert [(i.path, i.value) for i in raised.value.issues] == [
        ("observability.receivers.oncall.secret", "oncall-pagerduty"),
        ("observability.deadmans_switch.secret", "dms-webhook")]
    line = str(raised.value.issues[0])
    assert "no credential passed for it" in line and "pulumi config set --secret gpu-fleet:oncall-pagerduty" in line


def test_every_credential_passed_gives_the_sorted_keys() -> None:
    creds = {"oncall-pagerduty": "k", "chat-slack": "u"}
    assert alertmanager.require_credentials(_receivers(), None, creds) == ["chat-slack", "oncall-pagerduty"]
