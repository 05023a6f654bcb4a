"""Policy configs that leave on only the policies a test is about, for a cheaper run of the real pack.

pulumi_policy hands every resource to every enabled policy (one deserialization per policy and resource: about 6 s of
CPU for prod's 45 policies), and the analyzer skips a policy whose enforcement level is `disabled` entirely. A test
whose claim is some policies' verdicts, not the shipped pack config as a whole, runs the real pack with the stack's
shipped config in which every other policy is `disabled`; the kept ones keep their shipped settings and levels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from policies.pack import POLICIES
from tests.support.plans import PACK, shared_file


def disable_others(config: dict[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """`config` (a policy config document) with every policy of the pack but `keep` (and `policy-waivers`) set
    `disabled`, in place; the kept ones keep what `config` gives them."""
    kept = {*keep, "policy-waivers"}  # it reports what the kept policies waived, and runs last
    names = {p.name for p in POLICIES}
    unknown = kept - names
    assert not unknown, f"no such policy in the pack: {sorted(unknown)}"
    for name in sorted(names - kept):
        given = config.get(name)
        config[name] = {**given, "enforcementLevel": "disabled"} if isinstance(given, dict) else "disabled"
    return config


def only_policies(stack: str, keep: Iterable[str]) -> dict[str, Any]:
    """`policies/config/<stack>.json` with every policy of the pack but `keep` (and `policy-waivers`) disabled."""
    return disable_others(json.loads((PACK / "config" / f"{stack}.json").read_text()), keep)


def only_policies_file(factory: pytest.TempPathFactory, stack: str, keep: Iterable[str]) -> Path:
    """`only_policies` as a file `<stack>.json` in the run's shared folder (one path per distinct config, so a plan
    checked with it is shared like any other: tests/support/plans.py `checked_plan`)."""
    return shared_file(factory, f"{stack}.json", json.dumps(only_policies(stack, keep), indent=2))
