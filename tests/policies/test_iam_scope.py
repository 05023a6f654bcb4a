"""Issue 24 §3: the pack refuses wildcard IAM grants and node identities beyond what nodes need, on both clouds.

Every rule runs through the real pack (the policies of `policies.pack.POLICIES`, props wrapped as the engine wraps
them), fails on a plan with one injected bad grant, and passes on the shipped stacks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpufleet import policy_gate
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from policies.pack import POLICIES
from tests.support.engine import (
    PACK,
    UNKNOWN,
    run_resource_policy,
    stack_policy_reports,
    with_inputs,
)
from tests.support.pack_configs import only_policies_for
from tests.support.plans import ROOT
from tests.support.verdicts import engine_config, violated

NEW = {"aws-iam-no-wildcards", "gcp-iam-no-wildcards", "eks-node-role-policies", "gke-node-service-account-roles"}
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
DISCOVERY = "us-west-2-dev-aws-karpenter-resource-discovery"
"""Karpenter's read-only policy in dev: `Resource: "*"` on Describe/Get/List actions, as Karpenter ships it."""
SSM_ATTACHMENT = "us-west-2-dev-aws-karpenter-node-amazonssmmanagedinstancecore"
NODE_GRANT = "us-central1-dev-1-nodes-artifactregistry-reader"


def _resource(plan: Plan, name: str, typ: str | None = None) -> Recorded:
    return next(r for r in plan.resources if r.custom and r.name == name and typ in (None, r.type))


def _document(plan: Plan, name: str) -> dict[str, Any]:
    return json.loads(_resource(plan, name, POLICY).inputs["policy"])


