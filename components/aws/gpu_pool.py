"""A GPU pool on EKS: a Karpenter NodePool and its EC2NodeClass, derived from the config and the catalog.

Requirements come from the catalog (instance types, the GPU's Karpenter name, capacity types, zones); the
pool carries `limits: nvidia.com/gpu` (its runtime cap), the `nvidia.com/gpu` NoSchedule taint, labels the
device plugin and the capacity view read back, disruption settings and expiry. Training pools (reserved,
production-critical or `workload: training`) never expire, have no forced termination and block drift and
consolidation outside the cluster's maintenance window (components.aws.disruption); dedicated pools (training,
or 8+ GPUs per node) add the taint `gpu-fleet/pool=<name>:NoSchedule`, so a 1-GPU pod that only tolerates
`nvidia.com/gpu` (EKS's ExtendedResourceToleration adds that toleration to every GPU pod) cannot land there.
Nodes boot a pinned AL2023 release (the alias picks its NVIDIA variant), use IMDSv2 only, an encrypted gp3 root
volume and their instance-store NVMe as RAID0. EFA pools add one ENA primary interface and the instance's
efa-only interfaces, the EFA security group and a placement group: one gpu-fleet creates (components.aws.efa),
one the pool names, or none (reserved capacity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import catalog
from components.aws.disruption import training_budgets
from components.aws.efa import EFA_SECURITY_GROUP_TAG, Efa
from components.aws.network import DISCOVERY_TAG
from components.config.eks import (
    CapacityType,
    EksGpuPool,
    efa_interfaces,
    expire_after,
    is_dedicated,
    is_training,
    termination_grace_period,
)
from components.config.gke import MaintenanceWindow
from components.kubernetes.conventions import (
    GPU_PRESENT,
    GPU_TAINT,
    LABEL_CLUSTER,
    LABEL_CRITICAL,
    LABEL_EFA,
    LABEL_EFA_INTERFACES,
    LABEL_POOL,
    LABEL_REGION,
    POOL_TAINT_KEY,
)

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
NODEPOOL_TYPE = f"kubernetes:{NODEPOOL_API}:NodePool"
NODECLASS_TYPE = f"kubernetes:{NODECLASS_API}:EC2NodeClass"
LABEL_ACCELERATOR = "gpu-fleet/accelerator"
GPU_RESOURCE = "nvidia.com/gpu"
IMDS_V2_ONLY = {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1,
                "httpTokens": "required"}
"""Tokens required and one hop: pods cannot reach the node's instance credentials."""


@dataclass(frozen=True)
class KarpenterGpuPoolArgs:
    cluster_name: str
    """The EKS cluster's name (discovery tags carry it)."""
    region: str
    """AWS region of the cluster (a node label the capacity view reads back)."""
    spec: EksGpuPool
    """The pool's validated config."""
    zones: list[str]
    """The cluster's zones; the pool uses its own subset when it names one."""
    ami_alias: str
    """`al2023@vYYYYMMDD`: pinned, so a new AMI release does not replace every GPU node at once."""
    node_role_name: pulumi.Input[str]
    """The IAM role Karpenter's nodes get (Karpenter.node_role_name)."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    controller: pulumi.Resource
    """The Karpenter controller's release (which installs the CRDs first): NodePools and EC2NodeClasses wait for it."""
    tags: dict[str, str]
    """EC2 tags of the pool's instances and volumes (cost allocation)."""
    efa: Efa | None = None
    """The cluster's EFA security group and placement groups (components.aws.efa); None: the cluster has no EFA
    pool. The pool's own EFA interfaces come from its config (components.config.eks.efa_interfaces)."""
    maintenance: MaintenanceWindow = field(default_factory=MaintenanceWindow)
    """The cluster's maintenance window: the only time a training pool's nodes may drift or be consolidated."""


def efa_network_interfaces(count: int) -> list[dict[str, Any]]:
    """One ENA primary interface and `count` efa-only interfaces, one per network card.

    Karpenter's "IP optimized" layout: ENA on card 0 / device 0 and efa-only on card 0 / device 1, efa-only on
    device 0 of every other card (one address per node). The EC2NodeClass CRD requires the ENA primary and allows
    one EFA device per network card (KP designs/efa-for-static-capacity.md, ec2nodeclass CEL rules).
    """
    return [{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"},
            {"networkCardIndex": 0, "deviceIndex": 1, "interfaceType": "efa-only"},
            *({"networkCardIndex": card, "deviceIndex": 0, "interfaceType": "efa-only"} for card in range(1, count))]


def requirements(spec: EksGpuPool, zones: list[str]) -> list[dict[str, Any]]:
    """NodePool requirements: the instance types, their GPU (as Karpenter names it), capacity types and zones."""
    machines = [catalog.machine_type(t) for t in spec.instance_types]
    gpu_names = sorted({n for m in machines if (n := catalog.gpu(m.gpu).aws_gpu_name)})
    return [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(spec.instance_types)},
        {"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": gpu_names},
        {"key": "karpenter.k8s.aws/instance-gpu-manufacturer", "operator": "In", "values": ["nvidia"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [c.value for c in spec.capacity_types]},
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(spec.zones or zones)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]


def node_class_spec(args: KarpenterGpuPoolArgs, role: str, placement_group: str | None = None) -> dict[str, Any]:
    spec = args.spec
    machines = [catalog.machine_type(t) for t in spec.instance_types]
    selector = [{"tags": {DISCOVERY_TAG: args.cluster_name}}]
    interfaces = efa_interfaces(spec)
    efa = [{"tags": {EFA_SECURITY_GROUP_TAG: args.cluster_name}}] if interfaces else []
    out: dict[str, Any] = {
        "role": role,
        "amiSelectorTerms": [{"alias": args.ami_alias}],
        "subnetSelectorTerms": selector,
        "securityGroupSelectorTerms": selector + efa,
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "rootVolume": True, "ebs": {
            "volumeSize": f"{spec.root_volume_gb}Gi", "volumeType": "gp3", "encrypted": True,
            "deleteOnTermination": True}}],
        "metadataOptions": IMDS_V2_ONLY,
        "tags": {**args.tags, LABEL_CLUSTER: args.cluster_name, LABEL_POOL: spec.name},
    }
    if all(m.local_ssd_gb for m in machines):
        out["instanceStorePolicy"] = "RAID0"
    if CapacityType.RESERVED in spec.capacity_types:
        out["capacityReservationSelectorTerms"] = [
            {"id": t.id} if t.id else {"tags": dict(t.tags or {})} for t in spec.capacity_reservations]
    if interfaces:
        out["networkInterfaces"] = efa_network_interfaces(interfaces)
    group = placement_group_selector(spec, placement_group)
    if group:
        out["placementGroupSelector"] = group
    return out


