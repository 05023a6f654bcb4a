"""Identity guardrails on both clouds (issue 24 §3): no long-lived keys and no primitive GCP roles.

Wildcard grants and node-identity scope live in `policies/iam_aws.py` and `policies/iam_gcp.py`; `POLICIES` lists all.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policies.iam_aws import aws_iam_no_wildcards, eks_node_role_policies
from policies.iam_gcp import gcp_iam_no_wildcards, gke_node_service_account_roles
from policies.view import plain

EXEMPT = PolicyConfigSchema(properties={"exempt": {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "Logical resource names this policy skips; say why in the pack config's VCS"}})

KEY_TYPES = {"gcp:serviceaccount/key:Key": "a GCP service-account key",
             "aws:iam/accessKey:AccessKey": "an IAM access key"}
"""Long-lived credentials: GKE nodes use their service account through the metadata server, pods Workload
Identity, EKS nodes their instance role and pods Pod Identity; none needs a key (CIS GKE 1.6.0 5.2.2,
"Prefer using dedicated GCP Service Accounts and Workload Identity")."""
PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
GCP_IAM_TYPES = {"gcp:projects/iAMMember:IAMMember", "gcp:projects/iAMBinding:IAMBinding",
                 "gcp:serviceaccount/iAMMember:IAMMember", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
                 "gcp:organizations/iAMMember:IAMMember", "gcp:folder/iAMMember:IAMMember"}


def _no_keys(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = KEY_TYPES.get(args.resource_type)
    if what and args.name not in (args.get_config().get("exempt") or []):
        report(f"{args.name} would create {what}: a long-lived credential that ends up in state and in someone's "
               "hands. gpu-fleet's identities need none (metadata server, Workload Identity, instance roles, Pod "
               "Identity); remove it.", None)


def _no_primitive_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in GCP_IAM_TYPES or args.name in (args.get_config().get("exempt") or []):
        return
    role = plain(args.props).get("role")
    if role in PRIMITIVE_ROLES:
        report(f"{args.name} grants the primitive role {role}, which covers nearly every service in the project. "
               "Grant the predefined role the member needs (e.g. roles/container.defaultNodeServiceAccount for "
               "GKE nodes).", None)


no_service_account_keys = ResourceValidationPolicy(
    name="iam-no-service-account-keys",
    description="No GCP service-account keys or AWS IAM access keys. (No CIS item; CIS GKE 5.2.2 prefers Workload "
                "Identity.)",
    validate=_no_keys,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=EXEMPT,
)
gcp_no_primitive_roles = ResourceValidationPolicy(
    name="gcp-no-primitive-roles",
    description="No GCP IAM grant of roles/owner, roles/editor or roles/viewer. (No CIS GKE item.)",
    validate=_no_primitive_roles,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=EXEMPT,
)
POLICIES = [no_service_account_keys, gcp_no_primitive_roles, aws_iam_no_wildcards, gcp_iam_no_wildcards,
            eks_node_role_policies, gke_node_service_account_roles]
