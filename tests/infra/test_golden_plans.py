"""Both stacks' offline plans against the committed golden plans: a refactor leaves every resource, input and figure
as it was.

The golden files are the plan JSON (`gpu-fleet plan STACK --json`) without what depends on the day it is read (the
price data's age, and the policy verdicts that read it or a waiver's expiry). A change that means to alter the plan
regenerates them with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/infra/test_golden_plans.py` and says why in its
commit; the diff is the review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gpufleet.report import Plan
from tests.support.plans import ROOT

GOLDEN = ROOT / "tests" / "golden" / "plans"
DATED = {"age_days"}  # grows by one every day
UNDATED_SECTIONS_SKIPPED = {"policy"}  # verdicts that read today's date (price age, waiver expiry)


def undated(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: undated(v) for k, v in value.items() if k not in DATED}
    if isinstance(value, list):
        return [undated(v) for v in value]
    return value


def golden_text(plan: Plan) -> str:
    doc = {k: v for k, v in plan.to_json().items() if k not in UNDATED_SECTIONS_SKIPPED}
    return json.dumps(undated(doc), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_plan_is_the_golden_plan(stack: str, request: pytest.FixtureRequest) -> None:
    text = golden_text(request.getfixturevalue(f"{stack}_plan"))
    path = GOLDEN / f"{stack}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.is_file(), f"no golden {path.name}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), (
        f"the {stack} plan differs from {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
        "if the change is meant, regenerate with UPDATE_GOLDEN=1 and say why in the commit")


def test_a_changed_input_is_caught(dev_plan: Plan) -> None:
    """The comparison reads resource inputs, not only URNs."""
    doc = json.loads(golden_text(dev_plan))
    first = doc["resources"][0]
    first["inputs"] = {**first["inputs"], "changed": True}
    assert json.dumps(doc, indent=1, sort_keys=True) + "\n" != golden_text(dev_plan)
