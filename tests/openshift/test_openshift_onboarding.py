"""Onboarding a discovered OpenShift cluster: its block merged into a stack and planned offline, and the rules the
block must satisfy (against the same local API server as tests/openshift/test_openshift_discover.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, load_fleet
from gpufleet import cli, offline
from infra import config as infra_config
from tests.support.fake_apiserver import FakeApiServer
from tests.support.openshift_cluster import (
    installer_cluster,
)
from tests.support.openshift_discover import KMS, discover
from tests.support.plans import ROOT
from tests.support.small_stacks import openshift_only

# --- onboarding: merge the block into a stack and plan it offline ---------------------------------------------


def _append_entry(stack_text: str, entry: str) -> str:
    """README's recipe: paste the entry (from `- name:`) after the last line of the clusters list."""
    lines = stack_text.splitlines()
    start = lines.index("  gpu-fleet:openshift:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  ") and not lines[i].startswith(
        "   "))
    return "\n".join([*lines[:end], *entry.splitlines(), *lines[end:]]) + "\n"


def _recipe_entry(stdout: str) -> str:
    lines = stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith("- name:"))
    entry = "\n".join(lines[first:])
    pools = ("        gpu_pools:\n          - {name: l4x1, instance_type: g6.4xlarge, zones: [us-east-2a],"
             " autoscaling: {max_nodes: 1}}")
    assert "\n        gpu_pools: []" in entry  # at the entry's key indentation, as in the stack files
    return entry.replace("        gpu_pools: []", pools)


