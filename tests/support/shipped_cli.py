"""The CLI in-process with its plans of the shipped stack files taken from the run's one plan of each (issue 22).

`gpu-fleet plan dev` in a test builds dev's plan again (about 1 s of CPU, prod's 4 s), though `tests/support/plans.py`
already holds the very same plan: `cli.build_plan` of that file's text, built once per run. A test whose claim is
what the command does with a plan (the files it writes, the delta against `--base`, its exit code when the pack
cannot run) swaps the CLI's `build_plan` for the shared one, as `gpufleet/commands/plan.py` `run` allows (it takes
the CLI's own `build_plan`, so a test that replaces it there replaces it for the command). Every other stack file
is planned as before; the pack, the report and the outputs run as they do for a user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet import cli
from gpufleet.report import Plan
from tests.support.plans import ROOT, shared_plan


def share_shipped_plans(monkeypatch: pytest.MonkeyPatch, factory: pytest.TempPathFactory) -> list[str]:
    """Make `cli.build_plan` answer `Pulumi.<stack>.yaml` at the project root from the run's shared plan of it.

    Returns the list the stacks it answered are appended to, so a test can check that the command asked for them.
    """
    build = cli.build_plan
    answered: list[str] = []

    def shared(stack: str, stack_file: Path) -> Plan:
        if stack_file.resolve() != (ROOT / f"Pulumi.{stack}.yaml").resolve():
            return build(stack, stack_file)
        answered.append(stack)
        return shared_plan(factory, stack, stack_file.read_text())  # the dev_plan/prod_plan fixtures' entry

    monkeypatch.setattr(cli, "build_plan", shared)
    return answered
