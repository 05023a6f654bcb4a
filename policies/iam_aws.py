"""AWS identity guardrails: no wildcard grants in gpu-fleet's IAM documents, node roles holding only what nodes need.

Issue 24 §3. Wildcards are judged per resource (each policy document as the engine sees it); node roles need the
whole stack, since a role, its attachments and what makes it a node role (its EC2 trust, the node group or
EC2NodeClass naming it) are separate resources joined by the role's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.iam_documents import Statement, Unreadable, statements, trust_findings, wildcard_findings
from policies.view import Unknown, plain

EKS_CIS = "CIS Amazon EKS Benchmark"
ROLE = "aws:iam/role:Role"
DOCUMENT_TYPES = {"aws:iam/policy:Policy": "policy", "aws:iam/rolePolicy:RolePolicy": "policy",
                  "aws:iam/userPolicy:UserPolicy": "policy", "aws:iam/groupPolicy:GroupPolicy": "policy"}
"""Resources that carry one identity policy document, and its property."""
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
ADDON = "aws:eks/addon:Addon"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                 "AmazonEC2ContainerRegistryReadOnly")
"""What every EKS node role needs: joining the cluster and pulling images read-only (EKS user guide, "Amazon EKS node
IAM role"; CIS EKS 1.8.0 5.1.3 "Minimize cluster access to read-only for Amazon ECR"). terraform-aws-eks's Karpenter
node role attaches exactly these plus the CNI policy (@bef29c4 modules/karpenter/main.tf:366-370); anything more
is `node_iam_role_additional_policies` (variables.tf:303), an opt-in."""
CNI_POLICY = "AmazonEKS_CNI_Policy"
"""Needed on the node role only while vpc-cni's aws-node runs on it (terraform-aws-eks
`node_iam_role_attach_cni_policy`, variables.tf:297); gpu-fleet gives vpc-cni its own Pod Identity role."""
SSM_POLICY = "AmazonSSMManagedInstanceCore"
"""Session Manager on nodes: Karpenter's reference node role attaches it (cloudformation.yaml:22-26 at v1.14), so do
gpu-fleet's Karpenter nodes; allowed only where the pack config's `ssm` says the stack wants it."""


def _plain_statements(document: Any) -> list[Statement] | str | None:
    try:
        return statements(document)
    except Unreadable as exc:
        return str(exc)


def document_findings(resource_type: str, props: Mapping[str, Any]) -> Iterator[str]:
    """Every wildcard finding in the documents one resource carries: `<document>: <finding>`."""
    documents: list[tuple[str, Any, bool]] = []
    if resource_type in DOCUMENT_TYPES:
        documents.append(("its policy", props.get(DOCUMENT_TYPES[resource_type]), False))
    elif resource_type == ROLE:
        documents.append(("its trust policy", props.get("assumeRolePolicy"), True))
        inline = props.get("inlinePolicies")
        for item in inline if isinstance(inline, list) else []:
            if isinstance(item, Mapping):
                documents.append((f"inline policy {item.get('name')!r}", item.get("policy"), False))
    for what, document, trust in documents:
        found = _plain_statements(document)
        if isinstance(found, str):
            yield f"{what} {found}"
            continue
        # None: unknown in a preview (a document built from ARNs not yet created); judged once it is known.
        for stmt in found or []:
            yield from (f"{what}: {f}" for f in (trust_findings(stmt) if trust else wildcard_findings(stmt)))


def _no_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in DOCUMENT_TYPES and args.resource_type != ROLE:
        return
    for finding in document_findings(args.resource_type, plain(args.props)):
        report(f"{args.name} ({args.resource_type.rsplit(':', 1)[-1]}): {finding}. Accept an exception with a "
               "waiver under aws-iam-no-wildcards, naming the resource.", None)


aws_iam_no_wildcards = ResourceValidationPolicy(
    name="aws-iam-no-wildcards",
    description="gpu-fleet's AWS IAM documents grant no `*` or `service:*` action, and `Resource: \"*\"` only to "
                "read-only or tag-scoped statements; no trust policy admits any principal. (No CIS EKS item.)",
    validate=_no_wildcards,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
)


@dataclass
class NodeRole:
    name: str
    """The role's name: explicit, or (auto-named, its name not known to the plan) its logical name."""
    auto: bool
    """Auto-named: attachments name it `<logical name>-<suffix>`."""
    clusters: set[str] = field(default_factory=set)

    def named(self, ref: Any) -> bool:
        if not isinstance(ref, str):
            return False  # unknown in a preview: the attachment is judged once its role's name is known
        ref = ref.rsplit("/", 1)[-1]
        # Pulumi's auto-name: the logical name, a dash and seven random hex digits.
        auto_named = re.fullmatch(rf"{re.escape(self.name)}-[0-9a-f]{{7}}", ref) is not None
        return ref == self.name or (self.auto and auto_named)


def _role_name(arn: Any) -> str | None:
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) else None


def _trusts_ec2(document: Any) -> bool:
    found = _plain_statements(document)
    if not isinstance(found, list):
        return False
    for stmt in found:
        principal = stmt.body.get("Principal")
        services = principal.get("Service") if isinstance(principal, Mapping) else None
        if stmt.allows and any(str(s).startswith("ec2.amazonaws.com") for s in
                               (services if isinstance(services, list) else [services])):
            return True
    return False


@dataclass(frozen=True)
class Res:
    """One resource of the stack as the node-role rule reads it."""

    type: str
    props: Mapping[str, Any]
    name: str
    """Its logical name."""
    urn: str


