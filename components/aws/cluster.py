"""A hardened EKS cluster for GPU work: IAM, KMS, logs, access entries, managed add-ons, system nodes, provider.

API authentication only, with no implicit creator admin: the admin principal and the identity that deploys get
cluster admin through access entries, the identity that previews gets read-only view. Private endpoint (public
only from listed CIDRs), HTTPS to it from the CI runner's private networks, secrets and control-plane logs
encrypted with the cluster's own KMS keys under explicit key policies, an upgrade policy, zonal shift. vpc-cni
(on its own Pod Identity role) and the Pod Identity agent come up before any node; kube-proxy, CoreDNS, the EBS
CSI driver and the node monitoring agent after the system node group (IMDSv2, one hop, through a launch template).
The node group follows the cluster's Kubernetes version and every add-on is pinned for it (components/versions.py,
overridable per stack), never resolved to "most recent" at deploy time. The Kubernetes provider authenticates
with `aws eks get-token`, never with a stored credential, and waits for the access policies to propagate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumiverse_time as time

from components.aws.iam import cluster_access_policy, key_policy, logs_key_policy, managed, partition_of, trust
from components.aws.network import DISCOVERY_TAG
from components.config.eks import EksCluster, SupportType
from components.kubernetes.conventions import GPU_TAINT, POOL_TOLERATION

CONTROLLER_LABEL = "karpenter.sh/controller"
"""Label of the system node group; the Karpenter controller is pinned to it (never to nodes it manages)."""
ADDONS_BEFORE_COMPUTE = ("vpc-cni", "eks-pod-identity-agent")
"""Networking and Pod Identity must run before the first node joins (terraform-aws-eks `before_compute`)."""
ADDONS_AFTER_COMPUTE = ("kube-proxy", "coredns", "eks-node-monitoring-agent")
"""The node monitoring agent reports GPU (XID, NVLink), kernel, network and storage faults as node conditions,
which the managed node group's and Karpenter's node repair act on (EKS user guide, "Detect node health issues and
enable automatic node repair"; ai-on-eks installs it by default)."""
NODE_MONITORING_AGENT = "eks-node-monitoring-agent"
NODE_MONITORING_CONFIGURATION = {"dcgmAgent": {"tolerations": [
    {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"}, dict(POOL_TOLERATION)]}}
"""The agent's `configuration_values`. Its chart's node agent tolerates every taint, but its `dcgm-server`
DaemonSet (the DCGM host engine the GPU health checks read) tolerates none (`dcgmAgent.tolerations: []`), so on
tainted GPU nodes it never runs and `AcceleratedHardwareReady` has nothing to report (aws/containers-roadmap#2567).
`dcgmAgent.tolerations` is in the add-on's configuration schema (aws/eks-node-monitoring-agent @51af549 and at the
v1.7.0 release commit c399089, charts/configuration.schema.json `DCGMAgent`, additionalProperties false; chart
values.yaml and templates/dcgm-daemonset.yaml). The GPU taint and the dedicated-pool taint, as the other GPU node
agents tolerate them."""
VPC_CNI = "vpc-cni"
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
"""The VPC CNI's DaemonSet runs as kube-system/aws-node; its Pod Identity role replaces AmazonEKS_CNI_Policy on the
node role (EKS user guide, "IAM roles for Amazon EKS add-ons", whose example is the VPC CNI, and "Use Pod Identities
to assign an IAM role to an Amazon EKS add-on")."""
EBS_CSI_ADDON = "aws-ebs-csi-driver"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
ACCESS_PROPAGATION = "30s"
"""Access entries and policy associations take effect within seconds but not at once (as GKE's IAM wait, a
short sleep keeps the first Kubernetes request from racing them; review B3)."""
SYSTEM_NODE_GROUP_PREFIX = "system-"
"""EKS names the group `system-<suffix>`: a replacement (launch template id, instance types) is created before
the old group is deleted, where a fixed name would have to delete first and take the Karpenter controller down."""


@dataclass(frozen=True)
class EksClusterArgs:
    region: str
    """AWS region of the cluster (the provider's region must match; the kubeconfig names it)."""
    spec: EksCluster
    """The cluster's validated config."""
    kubernetes_version: str
    """The control plane's Kubernetes minor; the system node group follows it."""
    addon_versions: dict[str, str]
    """Each managed add-on's version for that minor (components.versions.eks_addon_versions: the pin, or the
    stack's override), validated to cover every add-on."""
    admin_principal_arn: str
    """IAM role or user that gets AmazonEKSClusterAdminPolicy through an access entry."""
    deletion_protection: bool
    """EKS deletion protection on the cluster."""
    support_type: SupportType
    """The upgrade policy: standard or extended support."""
    zonal_shift: bool
    """EKS zonal shift for the control plane's zonal resources."""
    subnet_ids: list[pulumi.Input[str]]
    """Private subnets, one per zone: control-plane ENIs and system nodes go there."""
    tags: dict[str, str]
    """Tags for every AWS resource of the cluster."""
    deploy_principal_arn: str | None = None
    """The identity `pulumi up` runs as, given cluster admin; None: the caller's session issuer ARN."""
    preview_principal_arn: str | None = None
    """The identity previews run as, given read-only view; None: no entry of its own."""


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
    access_ready: time.Sleep
    """Done once every access policy association exists and has had time to propagate; the provider waits for it."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:EksCluster", name, None, opts)
        spec = args.spec
        partition = partition_of(args.admin_principal_arn)
        tags = {**args.tags, "gpu-fleet/cluster": spec.name}
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        role, kms_use, key = self._control_plane_identity(name, spec, partition, account, tags)
        logs = self._log_group(name, args.region, spec, partition, account, tags)
        cluster = self._control_plane(name, args, role, key, [logs, kms_use], tags)
        self._deploy_path(name, spec, cluster)
        self.access_ready = self._access(name, args, cluster, partition, tags)
        versions = args.addon_versions
        before = self._addons_before_compute(name, cluster, partition, versions, tags)
        self.system_nodes = self._system_pool(name, args, cluster, partition, before, tags)
        ebs = self._addons_after_compute(name, cluster, partition, versions, tags)
        self._kubeconfig_and_provider(name, args.region, cluster)
        self._storage_class(name, ebs)
        self.register_outputs({"cluster_name": self.cluster_name, "cluster_arn": self.cluster_arn,
                               "endpoint": self.endpoint, "kubeconfig": self.kubeconfig})

    def _addons_before_compute(self, name: str, cluster: aws.eks.Cluster, partition: str, versions: dict[str, str],
                               tags: dict[str, str]) -> list[aws.eks.Addon]:
        """vpc-cni (on its own Pod Identity role) and the Pod Identity agent, which the first node needs."""
        cni_role, cni_policy = self._pod_identity_role(name, "vpc-cni", managed(partition, "AmazonEKS_CNI_Policy"),
                                                       tags)
        cni = aws.eks.AddonPodIdentityAssociationArgs(role_arn=cni_role.arn, service_account=VPC_CNI_SERVICE_ACCOUNT)
        return [self._addon(name, cluster, addon, versions, tags,
                            pod_identity=[cni] if addon == VPC_CNI else None,
                            after=[cni_policy] if addon == VPC_CNI else [])
                for addon in ADDONS_BEFORE_COMPUTE]

    def _addons_after_compute(self, name: str, cluster: aws.eks.Cluster, partition: str, versions: dict[str, str],
                              tags: dict[str, str]) -> aws.eks.Addon:
        """kube-proxy, CoreDNS and the node monitoring agent on the system nodes, then the EBS CSI driver.

        Returns the EBS CSI driver's add-on: the gp3 StorageClass waits for it.
        """
        for addon in ADDONS_AFTER_COMPUTE:
            self._addon(name, cluster, addon, versions, tags, after=[self.system_nodes])
        return self._ebs_csi(name, cluster, partition, versions, tags)

    def _control_plane_identity(self, name: str, spec: EksCluster, partition: str, account: pulumi.Output[str],
                                tags: dict[str, str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy, aws.kms.Key]:
        """The cluster role and the secrets key whose policy admits only the account's key admins and that role."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-cluster-role", assume_role_policy=trust("eks.amazonaws.com", tag_session=True),
                            tags=tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-cluster-policy", role=role.name,
                                     policy_arn=managed(partition, "AmazonEKSClusterPolicy"), opts=child)
        key = aws.kms.Key(f"{name}-secrets-key", description=f"EKS secrets encryption for {spec.name}",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
                          policy=pulumi.Output.all(account, role.arn).apply(
                              lambda v: key_policy(partition, v[0], users=[v[1]])),
                          opts=child)
        aws.kms.Alias(f"{name}-secrets-key", name=f"alias/eks/{spec.name}", target_key_id=key.key_id, opts=child)
        kms_use = aws.iam.RolePolicy(
            f"{name}-cluster-kms", role=role.name,
            policy=key.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": arn,
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]}]})),
            opts=child)
        return role, kms_use, key

    def _log_group(self, name: str, region: str, spec: EksCluster, partition: str, account: pulumi.Output[str],
                   tags: dict[str, str]) -> aws.cloudwatch.LogGroup:
        """The control-plane log group EKS writes to, encrypted with a key only CloudWatch Logs may use for it."""
        child = pulumi.ResourceOptions(parent=self)
        group = f"/aws/eks/{spec.name}/cluster"
        key = aws.kms.Key(f"{name}-logs-key", description=f"EKS control-plane logs of {spec.name}",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=tags,
                          policy=account.apply(lambda acct: logs_key_policy(partition, acct, region, group)),
                          opts=child)
        return aws.cloudwatch.LogGroup(f"{name}-logs", name=group, retention_in_days=spec.log_retention_days,
                                       kms_key_id=key.arn, tags=tags, opts=child)

    def _control_plane(self, name: str, args: EksClusterArgs, role: aws.iam.Role, key: aws.kms.Key,
                       ready: list[pulumi.Resource], tags: dict[str, str]) -> aws.eks.Cluster:
        spec = args.spec
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=ready,
                                        ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"]),
        )
        # Karpenter's EC2NodeClass selects the EKS-made cluster security group (all traffic between nodes and
        # the control plane, and node-to-node for EFA) by this tag.
        aws.ec2.Tag(f"{name}-sg-discovery", resource_id=cluster.vpc_config.cluster_security_group_id,
                    key=DISCOVERY_TAG, value=spec.name, opts=pulumi.ResourceOptions(parent=self))
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.endpoint = cluster.endpoint
        return cluster

    def _deploy_path(self, name: str, spec: EksCluster, cluster: aws.eks.Cluster) -> None:
        """HTTPS from CI's in-VPC runner to the private endpoint.

        EKS's cluster security group admits only its own members, so a runner in its own group (a CodeBuild
        project's ENIs) is otherwise refused.
        """
        if spec.deploy_from is None:
            return
        for cidr in spec.deploy_from.private_cidrs:
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-deploy-{cidr.replace('/', '-').replace('.', '-')}",
                security_group_id=cluster.vpc_config.cluster_security_group_id,
                description="CI runner to the EKS API (deploy_from.private_cidrs)",
                cidr_ipv4=cidr, ip_protocol="tcp", from_port=443, to_port=443,
                opts=pulumi.ResourceOptions(parent=self))

    def _access(self, name: str, args: EksClusterArgs, cluster: aws.eks.Cluster, partition: str,
                tags: dict[str, str]) -> time.Sleep:
        """Access entries, one per principal (EKS refuses a second), and the wait for them to propagate.

        Cluster admin for the admin principal and the deploying identity, view for the previewing one.
        """
        deploy: pulumi.Input[str] = args.deploy_principal_arn or _caller_issuer(self)
        grants: list[tuple[str, pulumi.Input[str], str]] = [("admin", args.admin_principal_arn,
                                                             "AmazonEKSClusterAdminPolicy")]
        if deploy != args.admin_principal_arn:
            grants.append(("deploy", deploy, "AmazonEKSClusterAdminPolicy"))
        preview = args.preview_principal_arn
        if preview is not None and preview not in (args.admin_principal_arn, deploy):
            # Read-only: AmazonEKSViewPolicy reads most objects but not Secrets (EKS user guide, "Review access
            # policy permissions"). SSA previews fall back to a client-side diff without `patch` (pulumi-kubernetes
            # PR #2419).
            grants.append(("preview", preview, "AmazonEKSViewPolicy"))
        associations = [self._grant(name, role, principal, policy, cluster, partition, tags)
                        for role, principal, policy in grants]
        return time.Sleep(f"{name}-access-propagation", create_duration=ACCESS_PROPAGATION,
                          opts=pulumi.ResourceOptions(parent=self, depends_on=associations))

    def _grant(self, name: str, role: str, principal: pulumi.Input[str], policy: str, cluster: aws.eks.Cluster,
               partition: str, tags: dict[str, str]) -> aws.eks.AccessPolicyAssociation:
        # `<cluster>-admin` keeps the logical name the admin entry always had.
        entry = aws.eks.AccessEntry(f"{name}-{role}", cluster_name=cluster.name, principal_arn=principal,
                                    type="STANDARD", tags=tags, opts=pulumi.ResourceOptions(parent=self))
        return aws.eks.AccessPolicyAssociation(
            f"{name}-{role}", cluster_name=cluster.name, principal_arn=principal,
            policy_arn=cluster_access_policy(partition, policy),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[entry]))

    def _pod_identity_role(self, name: str, role: str, policy_arn: str,
                           tags: dict[str, str]) -> tuple[aws.iam.Role, aws.iam.RolePolicyAttachment]:
        child = pulumi.ResourceOptions(parent=self)
        iam_role = aws.iam.Role(f"{name}-{role}-role", assume_role_policy=trust("pods.eks.amazonaws.com",
                                                                                 tag_session=True),
                                tags=tags, opts=child)
        return iam_role, aws.iam.RolePolicyAttachment(f"{name}-{role}-policy", role=iam_role.name,
                                                      policy_arn=policy_arn, opts=child)

    def _system_pool(self, name: str, args: EksClusterArgs, cluster: aws.eks.Cluster, partition: str,
                     before: list[aws.eks.Addon], tags: dict[str, str]) -> aws.eks.NodeGroup:
        """The managed node group for system pods, on the cluster's Kubernetes version, IMDSv2 with one hop."""
        child = pulumi.ResourceOptions(parent=self)
        node_role = aws.iam.Role(f"{name}-system-role", assume_role_policy=trust("ec2.amazonaws.com"), tags=tags,
                                 opts=child)
        # No AmazonEKS_CNI_Policy: vpc-cni has its own Pod Identity role (VPC_CNI_SERVICE_ACCOUNT), so pods on
        # these nodes cannot borrow its permissions through the node role (review M5).
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-system-{policy.lower()}", role=node_role.name,
                                         policy_arn=managed(partition, policy), opts=child)
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
        ]
        # Pods on system nodes must not reach the node role's credentials through IMDS: tokens required, one hop
        # (a pod's network namespace is the second). EKS Best Practices Guide, security: "Restrict access to the
        # instance profile assigned to the worker node".
        template = aws.ec2.LaunchTemplate(
            f"{name}-system", description=f"System nodes of EKS cluster {args.spec.name}",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1),
            update_default_version=True, tags=tags, opts=child)
        sn = args.spec.system_nodes
        return aws.eks.NodeGroup(
            f"{name}-system",
            cluster_name=cluster.name,
            node_group_name_prefix=SYSTEM_NODE_GROUP_PREFIX,
            version=args.kubernetes_version,
            node_role_arn=node_role.arn,
            subnet_ids=args.subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=[sn.instance_type],
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id,
                                                                version=template.latest_version.apply(str)),
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

    def _ebs_csi(self, name: str, cluster: aws.eks.Cluster, partition: str, versions: dict[str, str],
                 tags: dict[str, str]) -> aws.eks.Addon:
        role, policy = self._pod_identity_role(name, "ebs-csi", managed(partition,
                                                                        "service-role/AmazonEBSCSIDriverPolicy"), tags)
        return self._addon(name, cluster, EBS_CSI_ADDON, versions, tags, after=[self.system_nodes, policy],
                           pod_identity=[aws.eks.AddonPodIdentityAssociationArgs(
                               role_arn=role.arn, service_account=EBS_CSI_SERVICE_ACCOUNT)])

    def _kubeconfig_and_provider(self, name: str, region: str, cluster: aws.eks.Cluster) -> None:
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
                lambda v: kubeconfig(v[0], v[1], v[2] or "", region)))
        # Every Kubernetes object of the cluster uses this provider, so none is sent before the access policies
        # exist and have propagated (review B3: nine objects raced the access entry on a fresh stack).
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self.access_ready]))

    def _storage_class(self, name: str, ebs: aws.eks.Addon) -> None:
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

    def _addon(self, name: str, cluster: aws.eks.Cluster, addon: str, versions: dict[str, str],
               tags: dict[str, str], *, after: list[pulumi.Resource] | None = None,
               pod_identity: list[aws.eks.AddonPodIdentityAssociationArgs] | None = None) -> aws.eks.Addon:
        """One managed add-on at its pinned version, created after `after` (its role, the nodes it runs on)."""
        configuration = NODE_MONITORING_CONFIGURATION if addon == NODE_MONITORING_AGENT else None
        return aws.eks.Addon(
            f"{name}-{addon}", cluster_name=cluster.name, addon_name=addon, addon_version=versions[addon],
            configuration_values=json.dumps(configuration) if configuration else None,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=pod_identity, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after or []))


def _caller_issuer(parent: pulumi.Resource) -> pulumi.Output[str]:
    """The IAM role (or user) behind the caller's session.

    For an assumed role, the role's ARN, not the session's
    (terraform-aws-eks `enable_cluster_creator_admin_permissions`: aws_iam_session_context.issuer_arn).
    """
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    caller = aws.get_caller_identity_output(opts=invoke)
    return aws.iam.get_session_context_output(arn=caller.arn, opts=invoke).issuer_arn
