"""EKS access from CI (issue 17 §1, §3, §4): the deploy path, access entries, the wait for them, versions that
follow the control plane, the hardened control plane and system nodes, CIS EKS 5.4.2, and the workflows' runners.

Config rules are tested without Pulumi; everything else over the offline plan of the shipped stacks (or a variant),
and the policy both as a plain function and through the analyzer.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions as pinned_addons
from components.config import load_fleet
from gpufleet import cli, offline, policy_gate
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from policies import eks_security
from tests.support.eks_config import errors
from tests.support.pack_configs import only_policies_copy
from tests.support.plans import ROOT, stack_doc
from tests.support.small_stacks import eks_only

CLUSTER = "eks.regions[us-east-1].clusters[ml-aws]"
PACK = ROOT / "policies"
WORKFLOWS = ROOT / ".github" / "workflows"
CODEBUILD = "codebuild-gpu-fleet-prod-${{ github.run_id }}-${{ github.run_attempt }}"


def raw_eks(**cluster: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "ml-aws", "vpc_cidr": "10.40.0.0/16", "zones": ["us-east-1a", "us-east-1b"],
        "ami_version": "v20260724",
        "deploy_from": {"runner": [CODEBUILD], "private_cidrs": ["10.40.0.0/19"]}}
    base.update(cluster)
    return {"environment": "test", "eks": {
        "admin_principal_arn": "arn:aws:iam::123456789012:role/admins",
        "regions": [{"name": "us-east-1", "clusters": [{k: v for k, v in base.items() if v is not None}]}]}}


def eks_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["config"]["gpu-fleet:eks"]


def of_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def named(plan: Plan, typ: str, name: str) -> Recorded:
    (found,) = [r for r in of_type(plan, typ) if r.name == name]
    return found


# --- §1 the deploy path: config rules ---------------------------------------------------------------------

def test_a_runner_in_the_vpc_and_a_codebuild_label_load() -> None:
    fleet = load_fleet(raw_eks())
    assert fleet.eks is not None
    assert fleet.eks.regions[0].clusters[0].deploy_from is not None


@pytest.mark.parametrize(("change", "expected"), [
    ({"deploy_from": None},
     f"{CLUSTER}.deploy_from: no deploy path: the endpoint is private only, so CI's `pulumi up` cannot reach"),
    ({"deploy_from": None, "public_access_cidrs": ["198.51.100.0/24"]},
     f"{CLUSTER}.deploy_from: no deploy path: no public_access_cidrs is known to be the runner's"),
    ({"deploy_from": {"runner": ["static-egress"], "public_cidrs": ["198.51.100.7/32"]}},
     f"{CLUSTER}.deploy_from.public_cidrs: the API endpoint is private only, so a runner outside the VPC cannot"),
    ({"deploy_from": {"runner": ["static-egress"], "public_cidrs": ["192.0.2.7/32"]},
      "public_access_cidrs": ["198.51.100.0/24"]},
     f"{CLUSTER}.deploy_from.public_cidrs: not inside the cluster's public_access_cidrs, so the endpoint refuses "
     "the runner (got '192.0.2.7/32')"),
    ({"deploy_from": {"runner": ["x"]}}, f"{CLUSTER}.deploy_from: give exactly one of private_cidrs"),
    ({"deploy_from": {"runner": ["x"], "private_cidrs": ["10.40.0.0/19"], "public_cidrs": ["198.51.100.7/32"]},
      "public_access_cidrs": ["198.51.100.0/24"]}, f"{CLUSTER}.deploy_from: give exactly one of private_cidrs"),
    ({"deploy_from": {"runner": ["x"], "private_cidrs": ["198.51.100.0/24"]}},
     f"{CLUSTER}.deploy_from.private_cidrs: not a private network"),
    ({"deploy_from": {"runner": ["x"], "private_cidrs": ["10.40.0.1/19"]}},
     f"{CLUSTER}.deploy_from.private_cidrs: not a valid CIDR"),
    ({"deploy_from": {"runner": ["codebuild-p-${{ secrets.TOKEN }}"], "private_cidrs": ["10.40.0.0/19"]}},
     f"{CLUSTER}.deploy_from.runner: a runner label may only carry the expressions ${{{{ github.run_id }}}}"),
    ({"deploy_from": {"runner": [], "private_cidrs": ["10.40.0.0/19"]}},
     f"{CLUSTER}.deploy_from.runner: List should have at least 1 item"),
])
def test_a_deploy_path_that_cannot_reach_the_endpoint_is_refused(change: dict[str, Any], expected: str) -> None:
    found = errors(raw_eks(**change))
    assert any(e.startswith(expected) for e in found), found
    assert all("hint:" in e for e in found if e.startswith(CLUSTER))


def test_public_cidrs_inside_public_access_cidrs_load() -> None:
    load_fleet(raw_eks(deploy_from={"runner": ["static-egress"], "public_cidrs": ["198.51.100.7/32"]},
                       public_access_cidrs=["198.51.100.0/24"]))


def test_every_cluster_of_a_stack_names_one_runner() -> None:
    raw = raw_eks()
    second = copy.deepcopy(raw["eks"]["regions"][0]["clusters"][0])
    second.update(name="ml-aws-2", vpc_cidr="10.41.0.0/16",
                  deploy_from={"runner": ["self-hosted", "other"], "private_cidrs": ["10.41.0.0/19"]})
    raw["eks"]["regions"][0]["clusters"].append(second)
    assert any(e.startswith("eks.regions[us-east-1].clusters[ml-aws-2].deploy_from.runner: differs from "
                            f"{CLUSTER}.deploy_from.runner: one job deploys the whole stack") for e in errors(raw))
    second["deploy_from"]["runner"] = [CODEBUILD]
    load_fleet(raw)


def test_a_separate_preview_identity_needs_the_deploy_identity_named() -> None:
    raw = raw_eks()
    raw["eks"]["preview_principal_arn"] = "arn:aws:iam::123456789012:role/preview"
    assert any(e.startswith("eks.deploy_principal_arn: must be set when preview_principal_arn is") for e in errors(raw))
    raw["eks"]["deploy_principal_arn"] = "arn:aws:iam::123456789012:role/deploy"
    load_fleet(raw)


@pytest.mark.parametrize(("days", "ok"), [(90, True), (365, True), (3653, True), (45, False), (0, False)])
def test_log_retention_takes_cloudwatch_periods_only(days: int, ok: bool) -> None:
    raw = raw_eks(log_retention_days=days)
    if ok:
        load_fleet(raw)
    else:
        assert any(e.startswith(f"{CLUSTER}.log_retention_days: not a retention period CloudWatch Logs accepts")
                   for e in errors(raw))


def test_all_five_log_types_are_selectable_and_audit_stays_required() -> None:
    load_fleet(raw_eks(log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"]))
    assert any(e.startswith(f"{CLUSTER}.log_types: the audit log is off") for e in errors(raw_eks(log_types=["api"])))


def test_a_stack_with_no_deploy_path_exits_2_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = stack_doc("dev")
    del eks_of(doc)["regions"][0]["clusters"][0]["deploy_from"]
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert cli.main(["plan", "dev", "--config", str(path), "--no-policy"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "deploy_from" in line]
    assert len(lines) == 1 and "eks.regions[us-west-2].clusters[dev-aws].deploy_from: no deploy path" in lines[0]
    assert "Traceback" not in lines[0]


# --- §1 the workflows follow the stack files ------------------------------------------------------------

def test_ci_runners_prints_each_stacks_labels(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["ci", "runners", "dev", "prod", "--run-id", "77", "--run-attempt", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"dev": ["codebuild-gpu-fleet-dev-77-2"],
                                                   "prod": ["codebuild-gpu-fleet-prod-77-2"]}


def test_ci_runners_of_a_stack_without_eks_is_the_hosted_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    doc = stack_doc("dev")
    del doc["config"]["gpu-fleet:eks"]
    doc["config"]["gpu-fleet:budgets"].pop("aws", None)
    doc["config"]["gpu-fleet:budgets"]["gcp"].pop("share", None)
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.gke.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["ci", "runners", "gke"]) == 0
    assert json.loads(capsys.readouterr().out) == {"gke": ["ubuntu-latest"]}


def test_ci_runners_of_an_invalid_stack_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    doc = stack_doc("prod")
    eks_of(doc)["regions"][0]["clusters"][0]["deploy_from"]["public_cidrs"] = ["198.51.100.7/32"]
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["ci", "runners", "prod"]) == 2
    assert f"{CLUSTER}.deploy_from: give exactly one of" in capsys.readouterr().err


def _jobs(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())["jobs"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("workflow", ["deploy.yml", "pull-request.yml"])
def test_jobs_that_reach_the_clusters_run_on_the_stacks_runner(workflow: str) -> None:
    jobs = _jobs(workflow)
    read = "\n".join(s.get("run", "") for s in jobs["runners"]["steps"])
    assert "gpu-fleet ci runners dev prod" in read and "$GITHUB_OUTPUT" in read
    reaching = {name: job for name, job in jobs.items()
                if any("pulumi preview" in s.get("run", "") or "pulumi up" in s.get("run", "")
                       for s in job.get("steps", []))}
    assert reaching
    for name, job in reaching.items():
        needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
        assert "runners" in needs, name
        stack = job.get("env", {}).get("STACK")
        expected = ("${{ fromJSON(needs.runners.outputs.labels)[matrix.stack] }}" if stack == "${{ matrix.stack }}"
                    else f"${{{{ fromJSON(needs.runners.outputs.labels).{stack} }}}}")
        assert job["runs-on"] == expected, name


# --- §1 access entries, and the wait for them -------------------------------------------------------------

def _policies_by_principal(plan: Plan, prefix: str) -> dict[str, str]:
    return {r.inputs["principalArn"]: r.inputs["policyArn"].rsplit("/", 1)[-1]
            for r in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
            if r.name.startswith(prefix)}


def test_admin_deployer_and_previewer_get_their_access(dev_plan: Plan) -> None:
    assert _policies_by_principal(dev_plan, "us-west-2-dev-aws-") == {
        "arn:aws:iam::123456789012:role/ml-platform-admins": "AmazonEKSClusterAdminPolicy",
        "arn:aws:iam::123456789012:role/gpu-fleet-deploy": "AmazonEKSClusterAdminPolicy",
        "arn:aws:iam::123456789012:role/gpu-fleet-preview": "AmazonEKSViewPolicy",
    }
    entries = [r.inputs["principalArn"] for r in of_type(dev_plan, "aws:eks/accessEntry:AccessEntry")]
    assert len(entries) == len(set(entries))


def test_one_entry_per_principal_when_identities_coincide(dev_doc: dict[str, Any],
                                                          plan_doc: Callable[..., Plan]) -> None:
    eks = eks_of(dev_doc)
    eks["deploy_principal_arn"] = eks["admin_principal_arn"]
    eks["preview_principal_arn"] = eks["admin_principal_arn"]
    plan = plan_doc(eks_only(dev_doc))  # dev's EKS side: access entries are EKS's alone
    entries = [r.inputs["principalArn"] for r in of_type(plan, "aws:eks/accessEntry:AccessEntry")
               if r.inputs["type"] == "STANDARD"]
    assert entries == [eks["admin_principal_arn"]]


def test_the_deployer_defaults_to_the_callers_session_issuer(dev_doc: dict[str, Any],
                                                             plan_doc: Callable[..., Plan]) -> None:
    eks = eks_of(dev_doc)
    del eks["deploy_principal_arn"], eks["preview_principal_arn"]
    plan = plan_doc(eks_only(dev_doc))  # dev's EKS side: access entries are EKS's alone
    caller = offline.CALL_PLACEHOLDERS["aws:index/getCallerIdentity:getCallerIdentity"]["arn"]
    assert _policies_by_principal(plan, "us-west-2-dev-aws-") == {
        eks["admin_principal_arn"]: "AmazonEKSClusterAdminPolicy", caller: "AmazonEKSClusterAdminPolicy"}


@pytest.mark.parametrize(("arn", "issuer"), [
    ("arn:aws:sts::210987654321:assumed-role/gpu-fleet-deploy/GitHubActions",
     "arn:aws:iam::210987654321:role/gpu-fleet-deploy"),
    ("arn:aws-us-gov:sts::210987654321:assumed-role/r/s", "arn:aws-us-gov:iam::210987654321:role/r"),
    ("arn:aws:iam::210987654321:user/alice", "arn:aws:iam::210987654321:user/alice"),
])
def test_offline_session_context_answers_as_aws(arn: str, issuer: str) -> None:
    assert offline.session_context(arn)["issuerArn"] == issuer


def _closure(plan: Plan) -> dict[str, set[str]]:
    """Every resource's transitive prerequisites: its dependencies and its provider (the engine creates a
    resource only once its provider is, and a provider only once its own dependencies are)."""
    direct = {r.urn: set(r.dependencies) | ({r.provider.rsplit("::", 1)[0]} if r.provider else set())
              for r in plan.resources}
    done: dict[str, set[str]] = {}

    def visit(urn: str) -> set[str]:
        if urn not in done:
            done[urn] = set()
            found: set[str] = set()
            for dep in direct.get(urn, set()):
                found |= {dep} | visit(dep)
            done[urn] = found
        return done[urn]

    for urn in direct:
        visit(urn)
    return done


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_kubernetes_object_waits_for_every_access_policy(stack: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    closure = _closure(plan)
    providers = {r.urn: r.name.removesuffix("-k8s") for r in of_type(plan, "pulumi:providers:kubernetes")}
    checked = 0
    for key in set(providers.values()):
        if not of_type(plan, "aws:eks/cluster:Cluster") or not any(
                r.name == key for r in of_type(plan, "aws:eks/cluster:Cluster")):
            continue
        associations = {r.urn for r in of_type(plan, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
                        if r.name.startswith(f"{key}-")}
        sleep = named(plan, "time:index/sleep:Sleep", f"{key}-access-propagation")
        assert len(associations) == 3 and associations <= closure[sleep.urn]
        objects = [r for r in plan.resources if r.type.startswith("kubernetes:")
                   and providers.get(r.provider.rsplit("::", 1)[0]) == key]
        assert objects
        late = [r.name for r in objects if not (associations | {sleep.urn}) <= closure[r.urn]]
        assert not late, f"{key}: race the access entries: {late}"
        checked += len(objects)
    assert checked


# --- §3 versions follow kubernetes_version ---------------------------------------------------------------

def test_node_group_and_every_addon_follow_the_kubernetes_version(prod_doc: dict[str, Any],
                                                                  plan_doc: Callable[..., Plan],
                                                                  prod_plan: Plan) -> None:
    def versions(plan: Plan) -> dict[str, str]:
        found = {r.name: r.inputs["addonVersion"] for r in of_type(plan, "aws:eks/addon:Addon")}
        found.update({r.name: r.inputs["version"] for r in of_type(plan, "aws:eks/nodeGroup:NodeGroup")})
        found.update({r.name: r.inputs["version"] for r in of_type(plan, "aws:eks/cluster:Cluster")})
        return found

    before = versions(prod_plan)
    assert {n.removeprefix("us-east-1-ml-aws-") for n in before} >= {
        "vpc-cni", "eks-pod-identity-agent", "kube-proxy", "coredns", "aws-ebs-csi-driver",
        "eks-node-monitoring-agent", "system"}
    eks_of(prod_doc)["kubernetes_version"] = "1.36"
    after = versions(plan_doc(eks_only(prod_doc), "prod"))  # prod's EKS side: the versions are all EKS's
    assert after.keys() == before.keys()
    # The cluster and node group take the minor; each add-on that minor's pin (tests/aws/test_eks_addons.py).
    for minor, found in (("1.35", before), ("1.36", after)):
        pinned = {f"us-east-1-ml-aws-{a}": p.version for a, p in pinned_addons.EKS_ADDON_VERSIONS[minor].items()}
        assert found == {**pinned, "us-east-1-ml-aws": minor, "us-east-1-ml-aws-system": minor}, found


# --- §4 the control plane and system nodes ---------------------------------------------------------------

def _policy_doc(r: Recorded) -> dict[str, Any]:
    return json.loads(r.inputs["policy"])  # type: ignore[no-any-return]


def test_control_plane_logs_are_encrypted_for_that_log_group_only(prod_plan: Plan) -> None:
    group = named(prod_plan, "aws:cloudwatch/logGroup:LogGroup", "us-east-1-ml-aws-logs")
    key = named(prod_plan, "aws:kms/key:Key", "us-east-1-ml-aws-logs-key")
    assert group.inputs["retentionInDays"] == 365 and group.inputs["kmsKeyId"].endswith("ml-aws-logs-key")
    assert key.inputs["enableKeyRotation"] is True
    (logs,) = [s for s in _policy_doc(key)["Statement"] if "Service" in s["Principal"]]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn":
                                               f"arn:aws:logs:us-east-1:{offline.OFFLINE_ACCOUNT}:log-group:"
                                               f"{group.inputs['name']}"}}
    cluster = named(prod_plan, "aws:eks/cluster:Cluster", "us-east-1-ml-aws")
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {
        "api", "audit", "authenticator", "controllerManager", "scheduler"}


def test_the_secrets_key_is_used_by_the_cluster_role_alone(prod_plan: Plan) -> None:
    key = named(prod_plan, "aws:kms/key:Key", "us-east-1-ml-aws-secrets-key")
    role = named(prod_plan, "aws:iam/role:Role", "us-east-1-ml-aws-cluster-role")
    statements = _policy_doc(key)["Statement"]
    root = f"arn:aws:iam::{offline.OFFLINE_ACCOUNT}:root"
    admin = [s for s in statements if s["Principal"] == {"AWS": root}]
    assert len(admin) == 1 and not any(a in admin[0]["Action"] for a in ("kms:*", "kms:Decrypt", "kms:Encrypt"))
    users = [s for s in statements if s["Principal"] != {"AWS": root}]
    # The offline plan's role ARN (AWS makes it; the mock builds it from the logical name).
    role_arn = f"arn:aws:offline-plan::{offline.OFFLINE_ACCOUNT}:iam/role/{role.name}"
    assert users and all(s["Principal"] == {"AWS": [role_arn]} for s in users)
    assert any("kms:Decrypt" in s["Action"] for s in users)


def test_vpc_cni_runs_on_its_own_pod_identity_role(prod_plan: Plan) -> None:
    cni = named(prod_plan, "aws:eks/addon:Addon", "us-east-1-ml-aws-vpc-cni")
    (association,) = cni.inputs["podIdentityAssociations"]
    assert association["serviceAccount"] == "aws-node"
    role = named(prod_plan, "aws:iam/role:Role", "us-east-1-ml-aws-vpc-cni-role")
    assert association["roleArn"].endswith(role.name)
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"} and "sts:TagSession" in trust["Action"]
    attached = {r.inputs["policyArn"].rsplit("/", 1)[-1]: r.inputs["role"]
                for r in of_type(prod_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.name.startswith("us-east-1-ml-aws-") and "karpenter" not in r.name}
    assert attached["AmazonEKS_CNI_Policy"].endswith("ml-aws-vpc-cni-role")
    system = [r for r in of_type(prod_plan, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
              if r.name.startswith("us-east-1-ml-aws-system-")]
    assert system and not any(r.inputs["policyArn"].endswith("AmazonEKS_CNI_Policy") for r in system)


def test_system_nodes_use_imdsv2_with_one_hop(prod_plan: Plan) -> None:
    template = named(prod_plan, "aws:ec2/launchTemplate:LaunchTemplate", "us-east-1-ml-aws-system")
    assert template.inputs["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                                  "httpPutResponseHopLimit": 1}
    group = named(prod_plan, "aws:eks/nodeGroup:NodeGroup", "us-east-1-ml-aws-system")
    assert group.inputs["launchTemplate"]["id"] == f"{template.name}-id"
    assert group.inputs["nodeGroupNamePrefix"] == "system-" and "nodeGroupName" not in group.inputs


def test_the_in_vpc_runner_reaches_the_private_endpoint(prod_plan: Plan) -> None:
    rules = of_type(prod_plan, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    mine = {r.inputs["cidrIpv4"]: r for r in rules if r.name.startswith("us-east-1-ml-aws-deploy-")}
    assert set(mine) == {"10.40.0.0/19", "10.40.32.0/19", "10.40.64.0/19"}
    for r in mine.values():
        assert (r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"]) == (443, 443, "tcp")
        assert r.inputs["securityGroupId"] == offline.OFFLINE_SECURITY_GROUP


# --- §4 CIS EKS 5.4.2 -------------------------------------------------------------------------------------

def test_private_endpoint_as_a_function(prod_plan: Plan) -> None:
    cluster = named(prod_plan, "aws:eks/cluster:Cluster", "us-east-1-ml-aws").inputs
    assert eks_security.private_endpoint(cluster, {}) is None
    public = copy.deepcopy(cluster)
    public["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["198.51.100.0/24"])
    message = eks_security.private_endpoint(public, {}) or ""
    assert "198.51.100.0/24" in message and "clusters[ml-aws]" in message
    assert eks_security.endpoint_access(public, {}) is None  # 5.4.1 holds: the networks are listed
    unset = copy.deepcopy(cluster)
    del unset["vpcConfig"]["endpointPublicAccess"]
    assert "EKS's default" in (eks_security.private_endpoint(unset, {}) or "")


def _public_prod(doc: dict[str, Any]) -> dict[str, Any]:
    cluster = eks_of(doc)["regions"][0]["clusters"][0]
    cluster.update(public_access_cidrs=["198.51.100.0/24"],
                   deploy_from={"runner": ["static-egress"], "public_cidrs": ["198.51.100.7/32"]})
    return doc


@pytest.mark.parametrize(("stack", "level"), [("prod", "mandatory"), ("dev", "advisory")])
def test_a_public_endpoint_through_the_analyzer(stack: str, level: str, plan_doc: Callable[..., Plan],
                                                tmp_path: Path) -> None:
    doc = eks_only(stack_doc(stack))  # the stack's EKS side: the level is the stack's, the policy reads EKS alone
    if stack == "prod":
        plan = plan_doc(_public_prod(doc), "prod")
    else:
        cluster = eks_of(doc)["regions"][0]["clusters"][0]
        cluster.update(public_access_cidrs=["198.51.100.0/24"],
                       deploy_from={"runner": ["static-egress"], "public_cidrs": ["198.51.100.7/32"]})
        plan = plan_doc(doc, "dev")
    # The shipped config's levels for the two endpoint policies; the pack's other policies are switched off.
    config = only_policies_copy(PACK / "config" / f"{stack}.json", {"eks-private-endpoint", "eks-endpoint-access"},
                           tmp_path)
    result = policy_gate.run_pack(PACK, config, plan.resources, stack=stack, project="gpu-fleet")
    found = [v for v in result.violations if v["policy"] == "eks-private-endpoint"]
    assert len(found) == 1 and found[0]["level"] == level and "CIS Amazon EKS Benchmark 5.4.2" in found[0]["message"]
    assert not [v for v in result.violations if v["policy"] == "eks-endpoint-access"]
    assert result.mandatory_failed is (level == "mandatory")


def test_system_node_templates_need_imdsv2_as_a_function(prod_plan: Plan) -> None:
    template = named(prod_plan, "aws:ec2/launchTemplate:LaunchTemplate", "us-east-1-ml-aws-system").inputs
    assert eks_security.launch_template_imds_v2(template, {}) is None
    for weak in ({"httpTokens": "optional", "httpPutResponseHopLimit": 1},
                 {"httpTokens": "required", "httpPutResponseHopLimit": 2}, None):
        changed = {**template, "metadataOptions": weak}
        assert "lets pods reach instance credentials" in (eks_security.launch_template_imds_v2(changed, {}) or "")


def test_a_weakened_system_node_template_fails_the_pack(prod_plan: Plan, tmp_path: Path) -> None:
    resources = [r if r.type != "aws:ec2/launchTemplate:LaunchTemplate" else
                 dataclasses.replace(r, inputs={**r.inputs, "metadataOptions": {"httpTokens": "optional"}})
                 for r in prod_plan.resources]
    # prod's level for the policy; the pack's other policies are switched off.
    config = only_policies_copy(PACK / "config" / "prod.json", {"eks-system-nodes-imdsv2"}, tmp_path)
    result = policy_gate.run_pack(PACK, config, resources, stack="prod", project="gpu-fleet")
    found = [v for v in result.violations if v["policy"] == "eks-system-nodes-imdsv2"]
    assert len(found) == 1 and found[0]["level"] == "mandatory" and result.mandatory_failed
