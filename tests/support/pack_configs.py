"""Policy configs that leave on only the policies a test is about, for a cheaper run of the real pack.

pulumi_policy hands every resource to every enabled policy (one deserialization per policy and resource: about 6 s of
CPU for prod's 45 policies), and the analyzer skips a policy whose enforcement level is `disabled` entirely
(pulumi_policy/policy.py `Analyze`). A test whose claim is some policies' verdicts, not the shipped pack config as a
whole, runs the real pack with the stack's shipped config in which every other policy is `disabled`; the kept ones
keep their shipped settings and levels.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from policies.pack import POLICIES
from tests.support.engine import PACK, pack_config
from tests.support.plans import shared_file

WAIVERS = "policy-waivers"
"""It reports what the kept policies waived (and unused waivers), and runs last."""


def disable_all_but(config: Mapping[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """A copy of `config` (a pack config document) with every policy of the pack but `keep` set `disabled`; the kept
    ones keep what `config` gives them, the disabled ones their settings."""
    kept = set(keep)
    names = {p.name for p in POLICIES}
    assert kept <= names, f"no such policy in the pack: {sorted(kept - names)}"
    out = dict(config)
    for name in sorted(names - kept):
        given = out.get(name)
        out[name] = {**given, "enforcementLevel": "disabled"} if isinstance(given, dict) else "disabled"
    return out


def disable_others(config: dict[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """`disable_all_but(config, keep)` with the waiver report kept on too, written into `config` and returned."""
    config.update(disable_all_but(config, {*keep, WAIVERS}))
    return config


def only_policies(stack: str, keep: Iterable[str]) -> dict[str, Any]:
    """`policies/config/<stack>.json` with every policy of the pack but `keep` (and `policy-waivers`) disabled."""
    return disable_others(pack_config(stack), keep)


def only_policies_file(factory: pytest.TempPathFactory, stack: str, keep: Iterable[str]) -> Path:
    """`only_policies` as a file `<stack>.json` in the run's shared folder (one path per distinct config, so a plan
    checked with it is shared like any other: tests/support/plans.py `checked_plan`)."""
    return shared_file(factory, f"{stack}.json", json.dumps(only_policies(stack, keep), indent=2))


def only_policies_copy(shipped: Path, keep: Iterable[str], folder: Path,
                       changes: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """A copy of the pack config file `shipped` (plus `changes` per policy) in `folder`, with every policy outside
    `keep` disabled (the waiver report too, unless kept)."""
    config = json.loads(shipped.read_text())
    for name, settings in (changes or {}).items():
        config[name] = {**config.get(name, {}), **settings}
    kept = sorted(set(keep))
    path = folder / f"only-{'-'.join(kept)}-{shipped.name}"
    path.write_text(json.dumps(disable_all_but(config, kept), indent=2))
    return path


def only_policies_for(stack: str, keep: Iterable[str], folder: Path,
                      changes: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """`only_policies_copy` of the stack's shipped pack config."""
    return only_policies_copy(PACK / "config" / f"{stack}.json", keep, folder, changes)
