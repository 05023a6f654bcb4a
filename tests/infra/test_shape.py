"""The shape of the code (issue 25): components take what they use by name, `infra/` only composes, and
constructors read as a table of contents.

These read the source (its AST and its Args types), not the plan: that the plan stays the same is
`tests/infra/test_golden_plans.py`'s to prove.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path

import pytest

import components
from gpufleet.report import Plan

ROOT = Path(__file__).resolve().parents[2]


def _component_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(components.__path__, "components."))


def _args_types() -> dict[str, type]:
    """Every dataclass in components/ whose name ends in `Args` (a component's arguments), by qualified name."""
    found: dict[str, type] = {}
    for module_name in _component_modules():
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            if (isinstance(value, type) and attr.endswith("Args") and dataclasses.is_dataclass(value)
                    and value.__module__ == module_name):
                found[f"{module_name}.{attr}"] = value
    return found


def test_there_are_args_types_to_check() -> None:
    assert len(_args_types()) >= 20


def test_no_args_type_takes_a_bag_of_dependencies() -> None:
    """An ordering dependency is named by its role (`iam_ready`, `controller`, `system_nodes`), never `depends_on`.

    STYLE.md: pulumi-eks hands the thing itself; an Args field is `iam_ready: pulumi.Resource`, never a list.
    """
    bags = sorted(name for name, args in _args_types().items()
                  if any(f.name == "depends_on" for f in dataclasses.fields(args)))
    assert bags == []


RESHAPED = ("components/kubernetes/gpu_addons.py", "components/kubernetes/nvidia.py", "components/gcp/gpu_fabric.py",
            "components/gcp/node_pool.py", "components/gcp/cluster.py", "components/aws/efa.py",
            "components/aws/gpu_pool.py", "components/aws/karpenter.py", "components/aws/cluster.py",
            "components/kubernetes/monitoring/gmp.py", "components/kubernetes/monitoring/prometheus_stack.py",
            "components/kubernetes/monitoring/dashboard_configmap.py", "components/openshift/monitoring.py")
"""The modules issue 25 reshaped: their Args document every field, and their functions stay short."""


@pytest.mark.parametrize("path", RESHAPED)
def test_every_args_field_has_a_docstring(path: str) -> None:
    """STYLE.md: Args are typed, with a docstring per field."""
    tree = ast.parse((ROOT / path).read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args"):
            body = node.body
            for i, stmt in enumerate(body):
                if isinstance(stmt, ast.AnnAssign):
                    following = body[i + 1] if i + 1 < len(body) else None
                    documented = (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                                  and isinstance(following.value.value, str))
                    assert documented, f"{node.name}.{ast.unparse(stmt.target)} has no docstring"


def test_in_cluster_addons_take_only_what_they_use() -> None:
    """No platform builds a GKE-shaped `Addons(gpu_stack=GKE, dcgm=MANAGED)` to get a GpuAddons that installs nothing
    GPU-like: the GPU stack is an optional part of the interface."""
    from components.kubernetes.gpu_addons import GkeGpuStack, GpuAddonsArgs

    fields = {f.name: f for f in dataclasses.fields(GpuAddonsArgs)}
    assert set(fields) == {"provider", "priority_classes", "namespaces", "storage_class", "gpu_stack"}
    assert fields["gpu_stack"].default is None and fields["storage_class"].default is None
    assert {f.name for f in dataclasses.fields(GkeGpuStack)} == {"stack", "dcgm", "system_pool", "gpu_pools", "gpus"}
    for path in ("infra/eks.py", "components/openshift/platform.py"):
        names = {n.id for n in ast.walk(ast.parse((ROOT / path).read_text())) if isinstance(n, ast.Name)}
        assert not names & {"Addons", "GpuStack", "DcgmSource", "GkeGpuStack"}, path


PLATFORM_OF_ADDONS = {"gke": "gpufleet:cluster:GkeCluster$gpufleet:addons:GpuAddons",
                      "eks": "gpufleet:aws:EksCluster$gpufleet:addons:GpuAddons",
                      "openshift": "gpufleet:openshift:GpuPlatform$gpufleet:addons:GpuAddons"}
"""The qualified type of each platform's GpuAddons (its parent's type, then its own), as its children's parent URN
names it."""


@pytest.mark.parametrize("platform", sorted(PLATFORM_OF_ADDONS))
def test_the_gpu_addons_of_each_platform_install_only_their_part(platform: str, prod_plan: Plan) -> None:
    """Through the plan: GKE's add-ons carry the GPU stack; EKS' and OpenShift's only classes, namespaces, quotas."""
    mine = {r.type for r in prod_plan.resources if r.parent and f"::{PLATFORM_OF_ADDONS[platform]}::" in r.parent}
    shared = {"kubernetes:scheduling.k8s.io/v1:PriorityClass", "kubernetes:core/v1:Namespace",
              "kubernetes:core/v1:ResourceQuota"}
    assert shared <= mine, platform
    if platform == "gke":
        assert "kubernetes:helm.sh/v3:Release" in mine
    else:
        assert mine == shared


def _imported_names(path: str) -> dict[str, set[str]]:
    """Module -> the names a file imports from it."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.setdefault(node.module, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                found.setdefault(a.name, set())
    return found


DERIVED = {
    "components.kubernetes.monitoring.rules": {"gpu_rule_groups", "RuleTargets", "MetricSource"},
    "components.kubernetes.monitoring.karpenter_rules": {"karpenter_rule_groups", "ReservedPool"},
    "components.kubernetes.monitoring.targets": {"PoolPricing", "gpu_prices", "nic_bandwidths"},
    "components.config.fabric": {"pool_nics", "pool_fabric"},
    "components.config.eks": {"efa_interfaces", "creates_placement_group", "CapacityType"},
    "components.config.gke": {"CapacityModel"},
    "components.config.addons": {"GpuStack", "DcgmSource", "OPERATOR_NAMESPACE", "DCGM_NAMESPACE"},
    "components.gcp.network": {"ClusterRanges", "RegionSubnet"},
}
"""What a composer would need to derive values itself: rule inputs, NIC and EFA maps, subnet ranges, namespaces."""


@pytest.mark.parametrize("path", ["infra/gke.py", "infra/eks.py"])
def test_infra_only_composes(path: str) -> None:
    """STYLE.md: `infra/` loads, composes and exports; the values a component needs are derived in its wing."""
    imported = _imported_names(path)
    derived = {f"{m}.{n}" for m, names in DERIVED.items() for n in imported.get(m, set()) & names}
    assert derived == set()
    functions = [n.name for n in ast.parse((ROOT / path).read_text()).body if isinstance(n, ast.FunctionDef)]
    assert set(functions) <= {"compose", "_cluster", "_pools"}, functions


@pytest.mark.parametrize("path", [*RESHAPED, "components/aws/karpenter_aws.py", "components/gcp/network.py",
                                  "components/gcp/rules.py", "components/aws/rules.py", "infra/gke.py",
                                  "infra/eks.py"])
def test_no_function_over_a_screen(path: str) -> None:
    """STYLE.md: a constructor reads as a table of contents; no function grows past ~50 lines."""
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(ast.parse((ROOT / path).read_text()))
            if isinstance(n, ast.FunctionDef) and n.end_lineno is not None and n.end_lineno - n.lineno + 1 > 50}
    assert long == {}


def test_karpenters_aws_side_installs_no_chart_and_its_install_makes_no_aws_resource() -> None:
    """terraform-aws-eks: `modules/karpenter` makes IAM, the queue and the rules; the Helm release takes its outputs."""
    assert "pulumi_kubernetes" not in _imported_names("components/aws/karpenter_aws.py")
    assert "pulumi_aws" not in _imported_names("components/aws/karpenter.py")


def test_karpenters_policy_keys_are_one_list(prod_plan: Plan) -> None:
    """Each entry of CONTROLLER_POLICIES is one IAM policy and one attachment of every cluster's Karpenter, and the
    documents have the same keys: no second list of the keys to drift from the first."""
    from components.aws.karpenter_aws import CONTROLLER_POLICIES, PolicyScope, controller_policies

    scope = PolicyScope(cluster="c", cluster_arn="arn:aws:eks:us-east-1:0:cluster/c", region="us-east-1",
                        partition="aws", account="0", node_role_arn="arn:aws:iam::0:role/n",
                        queue_arn="arn:aws:sqs:us-east-1:0:q")
    assert list(controller_policies(scope)) == list(CONTROLLER_POLICIES)
    karpenters = {r.name for r in prod_plan.resources if r.type == "gpufleet:aws:Karpenter"}
    assert karpenters
    for karpenter in karpenters:
        for kind in ("aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
            named = {r.name.removeprefix(f"{karpenter}-") for r in prod_plan.resources
                     if r.type == kind and r.parent and r.parent.endswith(f"::{karpenter}")}
            policies = named - {p.lower() for p in _node_policies()} - {f"node-{p.lower()}" for p in _node_policies()}
            assert policies == set(CONTROLLER_POLICIES), kind


def _node_policies() -> tuple[str, ...]:
    from components.aws.karpenter_aws import NODE_POLICIES

    return NODE_POLICIES
