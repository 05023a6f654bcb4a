"""Stack documents and their offline plans, built once per test run and shared by every xdist worker.

A plan of prod costs seconds of CPU and the pack's verdict on it about as much again, so each distinct input (stack
name and document text, and for a verdict the policy config's text) is planned once: the first worker to ask builds
it and pickles it into the run's shared temporary folder, the others wait on the same lock and load it.
"""

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

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
PACK = ROOT / "policies"


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


def _run_folder(factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every worker of this run shares (the parent of each xdist worker's own)."""
    base = factory.getbasetemp()
    return base.parent if base.name.startswith("popen-gw") else base


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _once(factory: pytest.TempPathFactory, name: str, build: Callable[[], Plan]) -> Plan:
    """`build()`'s plan, built by the first worker that asks and loaded by the rest; each caller gets its own copy."""
    shared = _run_folder(factory)
    cache, lock = shared / f"{name}.pickle", shared / f"{name}.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if cache.is_file():
            plan: Plan = pickle.loads(cache.read_bytes())
            return plan
        plan = build()
        cache.write_bytes(pickle.dumps(plan))
        return plan


def shared_file(factory: pytest.TempPathFactory, name: str, text: str) -> Path:
    """A file holding `text` in the run's shared folder, at a path that only depends on its name and text."""
    folder = _run_folder(factory) / f"file-{_key(name, text)}"
    path = folder / name
    if not path.is_file():
        folder.mkdir(exist_ok=True)
        partial = folder / f".{name}.{_key(str(factory.getbasetemp()))}"
        partial.write_text(text)
        partial.replace(path)  # atomic: a worker never reads a half-written file
    return path


def shared_plan(factory: pytest.TempPathFactory, stack: str, text: str) -> Plan:
    """The offline plan of a stack document (`cli.build_plan` on a `Pulumi.<stack>.yaml` holding `text`)."""

    def build() -> Plan:
        path = factory.mktemp(f"plan-{stack}") / f"Pulumi.{stack}.yaml"
        path.write_text(text)
        return cli.build_plan(stack, path)

    return _once(factory, f"plan-{stack}-{_key(stack, text)}", build)


def checked_plan(factory: pytest.TempPathFactory, stack: str, text: str, config: Path) -> Plan:
    """The plan of `text` with the real pack's verdict under the policy config file `config` (`cli.check_policies`).

    Keyed by the config's path and text: the verdict records the path, so the same path and text share one run.
    """

    def build() -> Plan:
        plan = shared_plan(factory, stack, text)
        cli.check_policies(plan, PACK, config)
        return plan

    return _once(factory, f"checked-{stack}-{_key(stack, text, str(config), config.read_text())}", build)
