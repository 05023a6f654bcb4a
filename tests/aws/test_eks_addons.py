"""EKS add-ons (issue 17 §3): versions pinned per Kubernetes minor and shown in the plan, stack overrides, the node
monitoring agent's DCGM part on tainted GPU nodes, and Karpenter's node role without the VPC CNI policy.

Config rules are tested without Pulumi; the rest over the offline plan of the shipped prod stack or a variant of it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from rich.console import Console

from components import versions
from components.aws import cluster as eks_cluster
from components.config import load_fleet
from gpufleet import cli, report
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from tests.support.eks_config import eks_of, errors, raw_eks
from tests.support.plans import ROOT
from tests.support.small_stacks import eks_only

CLUSTER = "us-east-1-ml-aws"
SCHEMA = ROOT / "tests" / "support" / "eks_node_monitoring_agent.schema.json"
"""aws/eks-node-monitoring-agent at 51af5494fde6d2ed4629df2ed9f847ae800957fd (2026-08-18, after release v1.7.0),
charts/configuration.schema.json byte for byte (`git show <commit>:charts/configuration.schema.json`): the schema
of the add-on's configuration values."""


def of_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def addon_versions(plan: Plan) -> dict[str, str]:
    return {r.inputs["addonName"]: r.inputs["addonVersion"] for r in of_type(plan, "aws:eks/addon:Addon")}


def pins(minor: str) -> dict[str, str]:
    return {name: pin.version for name, pin in versions.EKS_ADDON_VERSIONS[minor].items()}


