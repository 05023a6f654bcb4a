"""Each `gpu-fleet` command pays only for what it uses: a fresh CLI process, then what it imported.

Not a timing test: which modules a process loads is the same on a busy machine and an idle one. `--help` and every
command's `--help` are answered from the argument parser alone: no Pulumi SDK, no provider, no config model
(pydantic), no terminal renderer (rich), no report. `fabric-check` and `ci runners` validate a stack's configuration
and run no program, so no SDK loads for them. `plan --no-policy` runs the program but not the pack: the policy SDK
(pulumi_policy, which the pack's own modules import), the gate (jsonschema, the analyzer client) and the waiver
rules stay out; the Kubernetes client is only for `openshift discover`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.plans import gke_only, stack_doc

ROOT = Path(__file__).resolve().parents[2]

# Runs the CLI as the console script does, then writes every module the process holds (also after `--help`'s
# SystemExit).
_RUN = """
import json, sys
from gpufleet.cli import main
try:
    code = main(sys.argv[2:])
finally:
    open(sys.argv[1], "w").write(json.dumps(sorted(sys.modules)))
sys.exit(code)
"""

SDKS = ("pulumi", "pulumi_gcp", "pulumi_aws", "pulumi_kubernetes", "pulumi_policy", "grpc", "jsonschema",
        "kubernetes", "gpufleet.offline", "gpufleet.report", "gpufleet.headroom", "policies")
"""The Pulumi SDK and the providers (through the offline plan), the policy SDK, the gRPC stubs, the cluster client,
the report and the pack: a command that runs no program needs none of them."""
FOR_HELP = (*SDKS, "pydantic", "rich", "components.config", "components.capacity", "infra", "yaml")
"""`--help` reads the parser: not even the config model or the console."""
NOT_FOR_NO_POLICY = ("gpufleet.policy_gate", "jsonschema", "pulumi_policy", "policies.pack", "policies.waivers",
                     "policies.quota", "policies.budget", "policies.view", "kubernetes", "gpufleet.openshift_discover",
                     "gpufleet.live_preview")
"""What the plan never uses without the pack: the gate and its schema checks, the policy SDK and the pack's policies
(the review's headroom reads the pack's arithmetic from `policies.demand`), the cluster clients."""

PROD_POOL = "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"
HELP = [["--help"], ["plan", "--help"], ["prices", "--help"], ["prices", "refresh", "--help"],
        ["fabric-check", "--help"], ["ci", "runners", "--help"], ["openshift", "discover", "--help"],
        ["preview", "--help"]]


def _modules(tmp_path: Path, *argv: str) -> set[str]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", _RUN, str(out), *argv], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(out.read_text()))


def _under(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    """The loaded modules that are one of `names` or inside one of those packages."""
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


def test_under_matches_packages_not_prefixes() -> None:
    loaded = {"pulumi", "pulumi.runtime", "pulumi_gcp.compute", "pulumify", "policies", "policies.demand"}
    assert _under(loaded, ("pulumi",)) == ["pulumi", "pulumi.runtime"]
    assert _under(loaded, ("pulumi_gcp", "policies.quota")) == ["pulumi_gcp.compute"]


@pytest.mark.parametrize("argv", HELP, ids=[" ".join(a) for a in HELP])
def test_help_loads_no_sdk_config_model_or_console(tmp_path: Path, argv: list[str]) -> None:
    loaded = _modules(tmp_path, *argv)
    assert {"gpufleet.cli", "argparse"} <= loaded  # the list is the process's, not empty
    heavy = _under(loaded, FOR_HELP)
    assert heavy == [], f"`gpu-fleet {' '.join(argv)}` imported what it does not use: {heavy[:12]}"


@pytest.mark.parametrize(("argv", "uses"), [
    (["fabric-check", "prod", "--pool", PROD_POOL], "gpufleet.fabric_check"),
    (["ci", "runners", "dev", "prod"], "gpufleet.runners"),
], ids=["fabric-check", "ci-runners"])
def test_commands_that_run_no_program_load_no_sdk(tmp_path: Path, argv: list[str], uses: str) -> None:
    loaded = _modules(tmp_path, *argv)
    assert {uses, "components.config", "pydantic"} <= loaded  # the stack's configuration is validated
    heavy = _under(loaded, SDKS)
    assert heavy == [], f"`gpu-fleet {' '.join(argv)}` imported what it does not use: {heavy[:12]}"


def test_plan_without_the_pack_imports_no_policy_sdk_or_gate(tmp_path: Path) -> None:
    # dev's GKE side alone: `infra/__main__.py` imports every composer, and so every component module, whatever the
    # stack holds; the report's modules load for any plan; what a platform adds is its provider's resource modules
    # (no component imports the pack, the gate or a cluster client, at the top or in a function). dev's EKS side
    # would add the AWS ones and about 3 s of CPU, nothing this claim is about.
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump(gke_only(stack_doc("dev"))))
    loaded = _modules(tmp_path, "plan", "dev", "--config", str(stack), "--no-policy")
    assert {"components.config", "rich.console", "pulumi_gcp"} <= loaded  # the plan ran
    heavy = _under(loaded, NOT_FOR_NO_POLICY)
    assert heavy == [], f"`plan --no-policy` imported what it does not use: {heavy}"
    assert "policies.demand" in loaded  # the review's headroom: the pack's arithmetic, without its SDK