def _with_policy(plan: Plan, name: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    """`plan` with `change` applied to IAM policy `name` (its attachment shares the logical name)."""
    resources = []
    for r in plan.resources:
        if r.type == POLICY and r.name == name:
            inputs = copy.deepcopy(r.inputs)
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def _with_statement(statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        doc = json.loads(inputs["policy"])
        doc["Statement"].append(statement)
        inputs["policy"] = json.dumps(doc)
    return change


def _added(plan: Plan, typ: str, name: str, inputs: dict[str, Any]) -> Plan:
    """`plan` with one more custom resource (a grant no gpu-fleet config makes)."""
    extra = Recorded(urn=f"urn:pulumi:{plan.stack}::gpu-fleet::{typ}::{name}", type=typ, name=name, parent="",
                     custom=True, provider="", inputs=inputs)
    return dataclasses.replace(plan, resources=[*plan.resources, extra])


def _wildcards(typ: str, props: dict[str, Any]) -> list[str]:
    return run_resource_policy("aws-iam-no-wildcards", typ, props, engine_config("aws-iam-no-wildcards", "prod"),
                               urn="urn:x::bad-grant")


# --- AWS: wildcards -------------------------------------------------------------------------------------------


def test_karpenters_read_only_wildcards_pass_and_its_documents_are_read(dev_plan: Plan) -> None:
    doc = _document(dev_plan, DISCOVERY)
    assert any(s["Resource"] == "*" for s in doc["Statement"])  # the rule has something to allow
    assert _wildcards(POLICY, _resource(dev_plan, DISCOVERY, POLICY).inputs) == []


@pytest.mark.parametrize(("statement", "expected"), [
    ({"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}, "Everything allows *"),
    ({"Effect": "Allow", "Action": ["ec2:DescribeImages", "ec2:*"], "Resource": "arn:aws:ec2:us-west-2:1:instance/*"},
     "Statement[5] allows ec2:*"),
    ({"Sid": "Terminate", "Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"},
     "Terminate allows ec2:TerminateInstances on *"),
    ({"Sid": "AllButIam", "Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}, "NotAction"),
    ({"Sid": "Buckets", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*"},
     "s3:PutObject on arn:aws:s3:::*"),
])
def test_wildcard_statements_are_refused(dev_plan: Plan, statement: dict[str, Any], expected: str) -> None:
    props = copy.deepcopy(_resource(dev_plan, DISCOVERY, POLICY).inputs)
    _with_statement(statement)(props)
    (msg,) = _wildcards(POLICY, props)
    assert msg.startswith("bad-grant (Policy): its policy: ") and expected in msg, msg


def test_read_only_and_tag_scoped_statements_on_every_resource_pass() -> None:
    def doc(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}

    owned = {"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/c": "owned"}}
    assert _wildcards(POLICY, doc({"Effect": "Allow", "Action": ["ec2:DescribeSubnets", "pricing:GetProducts",
                                                                 "iam:ListInstanceProfiles"], "Resource": "*"})) == []
    assert _wildcards(POLICY, doc({"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
                                   "Condition": owned})) == []
    # A bare "*" only asks that the tag exist: anyone creating the resource can set it.
    assert _wildcards(POLICY, doc({"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*",
                                   "Condition": {"StringLike": {"aws:ResourceTag/owner": "*"}}}))
    assert _wildcards(POLICY, doc({"Effect": "Deny", "Action": "*", "Resource": "*"})) == []


def test_unknown_documents_pass_until_known() -> None:
    assert _wildcards(POLICY, {"policy": UNKNOWN}) == []
    assert _wildcards("aws:iam/rolePolicy:RolePolicy", {"policy": UNKNOWN, "role": "r"}) == []
    (msg,) = _wildcards(POLICY, {"policy": "Allow everything"})
    assert "is not JSON" in msg
    # A document given as an object (pulumi_aws accepts one), with a part unknown: passes; known: judged.
    statement: dict[str, Any] = {"Effect": "Allow", "Action": UNKNOWN, "Resource": "*"}
    assert _wildcards(POLICY, {"policy": {"Version": "2012-10-17", "Statement": [statement]}}) == []
    statement["Action"] = "iam:*"
    (msg,) = _wildcards(POLICY, {"policy": {"Version": "2012-10-17", "Statement": [statement]}})
    assert "Statement[0] allows iam:*" in msg


def test_trust_and_inline_documents_of_roles_are_read(dev_plan: Plan) -> None:
    role = copy.deepcopy(_resource(dev_plan, "us-west-2-dev-aws-system-role").inputs)
    assert _wildcards(ROLE, role) == []
    trust = json.loads(role["assumeRolePolicy"])
    trust["Statement"].append({"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"},
                               "Action": "sts:AssumeRole"})
    role["assumeRolePolicy"] = json.dumps(trust)
    role["inlinePolicies"] = [{"name": "debug", "policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})}]
    trust_msg, inline_msg = _wildcards(ROLE, role)
    assert "its trust policy: Anyone lets any AWS principal assume the role" in trust_msg
    assert "inline policy 'debug': Statement[0] allows s3:*" in inline_msg


def test_the_flow_log_and_chat_roles_pass(prod_plan: Plan) -> None:
    """Every shipped IAM document: Karpenter's six, the KMS and flow-log role policies, the chat role's inline one."""
    docs = [r for r in prod_plan.resources if r.custom and r.type in (POLICY, ROLE, "aws:iam/rolePolicy:RolePolicy")]
    assert len(docs) >= 15
    for r in docs:
        assert _wildcards(r.type, r.inputs) == [], r.name


# --- AWS: node roles ------------------------------------------------------------------------------------------


def _node_role_reports(plan: Plan, stack: str = "dev", **settings: Any) -> list[tuple[str, str | None]]:
    return stack_policy_reports("eks-node-role-policies", plan,
                                engine_config("eks-node-role-policies", stack, **settings))


def test_node_roles_beyond_their_nodes_are_refused(dev_plan: Plan) -> None:
    admin = with_inputs(dev_plan, SSM_ATTACHMENT,
                        lambda i: i.update(policyArn="arn:aws:iam::aws:policy/AdministratorAccess"))
    ((msg, urn),) = _node_role_reports(admin)
    assert msg.startswith("node role us-west-2-dev-aws-karpenter-node-role carries "
                          "arn:aws:iam::aws:policy/AdministratorAccess.")
    assert "CIS Amazon EKS Benchmark 5.2.1" in msg and urn == _resource(dev_plan, SSM_ATTACHMENT).urn
    # The system node group's role, found through the node group that names it (and its EC2 trust).
    s3 = with_inputs(dev_plan, "us-west-2-dev-aws-system-amazonec2containerregistrypullonly",
                     lambda i: i.update(policyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess"))
    ((msg, _),) = _node_role_reports(s3)
    assert "us-west-2-dev-aws-system-role carries arn:aws:iam::aws:policy/AmazonS3FullAccess" in msg
    # An inline policy on a node role: nodes need none.
    inline = with_inputs(dev_plan, "us-west-2-dev-aws-vpc-flow-logs-write",
                         lambda i: i.update(role="us-west-2-dev-aws-karpenter-node-role"))
    ((msg, _),) = _node_role_reports(inline)
    assert "carries the inline policy us-west-2-dev-aws-vpc-flow-logs-write" in msg


def test_ssm_only_where_configured(dev_plan: Plan) -> None:
    assert _node_role_reports(dev_plan) == []  # dev's pack config sets ssm
    ((msg, _),) = _node_role_reports(dev_plan, "dev", ssm=False)
    assert "AmazonSSMManagedInstanceCore while eks-node-role-policies.ssm is off" in msg


def test_cni_policy_only_while_vpc_cni_uses_the_node_role(dev_plan: Plan) -> None:
    cni = with_inputs(dev_plan, "us-west-2-dev-aws-system-amazonec2containerregistrypullonly",
                      lambda i: i.update(policyArn="arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"))
    ((msg, _),) = _node_role_reports(cni)
    assert "AmazonEKS_CNI_Policy, which vpc-cni already has through its own role on dev-aws" in msg
    # Without its own Pod Identity role, vpc-cni's aws-node runs on the node role, which then needs the policy.
    shared = with_inputs(cni, "us-west-2-dev-aws-vpc-cni", lambda i: i.pop("podIdentityAssociations"))
    assert _node_role_reports(shared) == []


def test_auto_named_roles_join_their_attachments(dev_plan: Plan) -> None:
    """On a real engine the role is auto-named `<logical name>-<suffix>`, and attachments name that."""
    renamed = with_inputs(dev_plan, SSM_ATTACHMENT, lambda i: i.update(
        role="us-west-2-dev-aws-karpenter-node-role-3f9a1c2",
        policyArn="arn:aws:iam::aws:policy/AmazonEC2FullAccess"))
    assert len(_node_role_reports(renamed)) == 1
    unknown = with_inputs(dev_plan, SSM_ATTACHMENT, lambda i: i.update(
        role=UNKNOWN, policyArn="arn:aws:iam::aws:policy/AmazonEC2FullAccess"))
    assert _node_role_reports(unknown) == []  # judged once the role's name is known


# --- GCP ------------------------------------------------------------------------------------------------------


def _gcp_reports(name: str, plan: Plan) -> list[str]:
    return [m for m, _ in stack_policy_reports(name, plan, engine_config(name, "prod"))]


def test_node_service_accounts_hold_only_node_roles(dev_plan: Plan) -> None:
    assert _gcp_reports("gke-node-service-account-roles", dev_plan) == []
    writer = with_inputs(dev_plan, NODE_GRANT, lambda i: i.update(role="roles/logging.logWriter"))
    assert _gcp_reports("gke-node-service-account-roles", writer) == []
    storage = with_inputs(dev_plan, NODE_GRANT, lambda i: i.update(role="roles/storage.objectCreator"))
    (msg,) = _gcp_reports("gke-node-service-account-roles", storage)
    assert msg.startswith("gke.regions[us-central1].clusters[dev-1]: the node service account gf-dev-1-")
    assert f"roles/storage.objectCreator (project level, by {NODE_GRANT})" in msg and "CIS GKE Benchmark 5.2.1" in msg
    assert _gcp_reports("gcp-iam-no-wildcards", storage) == []  # not an admin role


def test_admin_roles_to_node_service_accounts_and_wildcard_custom_roles_are_refused(dev_plan: Plan) -> None:
    admin = with_inputs(dev_plan, NODE_GRANT, lambda i: i.update(role="roles/compute.instanceAdmin.v1"))
    (msg,) = _gcp_reports("gcp-iam-no-wildcards", admin)
    assert "is granted roles/compute.instanceAdmin.v1 on the whole project" in msg
    assert _gcp_reports("gke-node-service-account-roles", admin)
    member = _resource(dev_plan, NODE_GRANT).inputs["member"]
    binding = _added(dev_plan, "gcp:projects/iAMBinding:IAMBinding", "ops-admins",
                     {"project": "acme-ml-dev", "role": "roles/container.admin", "members": [member]})
    assert "roles/container.admin" in _gcp_reports("gcp-iam-no-wildcards", binding)[0]
    custom = _added(dev_plan, "gcp:projects/iAMCustomRole:IAMCustomRole", "gpu-operator",
                    {"roleId": "gpuOperator", "title": "GPU operator", "project": "acme-ml-dev",
                     "permissions": ["container.pods.get", "compute.*"]})
    (msg,) = _gcp_reports("gcp-iam-no-wildcards", custom)
    assert msg.startswith("custom role 'gpuOperator' (gpu-operator) lists the wildcard permission(s) compute.*")


# --- the shipped stacks, and prod's pack config ---------------------------------------------------------------


def test_shipped_stacks_pass_the_identity_policies(dev_plan: Plan, prod_plan: Plan) -> None:
    for plan, stack in ((dev_plan, "dev"), (prod_plan, "prod")):
        assert not NEW & set(violated(plan, stack, only=NEW)), stack


def test_prod_fails_on_an_injected_grant_through_the_pack_process(prod_plan: Plan, tmp_path: Path) -> None:
    """The real pack at prod's shipped levels, with only the identity policies on."""
    name = next(r.name for r in prod_plan.resources if r.type == POLICY and r.name.endswith("-resource-discovery"))
    bad = _with_policy(prod_plan, name, _with_statement({"Sid": "Oops", "Effect": "Allow", "Action": "ec2:*",
                                                        "Resource": "*"}))
    result = policy_gate.run_pack(PACK, only_policies_for("prod", NEW, tmp_path), bad.resources, stack="prod",
                                  project="gpu-fleet")
    (found,) = [v for v in result.violations if v["policy"] == "aws-iam-no-wildcards"]
    assert found["level"] == "mandatory" and result.mandatory_failed
    assert "Oops allows ec2:*" in found["message"] and found["urn"].endswith(f"::{name}")
    prod = json.loads((PACK / "config" / "prod.json").read_text())
    assert all(prod[p]["enforcementLevel"] == "mandatory" for p in NEW)


def test_the_readme_lists_each_identity_policy_with_its_cis_item() -> None:
    rows = {line.split("|")[1].strip(" `"): line for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("| `")}
    for policy in (p for p in POLICIES if p.name in NEW | {"iam-no-service-account-keys", "gcp-no-primitive-roles"}):
        row = rows[policy.name]
        framework = policy.framework  # type: ignore[attr-defined]
        if framework is None:
            assert "no cis" in row.lower() and "no cis" in policy.description.lower(), policy.name
        else:
            short = "CIS EKS" if "EKS" in framework.name else "CIS GKE"
            assert f"({short} {framework.reference})" in row, policy.name