def node_roles(resources: list[Res]) -> list[NodeRole]:
    """Roles EC2 instances assume, and roles a node group, EC2_LINUX access entry or EC2NodeClass names."""
    roles: dict[str, NodeRole] = {}
    for r in resources:
        if r.type == ROLE and _trusts_ec2(r.props.get("assumeRolePolicy")):
            explicit = r.props.get("name") if isinstance(r.props.get("name"), str) else None
            roles[explicit or r.name] = NodeRole(explicit or r.name, explicit is None)
    for r in resources:
        p = r.props
        ref = (_role_name(p.get("nodeRoleArn")) if r.type == NODE_GROUP else
               _role_name(p.get("principalArn")) if r.type == ACCESS_ENTRY and p.get("type") == "EC2_LINUX" else
               (p.get("spec") or {}).get("role") if r.type == NODECLASS else None)
        if not isinstance(ref, str):
            continue
        role = next((n for n in roles.values() if n.named(ref)), None) or roles.setdefault(ref, NodeRole(ref, False))
        if isinstance(p.get("clusterName"), str):
            role.clusters.add(p["clusterName"])
    return list(roles.values())


def cni_on_own_role(resources: list[Res]) -> set[str]:
    """Clusters whose vpc-cni add-on runs on its own role (Pod Identity for aws-node, or IRSA)."""
    out = set()
    for r in resources:
        if r.type != ADDON or r.props.get("addonName") != "vpc-cni":
            continue
        pods = r.props.get("podIdentityAssociations")
        if r.props.get("serviceAccountRoleArn") or any(
                isinstance(a, Mapping) and a.get("serviceAccount") == "aws-node"
                for a in (pods if isinstance(pods, list) else [])):
            out.add(str(r.props.get("clusterName")))
    return out


def _managed_name(arn: Any) -> str | None:
    """`AmazonEKSWorkerNodePolicy` for an AWS-managed policy ARN; None for a customer-managed one."""
    if not isinstance(arn, str) or ":iam::aws:policy/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]


def extra_policy(arn: Any, role: NodeRole, own_cni: set[str], ssm: bool) -> str | None:
    """Why a policy ARN on a node role is beyond what nodes need; None if it is allowed (or unknown)."""
    if isinstance(arn, Unknown):
        return None  # an attachment of a policy created in the same preview: judged once its ARN is known
    name = _managed_name(arn)
    if name in NODE_POLICIES or (name == SSM_POLICY and ssm):
        return None
    if name == CNI_POLICY:
        cni_own = role.clusters & own_cni
        if not cni_own:
            return None
        return (f"{CNI_POLICY}, which vpc-cni already has through its own role on {', '.join(sorted(cni_own))}, "
                "so on the node role it only lets any pod that reaches IMDS manage network interfaces")
    if name == SSM_POLICY:
        return (f"{SSM_POLICY} while eks-node-role-policies.ssm is off (set it in the stack's pack config if nodes "
                "should be reachable through Session Manager)")
    return str(arn)


def node_role_findings(resources: list[Res], ssm: bool) -> Iterator[tuple[str, str]]:
    """(URN, finding) for every policy on a node role that its nodes do not need."""
    roles, own_cni = node_roles(resources), cni_on_own_role(resources)

    def role_of(ref: Any) -> NodeRole | None:
        return next((n for n in roles if n.named(ref)), None)

    for r in resources:
        p = r.props
        if r.type == ATTACHMENT and (role := role_of(p.get("role"))):
            if why := extra_policy(p.get("policyArn"), role, own_cni, ssm):
                yield r.urn, f"node role {role.name} carries {why}"
        elif r.type == ROLE_POLICY and (role := role_of(p.get("role"))):
            yield r.urn, f"node role {role.name} carries the inline policy {r.name}"
        elif r.type == ROLE and (role := role_of(p.get("name") if isinstance(p.get("name"), str) else r.name)):
            arns = p.get("managedPolicyArns")
            for arn in arns if isinstance(arns, list) else []:
                if why := extra_policy(arn, role, own_cni, ssm):
                    yield r.urn, f"node role {role.name} carries {why}"
            if p.get("inlinePolicies"):
                yield r.urn, f"node role {role.name} carries inline policies"


def _node_role_scope(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = [Res(r.resource_type, plain(r.props), r.name, r.urn) for r in args.resources]
    for urn, finding in node_role_findings(resources, bool(args.get_config().get("ssm"))):
        report(f"{finding}. Node roles hold only {NODE_POLICIES[0]}, {NODE_POLICIES[1]} (or ReadOnly), {CNI_POLICY} "
               f"while vpc-cni runs on the node role, and {SSM_POLICY} where configured; give pods their own role "
               f"through Pod Identity ({EKS_CIS} 5.2.1, 5.1.3).", urn)


eks_node_role_policies = StackValidationPolicy(
    name="eks-node-role-policies",
    description=f"EKS node roles hold only the worker-node, ECR read-only, CNI (where vpc-cni uses the node role) "
                f"and, where configured, SSM managed policies ({EKS_CIS} 5.2.1, 5.1.3).",
    validate=_node_role_scope,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={"ssm": {
        "type": "boolean", "default": False,
        "description": f"Whether node roles may carry {SSM_POLICY} (Session Manager on nodes)"}}),
    framework=PolicyComplianceFramework(name=EKS_CIS, version="1.8.0", reference="5.2.1, 5.1.3"),
)
