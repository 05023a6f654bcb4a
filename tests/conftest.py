"""Shared fixtures: the project root, the shared reference data, and offline plans of stack configs."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import pickle
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


def gke_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The stack without its `eks:` section (nor its AWS budget): for tests whose figures are the GKE side's alone."""
    doc = copy.deepcopy(doc)
    doc["config"].pop("gpu-fleet:eks", None)
    budgets = doc["config"].get("gpu-fleet:budgets")
    if budgets is not None and budgets.pop("aws", None) is not None and budgets.get("gcp"):
        budgets["gcp"].pop("share", None)  # GCP alone holds the whole budget
    return doc


def budgets_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["config"]["gpu-fleet:budgets"]


def eks_provider_names(doc: dict[str, Any]) -> set[str]:
    """Logical names of the EKS clusters' Kubernetes providers in a stack document."""
    eks = doc["config"].get("gpu-fleet:eks") or {"regions": []}
    return {f"{r['name']}-{c['name']}-k8s" for r in eks["regions"] for c in r["clusters"]}


def shared_plan(factory: pytest.TempPathFactory, stack: str, text: str) -> Plan:
    """The offline plan of a stack document, built once per test run and shared by every xdist worker.

    The first worker to ask plans it and pickles the result into the run's shared temporary folder (the parent
    of each worker's own); the others wait on the same lock and load it. Without xdist it is simply built once.
    """
    base = factory.getbasetemp()
    shared = base.parent if base.name.startswith("popen-gw") else base
    key = hashlib.sha256(f"{stack}\0{text}".encode()).hexdigest()[:16]
    cache, lock = shared / f"plan-{stack}-{key}.pickle", shared / f"plan-{stack}-{key}.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if cache.is_file():
            plan: Plan = pickle.loads(cache.read_bytes())
            return plan
        path = factory.mktemp(f"plan-{stack}") / f"Pulumi.{stack}.yaml"
        path.write_text(text)
        plan = cli.build_plan(stack, path)
        cache.write_bytes(pickle.dumps(plan))
        return plan


@pytest.fixture(scope="session")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return shared_plan(tmp_path_factory, "dev", (ROOT / "Pulumi.dev.yaml").read_text())


@pytest.fixture(scope="session")
def dev_gke_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """dev's GKE side alone (the baseline of policy tests calibrated on GKE's figures)."""
    return shared_plan(tmp_path_factory, "dev", yaml.safe_dump(gke_only(stack_doc("dev"))))


@pytest.fixture(scope="session")
def prod_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return shared_plan(tmp_path_factory, "prod", (ROOT / "Pulumi.prod.yaml").read_text())


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
