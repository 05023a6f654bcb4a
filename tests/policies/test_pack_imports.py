"""The policy pack starts without the stack model: every `pulumi preview` (and every offline plan) starts the pack.

The pack reads registered resources and the catalog; the stack's config model (pydantic, about 0.4 s of CPU to build)
is what `gpu-fleet plan` validates a stack file with, not what a policy reads. Not a timing test: which modules a fresh
process loads is the same on a busy machine and an idle one.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.plans import PACK, ROOT

# As `python -m pulumi.policy ENGINE PACK` loads it (pulumi/policy/__main__.py runs PACK/__main__.py with the pack's
# folder on sys.path), short of serving: the policies module and what it imports.
_LOAD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import pulumi_policy
import policies.pack
print(json.dumps(sorted(sys.modules)))
"""


def _modules_the_pack_loads() -> set[str]:
    run = subprocess.run([sys.executable, "-c", _LOAD, str(ROOT)], cwd=PACK, capture_output=True, text=True,
                         check=True, timeout=120)
    return set(json.loads(run.stdout))


def test_the_pack_loads_no_stack_model() -> None:
    modules = _modules_the_pack_loads()
    assert "policies.quota" in modules and "components.capacity" in modules  # the scan sees the pack's own
    heavy = sorted(m for m in modules if m == "pydantic" or m.startswith(("components.config.model",
                                                                          "components.config.validate",
                                                                          "components.config.errors")))
    assert heavy == [], f"the policy pack imports the stack config model: {heavy}"
