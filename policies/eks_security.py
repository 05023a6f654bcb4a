"""EKS guardrails, each mapped to the CIS Amazon EKS Benchmark item where one exists, and the GPU-limit rule.

Rules read what would be deployed (cluster, subnets, EC2NodeClasses, NodePools) and say which stack-config
key to change. A NodePool that can launch GPU nodes without `limits: nvidia.com/gpu` could grow past every
quota and budget the stack policies judged, so its absence is mandatory.
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

from components import catalog
from components.capacity.eks import NODEPOOL, gpu_limit, requirement
from components.config.checks import MIN_AUTHORIZED_PREFIX
from components.kubernetes.conventions import LABEL_CLUSTER, LABEL_POOL, LABEL_REGION
from policies.view import plain, prefix_length

CIS = "CIS Amazon EKS Benchmark"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
Check = Callable[[Mapping[str, Any], Mapping[str, Any]], str | None]
_CODE = "components/aws/cluster.py"
_GPU_KEYS = ("karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-count",
             "karpenter.k8s.aws/instance-gpu-manufacturer", "karpenter.k8s.aws/instance-gpu-memory")


def _cluster_path(p: Mapping[str, Any]) -> str:
    return f"eks cluster {p.get('name')!r} (eks.regions[...].clusters[{p.get('name')}])"


def private_endpoint(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    """CIS EKS 5.4.2: private endpoint enabled and public access disabled.

    EKS's default is a public endpoint, so an unset endpointPublicAccess counts as public.
    """
    vpc = p.get("vpcConfig") or {}
    if vpc.get("endpointPrivateAccess") and vpc.get("endpointPublicAccess") is False:
        return None
    cidrs = ", ".join(map(str, vpc.get("publicAccessCidrs") or [])) or "0.0.0.0/0, EKS's default"
    return (f"{_cluster_path(p)} has a public API endpoint (reachable from {cidrs}). Empty its "
            "public_access_cidrs and deploy from a runner inside the VPC (deploy_from.private_cidrs).")


def endpoint_access(p: Mapping[str, Any], cfg: Mapping[str, Any]) -> str | None:
    vpc = p.get("vpcConfig") or {}
    if not vpc.get("endpointPrivateAccess"):
        return (f"{_cluster_path(p)} has no private API endpoint, so nodes reach the API over the internet. "
                f"gpu-fleet sets endpoint_private_access ({_CODE}); restore it.")
    if vpc.get("endpointPublicAccess") is False:
        return None
    cidrs = vpc.get("publicAccessCidrs") or []
    widest = int(cfg.get("min_prefix_length", MIN_AUTHORIZED_PREFIX))
    broad = [c for c in cidrs if prefix_length(c) < widest]
    if not cidrs or broad:
        shown = ", ".join(map(str, broad)) if broad else "any address (EKS defaults to 0.0.0.0/0)"
        return (f"{_cluster_path(p)} exposes its public API endpoint to {shown}. List only the networks that "
                f"run kubectl in its public_access_cidrs (/{widest} or narrower), or leave them empty for a "
                "private endpoint.")
    return None



def secrets_encryption(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    configs = p.get("encryptionConfig") or {}
    configs = configs if isinstance(configs, list) else [configs]
    if not any("secrets" in (c.get("resources") or []) and (c.get("provider") or {}).get("keyArn")
               for c in configs if isinstance(c, Mapping)):
        return (f"{_cluster_path(p)} does not encrypt Secrets with a KMS key. gpu-fleet sets encryption_config "
                f"with the cluster's own key ({_CODE}); restore it.")
    return None


def audit_logs(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    if "audit" not in (p.get("enabledClusterLogTypes") or []):
        return f"{_cluster_path(p)} does not send its audit log to CloudWatch. Keep `audit` in its log_types."
    return None


def private_nodes(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    tags = p.get("tags") or {}
    if "karpenter.sh/discovery" in tags and p.get("mapPublicIpOnLaunch"):
        return (f"node subnet {tags.get('Name', '?')} gives instances public IPs. gpu-fleet keeps node subnets "
                "private (map_public_ip_on_launch: false, components/aws/network.py); restore it.")
    return None


def imds_v2(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    # Karpenter's defaults are IMDSv2 with one hop; only an explicit weakening is a violation.
    meta = (p.get("spec") or {}).get("metadataOptions") or {}
    tokens, hops = meta.get("httpTokens", "required"), meta.get("httpPutResponseHopLimit", 1)
    if tokens != "required" or (isinstance(hops, (int, float)) and hops > 1):
        name = (p.get("metadata") or {}).get("name")
        return (f"EC2NodeClass {name!r} lets pods reach instance credentials (httpTokens {tokens!r}, hop limit "
                f"{hops}). gpu-fleet sets IMDSv2 only with one hop (IMDS_V2_ONLY in components/aws/gpu_pool.py); "
                "restore it.")
    return None


def launch_template_imds_v2(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    """A launch template (the system node group's) asks for IMDSv2 with one hop.

    EC2's defaults leave tokens optional, so an absent setting is a violation (checkov CKV_AWS_79 reads it so too).
    """
    meta = p.get("metadataOptions") or {}
    tokens, hops = meta.get("httpTokens"), meta.get("httpPutResponseHopLimit")
    if tokens == "required" and isinstance(hops, (int, float)) and hops <= 1:
        return None
    return (f"launch template {p.get('name') or p.get('description') or '?'!r} lets pods reach instance credentials "
            f"(httpTokens {tokens!r}, hop limit {hops}). gpu-fleet sets IMDSv2 only with one hop on the system "
            "nodes' template (components/aws/cluster.py); restore it.")


def is_gpu_pool(spec: Mapping[str, Any]) -> bool:
    """A NodePool that may launch GPU nodes: GPU instance types, GPU requirements, or the GPU taint."""
    types = requirement(spec, "node.kubernetes.io/instance-type")
    if any((m := catalog.find_machine_type(t)) is not None and m.gpus for t in types):
        return True
    tmpl = (spec.get("template") or {}).get("spec") or {}
    if any(isinstance(r, Mapping) and r.get("key") in _GPU_KEYS for r in tmpl.get("requirements") or []):
        return True
    return any(isinstance(t, Mapping) and t.get("key") == "nvidia.com/gpu" for t in tmpl.get("taints") or [])


def nodepool_gpu_limit(p: Mapping[str, Any], _: Mapping[str, Any]) -> str | None:
    spec = p.get("spec") or {}
    if not is_gpu_pool(spec) or gpu_limit(spec) is not None:
        return None
    labels = (p.get("metadata") or {}).get("labels") or {}
    path = (f"eks.regions[{labels.get(LABEL_REGION)}].clusters[{labels.get(LABEL_CLUSTER)}]"
            f".gpu_pools[{labels.get(LABEL_POOL)}].gpu_limit") if labels.get(LABEL_POOL) else "its gpu_limit"
    return (f"NodePool {(p.get('metadata') or {}).get('name')!r} can launch GPU nodes without a "
            f"`limits: nvidia.com/gpu`, so no quota or budget bounds it. Set {path}.")


def _policy(name: str, description: str, resource_type: str, check: Check, cis: str | None,
            settings: dict[str, dict[str, Any]] | None = None, *,
            level: EnforcementLevel = EnforcementLevel.MANDATORY) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type != resource_type:
            return
        message = check(plain(args.props), args.get_config())
        if message:
            report(f"{message}" + (f" ({CIS} {cis})" if cis else ""), None)

    return ResourceValidationPolicy(
        name=name,
        description=description + (f" ({CIS} {cis})" if cis else ""),
        validate=validate,
        enforcement_level=level,
        config_schema=PolicyConfigSchema(properties=settings or {}),
        framework=PolicyComplianceFramework(name=CIS, version="1.8.0", reference=cis) if cis else None,
    )


POLICIES = [
    _policy("eks-endpoint-access", "The API endpoint is private, or public only to listed networks.", EKS_CLUSTER,
            endpoint_access, "5.4.1",
            {"min_prefix_length": {"type": "integer", "minimum": 0, "maximum": 32, "default": MIN_AUTHORIZED_PREFIX,
                                   "description": "Public access CIDRs must be this narrow or narrower (/N)"}}),
    # Advisory by default: a public endpoint limited to listed networks is a legitimate choice (5.4.1 holds);
    # prod's pack config makes it mandatory.
    _policy("eks-private-endpoint", "The API endpoint is private only, with public access disabled.", EKS_CLUSTER,
            private_endpoint, "5.4.2", level=EnforcementLevel.ADVISORY),
    _policy("eks-secrets-encryption", "Kubernetes Secrets are encrypted with a KMS key.", EKS_CLUSTER,
            secrets_encryption, "5.3.1"),
    _policy("eks-audit-logs", "The control plane's audit log is enabled.", EKS_CLUSTER, audit_logs, "2.1.1"),
    _policy("eks-private-nodes", "Node subnets give no public IPs.", SUBNET, private_nodes, "5.4.3"),
    # No CIS EKS item covers IMDS; the EKS security best practices ("Restricting access to the IMDS") do.
    _policy("eks-imdsv2", "GPU nodes use IMDSv2 with a hop limit of 1.", NODECLASS, imds_v2, None),
    _policy("eks-system-nodes-imdsv2", "System nodes' launch templates use IMDSv2 with a hop limit of 1.",
            LAUNCH_TEMPLATE, launch_template_imds_v2, None),
    _policy("karpenter-gpu-limit", "Every NodePool that can launch GPU nodes has a nvidia.com/gpu limit.",
            NODEPOOL, nodepool_gpu_limit, None),
]
