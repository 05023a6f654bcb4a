"""`gpu-fleet plan --no-policy` pays only for what it uses: a fresh CLI process, then what it imported.

Not a timing test: which modules a process loads is the same on a busy machine and an idle one. The policy gate
(jsonschema, the analyzer client, the waiver rules) costs about a third of a second to import and only a plan that
runs the pack needs it; the Kubernetes client is only for `openshift discover`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI as the console script does, then writes every module the process holds.
_RUN = """
import json, sys
from gpufleet.cli import main
try:
    code = main(sys.argv[2:])
finally:
    open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules)))
sys.exit(code)
"""

NOT_FOR_NO_POLICY = ("gpufleet.policy_gate", "jsonschema", "policies.pack", "policies.waivers", "kubernetes",
                     "gpufleet.openshift_discover", "gpufleet.live_preview")
"""What the plan never uses without the pack: the gate and its schema checks, the pack, the cluster clients."""


def _modules(tmp_path: Path, *argv: str) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", _RUN, str(out), *argv], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def test_plan_without_the_pack_imports_no_policy_gate(tmp_path: Path) -> None:
    loaded = _modules(tmp_path, "plan", "dev", "--no-policy")
    assert "components.config" in loaded and "rich.console" in loaded  # the list is the process's, not empty
    heavy = sorted(m for m in loaded if m in NOT_FOR_NO_POLICY or m.split(".")[0] in ("jsonschema", "kubernetes"))
    assert heavy == [], f"`plan --no-policy` imported what it does not use: {heavy}"