def exit_and_stderr(doc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = cli.main(["plan", "prod", "--config", str(path), "--no-policy"])
    return code, capsys.readouterr().err


# --- the pin table ---------------------------------------------------------------------------------------------

def test_the_pinned_addons_are_the_ones_the_cluster_installs() -> None:
    installed = {*eks_cluster.ADDONS_BEFORE_COMPUTE, *eks_cluster.ADDONS_AFTER_COMPUTE, eks_cluster.EBS_CSI_ADDON}
    assert set(versions.EKS_ADDONS) == installed
    assert eks_cluster.NODE_MONITORING_AGENT in installed


def test_every_minor_the_stacks_use_and_the_next_pins_every_addon_with_a_source() -> None:
    for minor in ("1.35", "1.36"):
        assert set(versions.EKS_ADDON_VERSIONS[minor]) == set(versions.EKS_ADDONS), minor
    for minor, table in versions.EKS_ADDON_VERSIONS.items():
        for name, pin in table.items():
            assert re.match(versions.EKS_ADDON_VERSION_PATTERN, pin.version), (minor, name, pin.version)
            assert pin.source, (minor, name)
        # kube-proxy is built per Kubernetes minor: its pin must be that minor's build.
        assert table["kube-proxy"].version.startswith(f"v{minor}."), minor


# --- §3: versions follow kubernetes_version --------------------------------------------------------------------

def test_no_addon_version_is_left_to_deploy_time(prod_plan: Plan) -> None:
    found = addon_versions(prod_plan)
    assert set(found) == set(versions.EKS_ADDONS)
    assert all(re.match(versions.EKS_ADDON_VERSION_PATTERN, v) for v in found.values()), found
    assert found == pins("1.35")


def test_bumping_kubernetes_version_moves_every_addon_to_that_minors_pin(prod_doc: dict[str, Any],
                                                                         plan_doc: Callable[..., Plan]) -> None:
    eks_of(prod_doc)["kubernetes_version"] = "1.36"
    plan = plan_doc(eks_only(prod_doc), "prod")  # prod's EKS side (the same plan as test_eks_access's bump)
    assert addon_versions(plan) == pins("1.36")
    assert addon_versions(plan)["kube-proxy"] != pins("1.35")["kube-proxy"]
    (group,) = of_type(plan, "aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["version"] == "1.36"


def test_the_plan_shows_each_clusters_pinned_versions(prod_plan: Plan) -> None:
    expected = {"kubernetes": "1.35", "system node group": "1.35", **pins("1.35")}
    assert prod_plan.to_json()["eks_versions"] == [{"cluster": CLUSTER, "versions": expected}]
    text = report.markdown(prod_plan)
    for name, version in expected.items():
        assert f"| `{CLUSTER}` | {name} | `{version}` |" in text
    console = Console(file=io.StringIO(), width=200, record=True)
    report.render(prod_plan, console)
    rendered = console.export_text()
    assert "EKS versions per cluster" in rendered
    assert all(v in rendered for v in pins("1.35").values())


def test_an_override_wins_over_the_pin(prod_doc: dict[str, Any], plan_doc: Callable[..., Plan]) -> None:
    eks_of(prod_doc)["addon_versions"] = {"vpc-cni": "v1.21.1-eksbuild.8"}
    found = addon_versions(plan_doc(eks_only(prod_doc), "prod"))
    assert found == {**pins("1.35"), "vpc-cni": "v1.21.1-eksbuild.8"}


def test_every_minor_gpu_fleet_accepts_is_pinned() -> None:
    from components.config.eks_rules import KUBERNETES_VERSIONS

    for minor in KUBERNETES_VERSIONS:
        assert versions.unpinned_eks_addons(minor, {}) == [], minor


def test_a_minor_without_a_pin_is_refused_unless_the_stack_pins_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(versions.EKS_ADDON_VERSIONS["1.36"], "coredns")
    monkeypatch.delitem(versions.EKS_ADDON_VERSIONS["1.36"], "kube-proxy")
    raw = raw_eks()
    raw["eks"]["kubernetes_version"] = "1.36"
    (issue,) = [e for e in errors(raw) if "addon_versions" in e]
    assert issue.startswith("eks.addon_versions: no pinned version of kube-proxy, coredns for Kubernetes 1.36")
    assert "hint: pin each in the stack" in issue and "describe-addon-versions --kubernetes-version 1.36" in issue
    raw["eks"]["addon_versions"] = {"coredns": "v1.14.3-eksbuild.3"}
    (issue,) = [e for e in errors(raw) if "addon_versions" in e]
    assert issue.startswith("eks.addon_versions: no pinned version of kube-proxy for Kubernetes 1.36")
    raw["eks"]["addon_versions"]["kube-proxy"] = "v1.36.0-eksbuild.1"
    fleet = load_fleet(raw)
    assert fleet.eks is not None
    assert versions.eks_addon_versions("1.36", fleet.eks.addon_versions) == {
        **pins("1.36"), "coredns": "v1.14.3-eksbuild.3", "kube-proxy": "v1.36.0-eksbuild.1"}


@pytest.mark.parametrize(("overrides", "path", "message"), [
    ({"vpc_cni": "v1.22.3-eksbuild.1"}, "eks.addon_versions.vpc_cni",
     "not a managed add-on gpu-fleet installs (got 'vpc_cni'); hint: did you mean vpc-cni?"),
    ({"aws-efs-csi-driver": "v2.1.0-eksbuild.1"}, "eks.addon_versions.aws-efs-csi-driver",
     "not a managed add-on gpu-fleet installs"),
    ({"coredns": "1.14.3"}, "eks.addon_versions.coredns", "not an EKS add-on version (got '1.14.3')"),
    ({"coredns": "v1.14.3-eksbuild"}, "eks.addon_versions.coredns", "not an EKS add-on version"),
    ({"kube-proxy": "latest"}, "eks.addon_versions.kube-proxy", "not an EKS add-on version (got 'latest')"),
])
def test_a_bad_override_exits_2_on_one_line(overrides: dict[str, str], path: str, message: str,
                                            prod_doc: dict[str, Any], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    eks_of(prod_doc)["addon_versions"] = overrides
    code, err = exit_and_stderr(prod_doc, tmp_path, capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = [line.strip() for line in err.splitlines() if "addon_versions" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: {message}"), lines[0]
    assert "hint: " in lines[0]


# --- §3: the node monitoring agent's DCGM part on GPU nodes ---------------------------------------------------

def _monitoring_agent(plan: Plan) -> Recorded:
    (agent,) = [r for r in of_type(plan, "aws:eks/addon:Addon")
                if r.inputs["addonName"] == eks_cluster.NODE_MONITORING_AGENT]
    return agent


def _tolerates(tolerations: list[dict[str, str]], taint: dict[str, str]) -> bool:
    """Kubernetes' rule (core/v1 Toleration): same key (or none with Exists), Exists or equal value, same effect
    (or none)."""
    for t in tolerations:
        key_ok = t.get("key") == taint["key"] or (not t.get("key") and t.get("operator") == "Exists")
        value_ok = t.get("operator") == "Exists" or t.get("value", "") == taint.get("value", "")
        effect_ok = not t.get("effect") or t["effect"] == taint["effect"]
        if key_ok and value_ok and effect_ok:
            return True
    return False


def test_the_dcgm_part_of_the_node_monitoring_agent_passes_the_addons_schema(prod_plan: Plan) -> None:
    values = json.loads(_monitoring_agent(prod_plan).inputs["configurationValues"])
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(values)
    assert values["dcgmAgent"]["tolerations"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({"dcgm": values["dcgmAgent"]})


def test_the_dcgm_part_tolerates_every_taint_of_every_gpu_pool(prod_plan: Plan) -> None:
    tolerations = json.loads(_monitoring_agent(prod_plan).inputs["configurationValues"])["dcgmAgent"]["tolerations"]
    pools = [r for r in prod_plan.resources if r.type == "kubernetes:karpenter.sh/v1:NodePool"
             and r.inputs["metadata"]["name"] != "cpu"]
    taints = [t for p in pools for t in p.inputs["spec"]["template"]["spec"].get("taints") or []]
    assert {t["key"] for t in taints} >= {"nvidia.com/gpu", "gpu-fleet/pool"}, taints
    untolerated = [t for t in taints if not _tolerates(tolerations, t)]
    assert not untolerated


def test_only_the_node_monitoring_agent_gets_configuration_values(prod_plan: Plan) -> None:
    configured = [r.inputs["addonName"] for r in of_type(prod_plan, "aws:eks/addon:Addon")
                  if r.inputs.get("configurationValues")]
    assert configured == [eks_cluster.NODE_MONITORING_AGENT]


# --- §3: Karpenter's node role without the VPC CNI policy ------------------------------------------------------

def test_karpenter_nodes_get_no_cni_policy_and_vpc_cni_has_its_own_role(prod_plan: Plan) -> None:
    attachments = of_type(prod_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    node = [r for r in attachments if "-karpenter-node-" in r.name and ":iam::aws:policy/" in r.inputs["policyArn"]]
    assert {r.inputs["policyArn"].rsplit("/", 1)[-1] for r in node} == {
        "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"}
    cni = [r for r in attachments if r.inputs["policyArn"].endswith("/AmazonEKS_CNI_Policy")]
    assert [r.name for r in cni] == [f"{CLUSTER}-vpc-cni-policy"]
    (addon,) = [r for r in of_type(prod_plan, "aws:eks/addon:Addon") if r.inputs["addonName"] == "vpc-cni"]
    (association,) = addon.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "aws-node"
