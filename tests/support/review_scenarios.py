"""Scenario plans for the review's data sections: a stack document and a policy config edited, planned with the pack.

Each scenario of ../shared/research/pr-review.md §2.1 is a (stack edit, policy-config edit) pair; a plan is built by
the CLI's own `build_plan` and `check_policies` (the real program under mocks, the real pack over gRPC), once per
distinct input in the whole run (tests/support/plans.py `checked_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet.report import Plan
from tests.support.plans import checked_plan, shared_file

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"

Edit = Callable[[dict[str, Any]], None]


def stack_doc(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def policy_doc(stack: str) -> dict[str, Any]:
    return json.loads((PACK / "config" / f"{stack}.json").read_text())


def named(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The list item named `name` (stack config lists are keyed by name)."""
    return next(i for i in items if i["name"] == name)


def gke_pool(doc: dict[str, Any], region: str, cluster: str, pool: str) -> dict[str, Any]:
    gke = doc["config"]["gpu-fleet:gke"]
    return named(named(named(gke["regions"], region)["clusters"], cluster)["gpu_pools"], pool)


def eks_pool(doc: dict[str, Any], region: str, cluster: str, pool: str) -> dict[str, Any]:
    eks = doc["config"]["gpu-fleet:eks"]
    return named(named(named(eks["regions"], region)["clusters"], cluster)["gpu_pools"], pool)


def scenario(factory: pytest.TempPathFactory, stack: str, edit: Edit | None = None,
             policy_edit: Edit | None = None) -> tuple[Plan, Path]:
    """A scenario's plan with the pack's verdict, and its stack file: the stack's file and policy config, edited.

    An unedited stack or policy config is planned from the committed file itself, so it shares the run's one plan
    (and verdict) of it with every other test (tests/support/plans.py); an edited one is shared by identical edits.
    """
    doc, policy = stack_doc(stack), policy_doc(stack)
    if edit is not None:
        edit(doc)
    text = yaml.safe_dump(doc, sort_keys=False) if edit is not None else (ROOT / f"Pulumi.{stack}.yaml").read_text()
    config = PACK / "config" / f"{stack}.json"
    if policy_edit is not None:
        policy_edit(policy)
        config = shared_file(factory, f"{stack}.json", json.dumps(policy))
    return checked_plan(factory, stack, text, config), shared_file(factory, f"Pulumi.{stack}.yaml", text)
