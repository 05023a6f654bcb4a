"""Stack config values for the config layer's tests, and the one-line errors `infra.config.parse` raises on them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError, load_fleet
from infra.config import parse
from tests.support.plans import stack_doc


def values(stack: str = "dev") -> dict[str, Any]:
    cfg = stack_doc(stack)["config"]
    return copy.deepcopy({k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("gpu-fleet:")})


def errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(raw, gcp_project="acme-test")
    return [str(i) for i in info.value.issues]


def fleet_issues(values: dict[str, Any]) -> list[str]:
    """The one-line issues `load_fleet` reports on `values`, or [] when they load."""
    try:
        load_fleet(values)
    except ConfigError as err:
        return [str(i) for i in err.issues]
    return []


def first_pool(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"][0]


POOL = "gke.regions[us-central1].clusters[dev-1].gpu_pools[l4]"
