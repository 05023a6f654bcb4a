"""Shared fixtures: offline plans of the stacks and of edited stack documents (built by tests/support/plans.py)."""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli, offline
from gpufleet.report import Plan
from tests.support.plans import (  # noqa: F401  (re-exported: test modules on other branches import them from here)
    REFERENCE,
    ROOT,
    SHARED,
    budgets_of,
    eks_provider_names,
    gke_of,
    gke_only,
    shared_plan,
    stack_doc,
)


# Function-scoped on purpose: each test gets its own copy of the run's one plan (a 30 ms unpickle), so a test that
# changes a plan's rows cannot change what a later test on the same worker reads.
@pytest.fixture
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return shared_plan(tmp_path_factory, "dev", (ROOT / "Pulumi.dev.yaml").read_text())


@pytest.fixture
def dev_gke_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """dev's GKE side alone (the baseline of policy tests calibrated on GKE's figures)."""
    return shared_plan(tmp_path_factory, "dev", yaml.safe_dump(gke_only(stack_doc("dev"))))


@pytest.fixture
def prod_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return shared_plan(tmp_path_factory, "prod", (ROOT / "Pulumi.prod.yaml").read_text())


@pytest.fixture
def plan_doc(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], Plan]:
    """Plan an arbitrary stack document (a `Pulumi.<stack>.yaml` as a dict), through `shared_plan`.

    Tests that make the same edit (or none) share one plan per run; each caller gets its own copy to mutate.
    """

    def run(doc: dict[str, Any], stack: str = "test") -> Plan:
        return shared_plan(tmp_path_factory, stack, yaml.safe_dump(doc))

    return run


@pytest.fixture
def fresh_plan_doc(tmp_path: Path) -> Callable[[dict[str, Any]], Plan]:
    """Plan a stack document here and now, never shared: for tests that watch the program run (a spy on the mocks)."""

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `first` run before the rest (stable otherwise): with xdist they start while others queue."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)


def pytest_configure(config: pytest.Config) -> None:
    """Collect garbage in each worker as seldom as a plan does (gpufleet/offline.py `fewer_collections`).

    A worker holds the run's shared plans, parsed CRDs and chart values for its whole life; at Python's default
    thresholds every full collection walked all of it again, about a sixth of the workers' CPU (measured: 210 s ->
    167 s over the whole suite).
    """
    gc.set_threshold(*offline.PLAN_GC_THRESHOLD)
