"""Scenario plans for the review's data sections: a stack document and a policy config edited, planned with the pack.

Each scenario of ../shared/research/pr-review.md §2.1 is a (stack edit, policy-config edit) pair; a plan is built by
the CLI's own `build_plan` and `check_policies` (the real program under mocks, the real pack over gRPC), once per
distinct input, and cached in the test run's temporary folder like tests/conftest.py's `shared_plan`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from gpufleet.report import Plan

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


def plan_with_pack(tmp: Path, stack: str, doc: dict[str, Any], policy: dict[str, Any], *,
                   plain: Plan | None = None) -> tuple[Plan, Path]:
    """The plan of `doc` judged by the pack under `policy`; `plain` reuses an already built plan of the same doc."""
    stack_file = tmp / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    policy_file = tmp / f"{stack}.json"
    policy_file.write_text(json.dumps(policy))
    plan = copy.copy(plain) if plain is not None else cli.build_plan(stack, stack_file)
    cli.check_policies(plan, PACK, policy_file)
    return plan, stack_file


def scenario(factory: pytest.TempPathFactory, stack: str, edit: Edit | None = None,
             policy_edit: Edit | None = None, *, plain: Plan | None = None) -> tuple[Plan, Path]:
    """A scenario's plan: the stack's file and policy config with the edits applied."""
    doc, policy = stack_doc(stack), policy_doc(stack)
    if edit is not None:
        edit(doc)
    if policy_edit is not None:
        policy_edit(policy)
    return plan_with_pack(factory.mktemp(f"review-{stack}"), stack, doc, policy, plain=plain)
