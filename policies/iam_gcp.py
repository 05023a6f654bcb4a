"""GCP identity guardrails: no wildcard custom roles, and GKE node service accounts holding only what nodes need.

Issue 24 §3. A node service account is whatever a node pool, a cluster's node config or node auto-provisioning
runs as; grants to it are joined by its e-mail (unknown in a first preview, when nothing joins and nothing is
reported: the next preview, or `pulumi up`'s run of the pack, sees the e-mails).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.capacity.gke import GKE_CLUSTER, GKE_NODE_POOL
from policies.view import config_path, plain

GKE_CIS = "CIS GKE Benchmark"
CUSTOM_ROLES = ("gcp:projects/iAMCustomRole:IAMCustomRole", "gcp:organizations/iAMCustomRole:IAMCustomRole")
MEMBER_GRANTS = {"gcp:projects/iAMMember:IAMMember": "project", "gcp:folder/iAMMember:IAMMember": "folder",
                 "gcp:organizations/iAMMember:IAMMember": "organization"}
BINDING_GRANTS = {"gcp:projects/iAMBinding:IAMBinding": "project", "gcp:folder/iAMBinding:IAMBinding": "folder",
                  "gcp:organizations/iAMBinding:IAMBinding": "organization"}
POLICY_GRANTS = {"gcp:projects/iAMPolicy:IAMPolicy": "project", "gcp:folder/iAMPolicy:IAMPolicy": "folder",
                 "gcp:organizations/iAMPolicy:IAMPolicy": "organization"}
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/logging.logWriter", "roles/monitoring.metricWriter",
              "roles/monitoring.viewer", "roles/artifactregistry.reader")
"""What GKE nodes need: GKE's node role, or the writer trio CIS GKE 1.6.0 5.2.1's remediation grants a minimally
privileged node service account (roles/monitoring.metricWriter, roles/monitoring.viewer, roles/logging.logWriter:
aquasecurity/kube-bench @a73ce37 cfg/gke-1.6.0/managedservices.yaml), plus pulling images read-only (5.1.3 "Minimize
cluster access to read-only for Container Image repositories": roles/artifactregistry.reader)."""
_ADMIN = re.compile(r"admin(\.v\d+)?$", re.IGNORECASE)
"""`roles/container.admin`, `roles/iam.serviceAccountAdmin`, `roles/compute.instanceAdmin.v1`."""


@dataclass(frozen=True)
class Grant:
    urn: str
    level: str
    """project, folder or organization."""
    role: str
    member: str


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def node_service_accounts(resources: list[tuple[str, Mapping[str, Any], str]]) -> dict[str, str]:
    """Node service-account e-mail -> the config key of the (first) cluster whose nodes run as it."""
    out: dict[str, str] = {}
    for typ, p, _ in resources:
        if typ not in (GKE_NODE_POOL, GKE_CLUSTER):
            continue
        nap = ((p.get("clusterAutoscaling") or {}).get("autoProvisioningDefaults") or {}) if typ == GKE_CLUSTER else {}
        for sa in ((p.get("nodeConfig") or {}).get("serviceAccount"), nap.get("serviceAccount")):
            if isinstance(sa, str) and sa and sa != "default":
                out.setdefault(sa, _cluster_key(config_path(p)))
    return out


def _cluster_key(path: str) -> str:
    """`gke.regions[r].clusters[c]` of a cluster's or node pool's config path."""
    at = path.find("clusters[")
    return path[:path.index("]", at) + 1] if at >= 0 and "]" in path[at:] else path


def grants(resources: list[tuple[str, Mapping[str, Any], str]]) -> Iterator[Grant]:
    """Every known (role, member) a resource grants at project, folder or organization level."""
    for typ, p, urn in resources:
        if typ in MEMBER_GRANTS:
            yield Grant(urn, MEMBER_GRANTS[typ], str(p.get("role")), str(p.get("member")))
        elif typ in BINDING_GRANTS:
            yield from (Grant(urn, BINDING_GRANTS[typ], str(p.get("role")), str(m)) for m in _list(p.get("members")))
        elif typ in POLICY_GRANTS and isinstance(p.get("policyData"), str):
            try:
                bindings = _list(json.loads(p["policyData"]).get("bindings"))
            except (ValueError, AttributeError):
                continue  # not a policy GCP would accept; the provider refuses it before anything is granted
            for b in (b for b in bindings if isinstance(b, Mapping)):
                yield from (Grant(urn, POLICY_GRANTS[typ], str(b.get("role")), str(m)) for m in _list(b.get("members")))


def _node_grants(resources: list[tuple[str, Mapping[str, Any], str]]) -> Iterator[tuple[Grant, str]]:
    accounts = node_service_accounts(resources)
    for g in grants(resources):
        email = g.member.removeprefix("serviceAccount:")
        if g.member.startswith("serviceAccount:") and email in accounts:
            yield g, f"{accounts[email]}: the node service account {email}"


def wildcard_findings(resources: list[tuple[str, Mapping[str, Any], str]]) -> Iterator[tuple[str, str]]:
    """Custom roles with `*` permissions, and `*Admin` roles granted at project level to node service accounts."""
    for typ, p, urn in resources:
        if typ in CUSTOM_ROLES:
            wild = [str(x) for x in _list(p.get("permissions")) if "*" in str(x)]
            if wild:
                yield urn, (f"custom role {p.get('roleId')!r} ({_name(urn)}) lists the wildcard permission(s) "
                            f"{', '.join(wild)}: list the permissions it needs (IAM's predefined roles reference "
                            "lists them per role)")
    for g, who in _node_grants(resources):
        if g.level == "project" and _ADMIN.search(g.role):
            yield g.urn, (f"{who} is granted {g.role} on the whole project by {_name(g.urn)}: an admin role on "
                          "every resource of "
                          "its service, to every pod that reaches the metadata server. Grant the workload that needs "
                          "it its own service account through Workload Identity")


def scope_findings(resources: list[tuple[str, Mapping[str, Any], str]]) -> Iterator[tuple[str, str]]:
    for g, who in _node_grants(resources):
        if g.role not in NODE_ROLES:
            yield g.urn, (f"{who} is granted {g.role} ({g.level} level, by {_name(g.urn)}), beyond what nodes "
                          "need. Node service "
                          f"accounts hold only {', '.join(NODE_ROLES)}; give pods their own service account through "
                          f"Workload Identity ({GKE_CIS} 5.2.1, 5.1.3, 5.2.2)")


def _stack(args: StackValidationArgs) -> list[tuple[str, Mapping[str, Any], str]]:
    return [(r.resource_type, plain(r.props), r.urn) for r in args.resources]


def _no_wildcards(args: StackValidationArgs, report: ReportViolation) -> None:
    for urn, message in wildcard_findings(_stack(args)):
        report(f"{message}.", urn)


def _node_scope(args: StackValidationArgs, report: ReportViolation) -> None:
    for urn, message in scope_findings(_stack(args)):
        report(f"{message}.", urn)


gcp_iam_no_wildcards = StackValidationPolicy(
    name="gcp-iam-no-wildcards",
    description="No GCP custom role with `*` permissions, and no `roles/*Admin` granted at project level to a GKE "
                "node service account. (No CIS GKE item.)",
    validate=_no_wildcards,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
)
gke_node_service_account_roles = StackValidationPolicy(
    name="gke-node-service-account-roles",
    description=f"GKE node service accounts hold only the node, logging/monitoring writer and Artifact Registry "
                f"reader roles ({GKE_CIS} 5.2.1, 5.1.3).",
    validate=_node_scope,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={}),
    framework=PolicyComplianceFramework(name=GKE_CIS, version="1.6.0", reference="5.2.1, 5.1.3"),
)
