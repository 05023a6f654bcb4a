"""EFA for an EKS cluster's training pools: its security group, a placement group per pool, the device plugin.

EFA only passes traffic a security group allows both ways between its members: one group with self-referencing
all-traffic ingress and egress rules (terraform-aws-eks `all_self_efa`), which EFA pools' EC2NodeClasses select by
tag. EFA pools without reserved capacity get a `cluster` placement group (their EC2NodeClass selects it by name);
reserved pools get none unless they name the group their reservation was made in (components.config.eks). The
device plugin (`aws-efa-k8s-device-plugin`, pinned) advertises `vpc.amazonaws.com/efa`; it tolerates the GPU and
pool taints and runs only on nodes labelled as EFA nodes, since it crash-loops on EFA-capable instances launched
without EFA interfaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import images, versions
from components.config.eks import EksGpuPool, creates_placement_group, efa_interfaces
from components.kubernetes.conventions import GPU_TAINT, LABEL_EFA, POOL_TOLERATION

EFA_SECURITY_GROUP_TAG = "gpu-fleet/efa"
"""Tag (value: the cluster's name) by which EFA pools' EC2NodeClasses select the EFA security group."""
DEVICE_PLUGIN_NAMESPACE = "kube-system"


def placement_group_name(cluster: str, pool: str) -> str:
    """The EC2 name of a pool's cluster placement group (unique per region and account, like the cluster's name)."""
    return f"{cluster}-{pool}-efa"


def device_plugin_values() -> dict[str, Any]:
    """Chart values (every key exists in the chart's values.yaml): on EFA nodes only.

    They tolerate the GPU taint and the pool taint of dedicated pools (EFA pools are training pools).
    """
    return images.chart_image_values(versions.EFA_DEVICE_PLUGIN.chart, {
        "tolerations": [{"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"}, dict(POOL_TOLERATION)],
        "nodeSelector": {LABEL_EFA: "true"},
    })


def uses_efa(pools: list[EksGpuPool]) -> bool:
    """Whether any pool's nodes get EFA interfaces (the cluster then needs the Efa component)."""
    return any(efa_interfaces(p) for p in pools)


@dataclass(frozen=True)
class EfaArgs:
    cluster_name: str
    """The EKS cluster's name: the security group's tag value and the placement groups' prefix."""
    vpc_id: pulumi.Input[str]
    """The cluster's VPC, where the EFA security group goes."""
    pools: list[EksGpuPool]
    """The cluster's GPU pools: EFA pools get a placement group where gpu-fleet creates one
    (components.config.eks.creates_placement_group)."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider (the device plugin's chart)."""
    system_nodes: pulumi.Resource
    """The system node group: the device plugin's chart waits for nodes."""
    tags: dict[str, str]
    """Tags for every AWS resource of the cluster."""


class Efa(pulumi.ComponentResource):
    security_group_id: pulumi.Output[str]
    placement_groups: dict[str, pulumi.Output[str]]
    """Pool name -> its placement group's name (what the EC2NodeClass selects)."""

    def __init__(self, name: str, args: EfaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Efa", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, EFA_SECURITY_GROUP_TAG: args.cluster_name}
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id, description=f"EFA traffic between {args.cluster_name}'s EFA nodes",
            tags={**tags, "Name": f"{args.cluster_name}-efa"}, opts=child)
        # All traffic, both ways, between members only (ip_protocol -1: every protocol and port).
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-self-ingress", security_group_id=sg.id, referenced_security_group_id=sg.id, ip_protocol="-1",
            description="EFA: all traffic from EFA nodes", tags=args.tags, opts=child)
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-self-egress", security_group_id=sg.id, referenced_security_group_id=sg.id, ip_protocol="-1",
            description="EFA: all traffic to EFA nodes", tags=args.tags, opts=child)
        self.security_group_id = sg.id
        self.placement_groups = {}
        for pool in (p.name for p in args.pools if creates_placement_group(p)):
            group = aws.ec2.PlacementGroup(
                f"{name}-{pool}", name=placement_group_name(args.cluster_name, pool), strategy="cluster",
                tags=args.tags, opts=child)
            self.placement_groups[pool] = group.name
        pin = versions.EFA_DEVICE_PLUGIN
        k8s.helm.v3.Release(
            f"{name}-device-plugin", name=pin.chart, chart=pin.chart, version=pin.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository), namespace=DEVICE_PLUGIN_NAMESPACE,
            values=device_plugin_values(), atomic=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.system_nodes]))
        self.register_outputs({"security_group_id": self.security_group_id,
                               "placement_groups": self.placement_groups})
