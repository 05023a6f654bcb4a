"""GKE security guardrails, each mapped to the CIS Google Kubernetes Engine Benchmark item where one exists.

Each rule reads the GKE resources' properties as the engine sees them and says what to change in the
stack config. Rules for clusters and node pools are separate policies so a stack can tune each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from components.capacity.gke import GKE_CLUSTER, GKE_NODE_POOL
from components.config.checks import MIN_AUTHORIZED_PREFIX
from policies.view import config_path, plain, prefix_length

CIS = "CIS GKE Benchmark"
BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy"
Check = Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]
_CLUSTER_CODE = "components/gcp/cluster.py"
_NODE_CODE = "hardened_node_settings in components/gcp/cluster.py"


def _default_sa(sa: Any) -> bool:
    return not sa or sa == "default" or str(sa).endswith("-compute@developer.gserviceaccount.com")


def private_nodes(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if not (p.get("privateClusterConfig") or {}).get("enablePrivateNodes"):
        return (f"{config_path(p)} would give its nodes public IPs. gpu-fleet always sets "
                f"private_cluster_config.enable_private_nodes ({_CLUSTER_CODE}); restore it.")
    return None



def control_plane_access(p: Mapping[str, Any], cfg: Mapping[str, Any]) -> str | None:
    private = p.get("privateClusterConfig") or {}
    ip = ((p.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {})
    if private.get("enablePrivateEndpoint") or ip.get("enabled") is False:
        return None  # no public IP endpoint (the DNS endpoint is IAM-gated)
    man = p.get("masterAuthorizedNetworksConfig") or {}
    if not man.get("cidrBlocks"):
        return (f"{config_path(p)} has a public control-plane endpoint open to any address. Set "
                f"{config_path(p)}.authorized_networks, or {config_path(p)}.public_endpoint: false.")
    widest = int(cfg.get("min_prefix_length", MIN_AUTHORIZED_PREFIX))
    broad = [b.get("cidrBlock") for b in man["cidrBlocks"] if prefix_length(b.get("cidrBlock")) < widest]
    if broad:
        return (f"{config_path(p)} admits {', '.join(map(str, broad))} to its public control plane, which is "
                f"most of the internet (narrower than /{widest} is required). Narrow "
                f"{config_path(p)}.authorized_networks to the networks that run kubectl, or set "
                f"{config_path(p)}.public_endpoint: false.")
    if man.get("gcpPublicCidrsAccessEnabled"):
        return (f"{config_path(p)} admits every Google Cloud public IP to its control plane. gpu-fleet sets "
                f"gcp_public_cidrs_access_enabled: false ({_CLUSTER_CODE}); restore it.")
    return None


def workload_identity(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if not (p.get("workloadIdentityConfig") or {}).get("workloadPool"):
        return (f"{config_path(p)} has no Workload Identity pool, so pods would act as the node's service account. "
                f"gpu-fleet sets workload_identity_config to <project>.svc.id.goog ({_CLUSTER_CODE}); restore it, "
                "and check that gcp:project is set.")
    return None


def shielded_nodes(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if not p.get("enableShieldedNodes"):
        return (f"{config_path(p)} does not enforce Shielded GKE Nodes. gpu-fleet sets enable_shielded_nodes "
                f"({_CLUSTER_CODE}); restore it.")
    return None


def legacy_auth_off(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    problems = []
    if p.get("enableLegacyAbac"):
        problems.append("legacy ABAC is on")
    auth = p.get("masterAuth") or {}
    if (auth.get("clientCertificateConfig") or {}).get("issueClientCertificate"):
        problems.append("a client certificate is issued")
    if auth.get("username") or auth.get("password"):
        problems.append("basic authentication is configured")
    if problems:
        return (f"{config_path(p)}: {', '.join(problems)}. Authenticate with IAM and authorize with RBAC only: "
                f"gpu-fleet sets enable_legacy_abac: false and no client certificate ({_CLUSTER_CODE}); restore it.")
    return None


def secrets_encryption(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    enc = p.get("databaseEncryption") or {}
    if enc.get("state") != "ENCRYPTED" or not enc.get("keyName"):
        return (f"{config_path(p)} stores Kubernetes Secrets without application-layer encryption by a Cloud KMS "
                f"key. Set {config_path(p)}.secrets_encryption.enabled: true (gpu-fleet creates a key), or name "
                "a key in secrets_encryption.kms_key.")
    return None


def deletion_protection(p: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    if config.get("required") and not p.get("deletionProtection"):
        return (f"{config_path(p)} has no deletion protection, which this stack requires. Set "
                "gke.deletion_protection: true in the stack config.")
    return None


def _node_config(p: Mapping[str, Any]) -> Mapping[str, Any]:
    return p.get("nodeConfig") or {}


def node_service_account(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if _default_sa(_node_config(p).get("serviceAccount")):
        return (f"{config_path(p)} runs as the Compute Engine default service account. gpu-fleet gives each "
                f"cluster its own least-privilege account ({_NODE_CODE}); restore it.")
    return None


def secure_boot(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    shielded = _node_config(p).get("shieldedInstanceConfig") or {}
    if not shielded.get("enableSecureBoot"):
        return (f"{config_path(p)} boots without Secure Boot. gpu-fleet sets "
                f"shielded_instance_config.enable_secure_boot ({_NODE_CODE}); restore it.")
    return None


def auto_repair_upgrade(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    mgmt = p.get("management") or {}
    # Flex-start and queued (Dynamic Workload Scheduler) nodes are replaced, not repaired: GKE requires
    # auto-repair off for them, so only auto-upgrade is asked of those pools.
    dws = _node_config(p).get("flexStart") or (p.get("queuedProvisioning") or {}).get("enabled")
    checks = {"auto-upgrade": "autoUpgrade", **({} if dws else {"auto-repair": "autoRepair"})}
    off = [name for name, key in sorted(checks.items()) if not mgmt.get(key)]
    if off:
        return (f"{config_path(p)} has {' and '.join(off)} off. gpu-fleet turns both on for every pool "
                "(management in components/gcp/node_pool.py and components/gcp/cluster.py); restore them.")
    return None


def kubelet_read_only_port(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    kubelet = _node_config(p).get("kubeletConfig") or {}
    if str(kubelet.get("insecureKubeletReadonlyPortEnabled", "")).upper() != "FALSE":
        return (f"{config_path(p)} leaves the kubelet's unauthenticated read-only port (10255) to GKE's default, "
                "open on older clusters. gpu-fleet sets kubelet_config.insecure_kubelet_readonly_port_enabled: "
                f"FALSE ({_NODE_CODE}); restore it.")
    return None


def gpu_tainted(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    nc = _node_config(p)
    if not nc.get("guestAccelerators"):
        return None
    if not any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in nc.get("taints") or []):
        return (f"{config_path(p)} is not tainted nvidia.com/gpu:NoSchedule, so ordinary pods would fill GPU nodes. "
                "gpu-fleet taints every GPU pool (GPU_TAINT in components/kubernetes/conventions.py); restore it.")
    return None


def binary_authorization(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    mode = (p.get("binaryAuthorization") or {}).get("evaluationMode")
    if mode != "PROJECT_SINGLETON_POLICY_ENFORCE":
        return (f"{config_path(p)} does not evaluate the project's Binary Authorization policy (evaluation mode "
                f"{mode or 'unset'}), so any image could run. gpu-fleet sets binary_authorization.evaluation_mode: "
                f"PROJECT_SINGLETON_POLICY_ENFORCE ({_CLUSTER_CODE}); restore it.")
    return None


def _wide(pattern: str) -> bool:
    """A pattern admitting a whole registry (or everything): `*`, `host/**`, `host/*`."""
    head, _, rest = pattern.partition("/")
    return pattern.startswith("*") or not rest or rest.startswith("*") or "." not in head


def binauthz_policy(p: Mapping[str, Any], cfg: Mapping[str, Any]) -> str | None:
    rule = p.get("defaultAdmissionRule") or {}
    problems = []
    if rule.get("evaluationMode") == "ALWAYS_ALLOW":
        problems.append("its default rule admits every image (ALWAYS_ALLOW), so the allow-list means nothing")
    if cfg.get("enforced") and rule.get("enforcementMode") != "ENFORCED_BLOCK_AND_AUDIT_LOG":
        problems.append(f"it only audit-logs ({rule.get('enforcementMode')}) where this stack requires enforcement")
    wide = [str(x.get("namePattern")) for x in p.get("admissionWhitelistPatterns") or []
            if isinstance(x.get("namePattern"), str) and _wide(x["namePattern"])]
    if wide:
        problems.append(f"its allow-list admits whole registries ({', '.join(wide)})")
    if problems:
        return (f"The Binary Authorization policy of project {p.get('project')}: {'; '.join(problems)}. Set "
                "gke.binary_authorization.mode: enforced in the stack config; the allow-list is the fleet's own "
                "images (components/gcp/binary_authorization.py).")
    return None


def intranode_visibility(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if not p.get("enableIntranodeVisibility"):
        return (f"{config_path(p)} hides pod-to-pod traffic within a node from VPC flow logs and firewall rules. "
                f"gpu-fleet sets enable_intranode_visibility ({_CLUSTER_CODE}); restore it.")
    return None


def google_groups_rbac(p: Mapping[str, Any], cfg: Mapping[str, Any]) -> str | None:
    group = (p.get("authenticatorGroupsConfig") or {}).get("securityGroup")
    if cfg.get("required") and not group:
        return (f"{config_path(p)} does not use Google Groups for RBAC, which this stack requires, so RoleBindings "
                "can only name individual users. Set gke.security_group: gke-security-groups@<your domain>.")
    if isinstance(group, str) and not group.startswith("gke-security-groups@"):
        return (f"{config_path(p)} names {group} as its security group; GKE only reads a group named "
                "gke-security-groups@<domain>. Fix gke.security_group.")
    return None


def integrity_monitoring(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if "cluster" in p:  # a node pool
        shielded = _node_config(p).get("shieldedInstanceConfig") or {}
    else:  # a cluster: the defaults of the node pools auto-provisioning creates
        nap = p.get("clusterAutoscaling") or {}
        if not nap.get("enabled"):
            return None
        shielded = (nap.get("autoProvisioningDefaults") or {}).get("shieldedInstanceConfig") or {}
    if not shielded.get("enableIntegrityMonitoring"):
        return (f"{config_path(p)} runs nodes without Shielded VM integrity monitoring, so a tampered boot goes "
                "unreported. gpu-fleet sets shielded_instance_config.enable_integrity_monitoring "
                f"({_NODE_CODE} and the auto-provisioning defaults); restore it.")
    return None


EXEMPT = {
    "type": "array", "items": {"type": "string"}, "default": [],
    "description": "Names (GKE cluster or node pool `name`) this policy skips; say why in the pack config's VCS",
}


def _policy(name: str, description: str, resource_type: str | tuple[str, ...], check: Check, cis: str | None,
            settings: dict[str, dict[str, Any]] | None = None) -> ResourceValidationPolicy:
    types = (resource_type,) if isinstance(resource_type, str) else resource_type

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        props = plain(args.props)
        if props.get("name") in (args.get_config().get("exempt") or []):
            return
        message = check(props, args.get_config())
        if message:
            benchmark = f" ({CIS} {cis})" if cis else ""
            report(f"{message}{benchmark} An accepted exception goes in {name}.exempt (the GKE name "
                   f"{props.get('name')!r}) of the stack's policy config, with the reason.", None)

    return ResourceValidationPolicy(
        name=name,
        description=description + (f" ({CIS} {cis})" if cis else ""),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={"exempt": EXEMPT, **(settings or {})}),
        framework=PolicyComplianceFramework(name=CIS, version="1.6.0", reference=cis) if cis else None,
    )


POLICIES = [
    _policy("gke-private-nodes", "GKE nodes have no public IPs.", GKE_CLUSTER, private_nodes, "5.6.5"),
    _policy("gke-control-plane-access", "A public control plane admits only authorized networks.", GKE_CLUSTER,
            control_plane_access, "5.6.3",
            {"min_prefix_length": {"type": "integer", "minimum": 0, "maximum": 32, "default": MIN_AUTHORIZED_PREFIX,
                                   "description": "Authorized networks must be this narrow or narrower (/N)"}}),
    _policy("gke-workload-identity", "Workload Identity is enabled.", GKE_CLUSTER, workload_identity, "5.2.2"),
    _policy("gke-shielded-nodes", "Shielded GKE Nodes are enforced.", GKE_CLUSTER, shielded_nodes, "5.5.5"),
    _policy("gke-legacy-auth-disabled", "Legacy ABAC, basic auth and client certificates are off.", GKE_CLUSTER,
            legacy_auth_off, "5.8.1, 5.8.3"),
    _policy("gke-secrets-encryption", "Kubernetes Secrets are encrypted with a Cloud KMS key.", GKE_CLUSTER,
            secrets_encryption, "5.3.1"),
    _policy("gke-deletion-protection", "Clusters are deletion-protected where the stack requires it.", GKE_CLUSTER,
            deletion_protection, None,
            {"required": {"type": "boolean", "default": False, "description": "Whether clusters must be protected"}}),
    _policy("gke-node-service-account", "Nodes do not run as the Compute Engine default service account.",
            GKE_NODE_POOL, node_service_account, "5.2.1"),
    _policy("gke-secure-boot", "Nodes boot with Secure Boot.", GKE_NODE_POOL, secure_boot, "5.5.7"),
    _policy("gke-node-auto-repair-upgrade", "Node pools auto-repair and auto-upgrade.", GKE_NODE_POOL,
            auto_repair_upgrade, "5.5.2, 5.5.3"),
    _policy("gke-kubelet-read-only-port", "The kubelet's unauthenticated read-only port is off.", GKE_NODE_POOL,
            kubelet_read_only_port, "3.2.4"),
    # Item numbers as CIS GKE Benchmark 1.6.0 words them: aquasecurity/kube-bench cfg/gke-1.6.0/managedservices.yaml
    # (at a73ce37): 5.10.4 "Ensure use of Binary Authorization", 5.6.1 "Enable VPC Flow Logs and Intranode
    # Visibility", 5.8.2 "Manage Kubernetes RBAC users with Google Groups for GKE", 5.5.6 "Ensure Integrity
    # Monitoring for Shielded GKE Nodes is Enabled".
    _policy("gke-binary-authorization", "Clusters evaluate the project's Binary Authorization policy.", GKE_CLUSTER,
            binary_authorization, "5.10.4"),
    _policy("gke-binary-authorization-policy", "The project's Binary Authorization policy denies images outside "
            "the fleet's allow-list, and blocks them where the stack requires it.", BINAUTHZ_POLICY,
            binauthz_policy, "5.10.4, 5.1.4",
            {"enforced": {"type": "boolean", "default": False,
                          "description": "Whether the policy must block (not only audit-log) other images"}}),
    _policy("gke-intranode-visibility", "Intranode visibility is on.", GKE_CLUSTER, intranode_visibility, "5.6.1"),
    _policy("gke-google-groups-rbac", "RBAC subjects come from Google Groups where the stack requires it.",
            GKE_CLUSTER, google_groups_rbac, "5.8.2",
            {"required": {"type": "boolean", "default": False,
                          "description": "Whether clusters must set a gke-security-groups@ group"}}),
    _policy("gke-integrity-monitoring", "Shielded nodes run with integrity monitoring.", (GKE_NODE_POOL, GKE_CLUSTER),
            integrity_monitoring, "5.5.6"),
    _policy("gke-gpu-pool-tainted", "GPU node pools are tainted nvidia.com/gpu:NoSchedule.", GKE_NODE_POOL,
            gpu_tainted, None),
]
