"""Reads the stack's `gpu-fleet:*` configuration once and returns the validated fleet model.

This is the only module that touches `pulumi.Config`; everything downstream receives typed values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from components.spec import Fleet
from components.validation import ConfigError, Issue, load_fleet

PROJECT = "gpu-fleet"


@dataclass(frozen=True)
class StackConfig:
    fleet: Fleet
    gcp_project: str


def parse(raw: Mapping[str, Any], *, gcp_project: str | None) -> StackConfig:
    """Validate `gpu-fleet:*` values (keys without namespace) plus the provider's `gcp:project`."""
    fleet = load_fleet(raw)
    project = (fleet.gke.project if fleet.gke else None) or gcp_project
    if fleet.gke is not None and not project:
        raise ConfigError([Issue("gcp:project", "no GCP project is configured", None,
                                 "pulumi config set gcp:project <project-id>")])
    return StackConfig(fleet=fleet, gcp_project=project or "")


def load() -> StackConfig:
    """Read the running stack's configuration (as the Pulumi engine passed it) and validate it."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for full in sorted(keys):
        namespace, _, key = full.partition(":")
        if namespace == PROJECT:
            raw[key] = decode(cfg.get(key))
    return parse(raw, gcp_project=pulumi.Config("gcp").get("project"))


def decode(value: str | None) -> Any:
    """Structured values reach the program as JSON text, plain ones as bare strings."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
