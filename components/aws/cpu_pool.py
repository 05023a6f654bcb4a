"""The general-purpose CPU pool of an EKS cluster: an untainted Karpenter NodePool and its own EC2NodeClass.

Data loaders, notebooks, Ray heads and web UIs need somewhere to run: the GPU pools are tainted and nothing scales
the system node group (no cluster-autoscaler; Karpenter does not manage managed node groups). Both anchors ship
such a pool (terraform-aws-eks examples/karpenter `NodePool default`, ai-on-eks `x86-cpu-karpenter`). Instance
families come from category and generation requirements (c7i, m7i, r7i and newer), capped by `limits: cpu`; it
carries no GPU limit and no GPU instance type, so the capacity view and the GPU quota policies skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aws.gpu_pool import IMDS_V2_ONLY, NODECLASS_API, NODEPOOL_API
from components.aws.network import DISCOVERY_TAG
from components.config.eks import CPU_POOL_NAME, CpuPool
from components.kubernetes.conventions import LABEL_CLUSTER, LABEL_POOL, LABEL_REGION

ROOT_VOLUME_GB = 100
"""Room for a few multi-GB images (data loaders, notebooks) beside the kubelet's own use."""


@dataclass(frozen=True)
class KarpenterCpuPoolArgs:
    cluster_name: str
    """The EKS cluster's name (discovery tags carry it)."""
    region: str
    spec: CpuPool
    """The validated `cpu_pool` config (enabled)."""
    zones: list[str]
    """The cluster's zones."""
    ami_alias: str
    """`al2023@vYYYYMMDD`, the GPU pools' pin (the alias picks the standard variant for CPU types)."""
    node_role_name: pulumi.Input[str]
    provider: k8s.Provider
    controller: pulumi.Resource
    """The Karpenter release (which installs the CRDs first)."""
    tags: dict[str, str]
    """EC2 tags of the pool's instances and volumes (cost allocation)."""


def node_class_spec(args: KarpenterCpuPoolArgs, role: str) -> dict[str, Any]:
    selector = [{"tags": {DISCOVERY_TAG: args.cluster_name}}]
    return {
        "role": role,
        "amiSelectorTerms": [{"alias": args.ami_alias}],
        "subnetSelectorTerms": selector,
        "securityGroupSelectorTerms": selector,
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
            "volumeSize": f"{ROOT_VOLUME_GB}Gi", "volumeType": "gp3", "encrypted": True,
            "deleteOnTermination": True}}],
        "metadataOptions": IMDS_V2_ONLY,
        "tags": {**args.tags, LABEL_CLUSTER: args.cluster_name, LABEL_POOL: CPU_POOL_NAME},
    }


def node_pool_spec(args: KarpenterCpuPoolArgs) -> dict[str, Any]:
    spec = args.spec
    return {
        "limits": {"cpu": str(spec.cpu_limit)},
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": spec.consolidate_after,
                       "budgets": [{"nodes": "10%"}]},
        "template": {
            "metadata": {"labels": {LABEL_POOL: CPU_POOL_NAME}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": CPU_POOL_NAME},
                "expireAfter": "720h",
                "requirements": [
                    {"key": "karpenter.k8s.aws/instance-category", "operator": "In",
                     "values": [c.value for c in spec.categories]},
                    # Gt is exclusive: generation 7 and newer.
                    {"key": "karpenter.k8s.aws/instance-generation", "operator": "Gt",
                     "values": [str(spec.min_generation - 1)]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In",
                     "values": [c.value for c in spec.capacity_types]},
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(args.zones)},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
            },
        },
    }


class KarpenterCpuPool(pulumi.ComponentResource):
    node_pool_name: str

    def __init__(self, name: str, args: KarpenterCpuPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:KarpenterCpuPool", name, None, opts)
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass", api_version=NODECLASS_API, kind="EC2NodeClass", metadata={"name": CPU_POOL_NAME},
            spec=pulumi.Output.from_input(args.node_role_name).apply(lambda role: node_class_spec(args, role)),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.controller]))
        k8s.apiextensions.CustomResource(
            f"{name}-nodepool", api_version=NODEPOOL_API, kind="NodePool",
            metadata={"name": CPU_POOL_NAME, "labels": {LABEL_CLUSTER: args.cluster_name, LABEL_REGION: args.region,
                                                        LABEL_POOL: CPU_POOL_NAME}},
            spec=node_pool_spec(args),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.controller, node_class]))
        self.node_pool_name = CPU_POOL_NAME
        self.register_outputs({"node_pool_name": self.node_pool_name})
