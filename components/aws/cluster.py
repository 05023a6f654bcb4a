"""A hardened EKS cluster for GPU work: IAM, KMS, logs, access entries, managed add-ons, system nodes, provider.

API authentication only, with no implicit creator admin: a configured principal gets cluster admin through
an access entry. Private endpoint (public only from listed CIDRs), secrets encrypted with the cluster's own
KMS key, control-plane logs, an upgrade policy, zonal shift. vpc-cni and the Pod Identity agent come up
before any node; kube-proxy, CoreDNS and the EBS CSI driver (Pod Identity) after the system node group.
The Kubernetes provider authenticates with `aws eks get-token`, never with a stored credential.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.iam import managed, partition_of, trust
from components.aws.network import DISCOVERY_TAG
from components.config.eks import EksCluster, SupportType

CONTROLLER_LABEL = "karpenter.sh/controller"
"""Label of the system node group; the Karpenter controller is pinned to it (never to nodes it manages)."""
ADDONS_BEFORE_COMPUTE = ("vpc-cni", "eks-pod-identity-agent")
"""Networking and Pod Identity must run before the first node joins (terraform-aws-eks `before_compute`)."""
ADDONS_AFTER_COMPUTE = ("kube-proxy", "coredns")
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
LOG_RETENTION_DAYS = 90


@dataclass(frozen=True)
class EksClusterArgs:
    region: str
    """AWS region of the cluster (the provider's region must match; the kubeconfig names it)."""
    spec: EksCluster
    """The cluster's validated config."""
    kubernetes_version: str
    admin_principal_arn: str
    """IAM role or user that gets AmazonEKSClusterAdminPolicy through an access entry."""
    deletion_protection: bool
    support_type: SupportType
    zonal_shift: bool
    subnet_ids: list[pulumi.Input[str]]
    """Private subnets, one per zone: control-plane ENIs and system nodes go there."""
    tags: dict[str, str]


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that gets a token from `aws eks get-token` (the caller's AWS credentials), never a stored one."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
            "interactiveMode": "Never"}}}],
    })


class EksClusterComponent(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    system_nodes: aws.eks.NodeGroup
    """The managed node group for system pods; in-cluster software that must start first depends on it."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:EksCluster", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        partition = partition_of(args.admin_principal_arn)
        tags = {**args.tags, "gpu-fleet/cluster": spec.name}

        role = aws.iam.Role(f"{name}-cluster-role", assume_role_policy=trust("eks.amazonaws.com", tag_session=True),
                            tags=tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-cluster-policy", role=role.name,
                                     policy_arn=managed(partition, "AmazonEKSClusterPolicy"), opts=child)
        key = aws.kms.Key(f"{name}-secrets-key", description=f"EKS secrets encryption for {spec.name}",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags, opts=child)
        aws.kms.Alias(f"{name}-secrets-key", name=f"alias/eks/{spec.name}", target_key_id=key.key_id, opts=child)
        kms_use = aws.iam.RolePolicy(
            f"{name}-cluster-kms", role=role.name,
            policy=key.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": arn,
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]}]})),
            opts=child)
        logs = aws.cloudwatch.LogGroup(f"{name}-logs", name=f"/aws/eks/{spec.name}/cluster",
                                       retention_in_days=LOG_RETENTION_DAYS, tags=tags, opts=child)

        public = bool(spec.public_access_cidrs)
        cluster = aws.eks.Cluster(
            name,
            name=spec.name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False),
            bootstrap_self_managed_addons=False,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(spec.public_access_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn), resources=["secrets"]),
            enabled_cluster_log_types=[t.value for t in spec.log_types],
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type=args.support_type.value),
            zonal_shift_config=aws.eks.ClusterZonalShiftConfigArgs(enabled=args.zonal_shift),
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(ip_family="ipv4"),
            deletion_protection=args.deletion_protection,
            tags=tags,
            # Changing bootstrap flags replaces the cluster; they only matter at creation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, kms_use],
                                        ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"]),
        )
        # Karpenter's EC2NodeClass selects the EKS-made cluster security group (all traffic between nodes and
        # the control plane, and node-to-node for EFA) by this tag.
        aws.ec2.Tag(f"{name}-sg-discovery", resource_id=cluster.vpc_config.cluster_security_group_id,
                    key=DISCOVERY_TAG, value=spec.name, opts=child)

        admin = aws.eks.AccessEntry(f"{name}-admin", cluster_name=cluster.name,
                                    principal_arn=args.admin_principal_arn, type="STANDARD", tags=tags, opts=child)
        aws.eks.AccessPolicyAssociation(
            f"{name}-admin", cluster_name=cluster.name, principal_arn=args.admin_principal_arn,
            policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]))

        before = [self._addon(name, cluster, addon, tags) for addon in ADDONS_BEFORE_COMPUTE]

        node_role = aws.iam.Role(f"{name}-system-role", assume_role_policy=trust("ec2.amazonaws.com"), tags=tags,
                                 opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-system-{policy.lower()}", role=node_role.name,
                                         policy_arn=managed(partition, policy), opts=child)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
        ]
        sn = spec.system_nodes
        self.system_nodes = aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_group_name="system",
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=[sn.instance_type],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=sn.min_size, min_size=sn.min_size, max_size=sn.max_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
            labels={CONTROLLER_LABEL: "true", "gpu-fleet/role": "system"},
            tags=tags,
            # The desired size is the autoscaler's (or an operator's) once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*before, *attachments],
                                        ignore_changes=["scalingConfig.desiredSize"]),
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.system_nodes])
        for addon in ADDONS_AFTER_COMPUTE:
            self._addon(name, cluster, addon, tags, after)
        ebs_role = aws.iam.Role(f"{name}-ebs-csi-role", assume_role_policy=trust("pods.eks.amazonaws.com",
                                                                                   tag_session=True),
                                tags=tags, opts=child)
        ebs_policy = aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy", role=ebs_role.name,
            policy_arn=managed(partition, "service-role/AmazonEBSCSIDriverPolicy"), opts=child)
        ebs = self._addon(name, cluster, EBS_CSI_ADDON, tags,
                          pulumi.ResourceOptions(parent=self, depends_on=[self.system_nodes, ebs_policy]),
                          pod_identity=[aws.eks.AddonPodIdentityAssociationArgs(
                              role_arn=ebs_role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT)])

        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        region = args.region
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: kubeconfig(v[0], v[1], v[2] or "", region)))
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=child)
        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata={"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs]),
        )
        self.register_outputs({"cluster_name": self.cluster_name, "cluster_arn": self.cluster_arn,
                               "endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

    def _addon(self, name: str, cluster: aws.eks.Cluster, addon: str, tags: dict[str, str],
               opts: pulumi.ResourceOptions | None = None, *,
               pod_identity: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None) -> aws.eks.Addon:
        # No addon_version: EKS installs the default version for the cluster's Kubernetes version.
        return aws.eks.Addon(
            f"{name}-{addon}", cluster_name=cluster.name, addon_name=addon,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=pod_identity, tags=tags,
            opts=opts or pulumi.ResourceOptions(parent=self))