def placement_group(args: KarpenterGpuPoolArgs) -> pulumi.Output[str] | None:
    """The name of the cluster placement group gpu-fleet created for the pool (components.aws.efa), if any."""
    return args.efa.placement_groups.get(args.spec.name) if args.efa is not None else None


def placement_group_selector(spec: EksGpuPool, created: str | None) -> dict[str, str] | None:
    """The EC2NodeClass `placementGroupSelector` (exactly one of name and id, per its CEL rules).

    The group the pool names, else the one gpu-fleet created for it, else none.
    """
    ref = spec.placement_group
    if ref is not None and ref.name:
        return {"name": ref.name}
    if ref is not None and ref.id:
        return {"id": ref.id}
    return {"name": created} if created else None


def taints(spec: EksGpuPool) -> list[dict[str, str]]:
    """The GPU taint on every pool, plus `gpu-fleet/pool=<name>:NoSchedule` on dedicated pools."""
    own = [{"key": POOL_TAINT_KEY, "value": spec.name, "effect": "NoSchedule"}] if is_dedicated(spec) else []
    return [{"key": GPU_TAINT[0], "effect": "NoSchedule"}, *own]


def disruption(args: KarpenterGpuPoolArgs) -> dict[str, Any]:
    """Consolidation as configured.

    A training pool's budgets also block drift and consolidation outside the maintenance window.
    """
    d = args.spec.disruption
    budgets = (training_budgets(args.maintenance, d.budget_nodes) if is_training(args.spec)
               else [{"nodes": d.budget_nodes}])
    return {"consolidationPolicy": d.consolidation.value, "consolidateAfter": d.consolidate_after,
            "budgets": budgets}


def node_pool_spec(args: KarpenterGpuPoolArgs) -> dict[str, Any]:
    spec = args.spec
    gpu = catalog.machine_type(spec.instance_types[0]).gpu
    labels = {GPU_PRESENT: "true", LABEL_POOL: spec.name, LABEL_ACCELERATOR: gpu, **spec.labels,
              **({LABEL_EFA: "true"} if efa_interfaces(args.spec) else {})}
    out: dict[str, Any] = {
        "limits": {GPU_RESOURCE: spec.gpu_limit},
        "disruption": disruption(args),
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": spec.name},
                "expireAfter": expire_after(spec),
                "taints": taints(spec),
                "requirements": requirements(spec, args.zones),
            },
        },
    }
    grace = termination_grace_period(spec)
    if grace is not None:
        out["template"]["spec"]["terminationGracePeriod"] = grace
    if spec.weight is not None:
        out["weight"] = spec.weight
    return out


class KarpenterGpuPool(pulumi.ComponentResource):
    node_pool_name: str

    def __init__(self, name: str, args: KarpenterGpuPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:KarpenterGpuPool", name, None, opts)
        spec = args.spec
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.controller])
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass", api_version=NODECLASS_API, kind="EC2NodeClass",
            metadata={"name": spec.name},
            spec=pulumi.Output.all(args.node_role_name, placement_group(args)).apply(
                lambda v: node_class_spec(args, v[0], v[1])),
            opts=k8s_opts)
        efa = efa_interfaces(spec)
        metadata_labels = {LABEL_CLUSTER: args.cluster_name, LABEL_REGION: args.region, LABEL_POOL: spec.name,
                           **({LABEL_CRITICAL: "true"} if spec.production_critical else {}),
                           **({LABEL_EFA_INTERFACES: str(efa)} if efa else {})}
        k8s.apiextensions.CustomResource(
            f"{name}-nodepool", api_version=NODEPOOL_API, kind="NodePool",
            metadata={"name": spec.name, "labels": metadata_labels},
            spec=node_pool_spec(args),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[args.controller, node_class]))
        self.node_pool_name = spec.name
        self.register_outputs({"node_pool_name": self.node_pool_name})