def test_onboarding_recipe_plans_before_the_kubeconfig_is_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    with FakeApiServer(installer_cluster(infra_id="ocp-gpu-b8m4q", zones=("us-east-2a", "us-east-2b"))) as server:
        code, out, err = discover(tmp_path, server, capsys=capsys)
    assert code == 0, err
    stack = tmp_path / "Pulumi.prod.yaml"
    # prod's OpenShift side is the stack the recipe extends (its GKE and EKS fleets add nothing to the claim).
    stack.write_text(_append_entry(openshift_only((ROOT / "Pulumi.prod.yaml").read_text()), _recipe_entry(out)))
    code = cli.main(["plan", "prod", "--config", str(stack), "--json", str(tmp_path / "plan.json")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning: gpu-fleet:openshift-ocp-gpu-kubeconfig is not set: the offline plan plans it as a masked " \
           "secret" in captured.err
    plan = yaml.safe_load((tmp_path / "plan.json").read_text())
    providers = {r["name"]: r["inputs"] for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes"}
    assert providers["openshift-ocp-gpu-k8s"]["kubeconfig"] == "[secret]"
    assert providers["openshift-ocp-ai-k8s"]["kubeconfig"] == "[secret]"  # the cluster already there
    (new_set,) = [r["inputs"] for r in plan["resources"] if r["name"] == "openshift-ocp-gpu-l4x1-us-east-2a"]
    assert new_set["metadata"]["name"] == "ocp-gpu-b8m4q-gpu-l4x1-us-east-2a"
    # `pulumi preview`/`up` read the same stack through infra.config.parse: there the unset key is refused.
    sf = offline.read_stack_file(stack, "prod")
    with pytest.raises(ConfigError, match="gpu-fleet:openshift-ocp-gpu-kubeconfig: is not set"):
        infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"), keys=sf.config,
                           secret_keys=sf.secret_keys)


def test_path_and_context_kubeconfig_plans_beside_a_leftover_secret(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    text = openshift_only((ROOT / "Pulumi.prod.yaml").read_text())
    old = "        kubeconfig: {secret: openshift-ocp-ai-kubeconfig}"
    assert old in text
    stack = tmp_path / "Pulumi.prod.yaml"
    # The README's file form; the encrypted kubeconfig stays in the stack file (nothing refers to it any more).
    stack.write_text(text.replace(old, "        kubeconfig: {path: /etc/ci/ocp-ai.kubeconfig, context: admin}"))
    code = cli.main(["plan", "prod", "--config", str(stack), "--json", str(tmp_path / "plan.json"), "--no-policy"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    plan = yaml.safe_load((tmp_path / "plan.json").read_text())
    (provider,) = [r["inputs"] for r in plan["resources"] if r["name"] == "openshift-ocp-ai-k8s"]
    assert provider["kubeconfig"] == "/etc/ci/ocp-ai.kubeconfig" and provider["context"] == "admin"
    # A gpu-fleet setting stored as a secret is still refused (its value would reach the state in clear).
    with pytest.raises(ConfigError, match="gpu-fleet:labels: is stored as a secret"):
        infra_config.parse({"environment": "x"}, gcp_project=None, keys=["gpu-fleet:labels"],
                           secret_keys=["gpu-fleet:labels"])


# --- the rules discover's block must satisfy -------------------------------------------------------------------

def _cluster(**changes: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": "ocp-ai", "kubeconfig": {"secret": "openshift-ocp-ai-kubeconfig"}, "version": "4.20",
        "infrastructure_id": "ocp-ai-7xk2p", "region": "us-east-2", "ami": "ami-0c4f1e2d3b5a69788",
        "iam_instance_profile": "ocp-ai-7xk2p-worker-profile",
        "security_groups": [{"filter": "ocp-ai-7xk2p-node"}, {"filter": "ocp-ai-7xk2p-lb"}],
        "subnets": {"us-east-2a": {"filter": "ocp-ai-7xk2p-subnet-private-us-east-2a"},
                    "us-east-2b": {"filter": "ocp-ai-7xk2p-private-us-east-2b"}},
        "gpu_pools": [{"name": "l4x4", "instance_type": "g6.12xlarge", "zones": ["us-east-2a", "us-east-2b"],
                       "autoscaling": {"max_nodes": 3}},
                      {"name": "l4x1", "instance_type": "g6.4xlarge", "zones": ["us-east-2a"], "replicas": 2}],
    }
    for key, value in changes.items():
        target, _, leaf = key.rpartition(".")
        node = cluster
        for part in filter(None, target.split(".")):
            node = node.setdefault(part, {})
        node[leaf] = value
    return cluster


def issues(**changes: Any) -> list[str]:
    try:
        load_fleet({"environment": "prod", "openshift": {"clusters": [_cluster(**changes)]}})
    except ConfigError as err:
        return [str(i) for i in err.issues]
    return []


def test_the_reference_cluster_passes() -> None:
    assert issues() == []
    assert issues(**{"autoscaler.max_nodes_total": 8}) == []  # 3 x 2 zones + 2 fixed: exactly what they reach
    assert issues(security_groups=[{"id": "sg-0123456789abcdef0"}, {"filter": "ocp-ai-7xk2p-node"}]) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"infrastructure_id": "ocp-ml-2k9zq"}, "openshift.clusters[ocp-ai].subnets.us-east-2a.filter: does not start "
     "with the cluster's infrastructure_id ocp-ml-2k9zq"),
    ({"security_groups": [{"filter": "ocp-ml-2k9zq-worker-sg"}]}, "openshift.clusters[ocp-ai].security_groups[0]"
     ".filter: does not start with the cluster's infrastructure_id ocp-ai-7xk2p"),
    ({"autoscaler.max_nodes_total": 7}, "openshift.clusters[ocp-ai].autoscaler.max_nodes_total: below the 8 nodes "
     "the GPU pools alone can reach"),
    ({"root_volume_kms_key": "alias/ocp"}, "root_volume_kms_key: not a KMS key ARN"),
    ({"root_volume_kms_key": KMS.replace("us-east-2", "eu-west-1")}, "the key is in eu-west-1, the cluster in "
     "us-east-2"),
    ({"autoscaler.existing_gpu_limits": [{"type": "nvidia-l4", "min": 0, "max": 4}]},
     "existing_gpu_limits[nvidia-l4]: is an accelerator gpu-fleet sets the limit of"),
    ({"autoscaler.existing_gpu_limits": [{"type": "nvidia.com/gpu", "min": 5, "max": 4}]},
     "existing_gpu_limits[nvidia.com/gpu].max: below min"),
    ({"operators.gpu_operator": {"channel": "v26.7", "source": "My Mirror"}},
     "operators.gpu_operator.source: not a Kubernetes object name"),
])
def test_contradictions_are_refused(changes: dict[str, Any], expected: str) -> None:
    found = issues(**changes)
    assert any(expected in line for line in found), found
