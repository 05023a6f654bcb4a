"""Shared fixtures: the project root, the shared reference data, and offline plans of stack configs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from gpufleet.report import Plan

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"


def stack_doc(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def gke_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["config"]["gpu-fleet:gke"]


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    return cli.build_plan("dev", ROOT / "Pulumi.dev.yaml")


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    return cli.build_plan("prod", ROOT / "Pulumi.prod.yaml")


@pytest.fixture
def plan_doc(tmp_path: Path) -> Callable[[dict[str, Any]], Plan]:
    """Plan an arbitrary stack document (a `Pulumi.<stack>.yaml` as a dict)."""

    def run(doc: dict[str, Any], stack: str = "test") -> Plan:
        path = tmp_path / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(doc))
        return cli.build_plan(stack, path)

    return run


@pytest.fixture
def dev_doc() -> dict[str, Any]:
    return copy.deepcopy(stack_doc("dev"))


@pytest.fixture
def prod_doc() -> dict[str, Any]:
    return copy.deepcopy(stack_doc("prod"))
