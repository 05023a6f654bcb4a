"""Karpenter on an EKS cluster: node and controller IAM, Pod Identity, the interruption queue, and the two charts.

The controller's permissions are the six policies of Karpenter's official CloudFormation template (v1.14
getting started, statement for statement); nodes get an `EC2_LINUX` access entry. Spot interruptions, health
events, rebalance recommendations, state changes and capacity-reservation interruptions reach the controller
through an SQS queue. `karpenter-crd` manages the CRDs (upgraded with the controller); `karpenter` skips them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import images, versions
from components.aws.cluster import CONTROLLER_LABEL
from components.aws.iam import managed, trust

NAMESPACE = "kube-system"
"""Karpenter's documented namespace (its API priority and fairness FlowSchemas cover kube-system)."""
SERVICE_ACCOUNT = "karpenter"
INTERRUPTION_EVENTS = {
    "health": ("aws.health", "AWS Health Event"),
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
    "reservation-interruption": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning"),
}
"""EventBridge rule (stable key) -> source and detail-type, as the CloudFormation template routes them."""
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore")
"""The node role's managed policies. No AmazonEKS_CNI_Policy: vpc-cni runs on its own Pod Identity role
(components/aws/cluster.py), and the node role needs the CNI's permissions only when they are not granted through
IRSA or Pod Identity (EKS user guide, "Amazon EKS node IAM role"). A new node's aws-node gets them from the Pod
Identity agent, a host-network DaemonSet that needs no pod networking and authenticates with this role's
AmazonEKSWorkerNodePolicy ("also provides the permissions for the Amazon EKS Pod Identity Agent", same page); the
system node group runs that way already. Attached here, the CNI policy would let any pod that reaches IMDS create
and delete network interfaces (review M5)."""


@dataclass(frozen=True)
class KarpenterArgs:
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    region: str
    partition: str
    """`aws` (or `aws-cn`, `aws-us-gov`): ARNs in the controller's policies name it."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    system_nodes: pulumi.Resource
    """The node group the controller runs on; the charts wait for it."""
    zonal_shift: bool
    tags: dict[str, str]
    prometheus_operator: pulumi.Resource | None = None
    """The release that installs the monitoring.coreos.com CRDs; set, the chart's ServiceMonitor is on and the
    chart waits for it."""


def controller_policies(*, cluster: str, cluster_arn: str, region: str, partition: str, account: str,
                        node_role_arn: str, queue_arn: str) -> dict[str, dict[str, Any]]:
    """The controller's six policy documents, as Karpenter's v1.14 CloudFormation template writes them."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    request_owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned",
                     "aws:RequestTag/eks:eks-cluster-name": cluster}
    launched = [f"{ec2}:*:{kind}/*" for kind in ("fleet", "instance", "volume", "network-interface", "launch-template",
                                                 "spot-instances-request")]
    profiles = f"arn:{partition}:iam::{account}:instance-profile/*"
    region_tag = {"aws:ResourceTag/topology.kubernetes.io/region": region}

    def doc(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": list(statements)}

    return {
        "node-lifecycle": doc(
            {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow",
             "Resource": [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*", f"{ec2}:*:subnet/*",
                          f"{ec2}:*:capacity-reservation/*", f"{ec2}:*:placement-group/*"],
             "Action": ["ec2:RunInstances", "ec2:CreateFleet"]},
            {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow",
             "Resource": f"{ec2}:*:launch-template/*", "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
             "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow", "Resource": launched,
             "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
             "Condition": {"StringEquals": request_owned,
                           "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow", "Resource": launched,
             "Action": "ec2:CreateTags",
             "Condition": {"StringEquals": {
                               **request_owned, "ec2:CreateAction": ["RunInstances", "CreateFleet",
                                                                     "CreateLaunchTemplate"]},
                           "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
            {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Resource": f"{ec2}:*:instance/*",
             "Action": "ec2:CreateTags",
             "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                           "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                           "ForAllValues:StringEquals": {
                               "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}},
            {"Sid": "AllowScopedDeletion", "Effect": "Allow",
             "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
             "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
             "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
        ),
        "iam-integration": doc(
            {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Resource": node_role_arn,
             "Action": "iam:PassRole",
             "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}},
            {"Sid": "AllowScopedInstanceProfileCreationActions", "Effect": "Allow", "Resource": profiles,
             "Action": ["iam:CreateInstanceProfile"],
             "Condition": {"StringEquals": {**request_owned, "aws:RequestTag/topology.kubernetes.io/region": region},
                           "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
            {"Sid": "AllowScopedInstanceProfileTagActions", "Effect": "Allow", "Resource": profiles,
             "Action": ["iam:TagInstanceProfile"],
             "Condition": {"StringEquals": {**owned, **region_tag, **request_owned,
                                            "aws:RequestTag/topology.kubernetes.io/region": region},
                           "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                                          "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
            {"Sid": "AllowScopedInstanceProfileActions", "Effect": "Allow", "Resource": profiles,
             "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile",
                        "iam:DeleteInstanceProfile"],
             "Condition": {"StringEquals": {**owned, **region_tag},
                           "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        ),
        "eks-integration": doc(
            {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Resource": cluster_arn,
             "Action": "eks:DescribeCluster"}),
        "interruption": doc(
            {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": queue_arn,
             "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]}),
        "zonal-shift": doc(
            {"Sid": "AllowZonalShiftStatusReadOnly", "Effect": "Allow", "Resource": "*",
             "Action": ["arc-zonal-shift:GetManagedResource"],
             "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}}}),
        "resource-discovery": doc(
            {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*",
             "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                        "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings",
                        "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups",
                        "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
             "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
            {"Sid": "AllowSSMReadActions", "Effect": "Allow",
             "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*", "Action": "ssm:GetParameter"},
            {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
            {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*",
             "Action": "iam:ListInstanceProfiles"},
            {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Resource": profiles,
             "Action": "iam:GetInstanceProfile"}),
    }


def queue_policy(queue_arn: str) -> str:
    """EventBridge (and SQS) may send to the queue; nothing may use it without TLS."""
    return json.dumps({"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
         "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Action": "sqs:*", "Resource": queue_arn, "Principal": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


SERVICE_MONITOR_LABELS = {"release": "kube-prometheus-stack"}
"""kube-prometheus-stack's default ServiceMonitor selector (`release: <release>`). gpu-fleet's Prometheus selects
every ServiceMonitor (components.kubernetes.monitoring.prometheus_stack), so this only keeps the monitor found if
someone restores the chart's default selector."""


def karpenter_values(*, cluster: pulumi.Input[str], queue: pulumi.Input[str], zonal_shift: bool,
                     service_monitor: bool = True) -> dict[str, Any]:
    """Chart values (every key exists in the 1.14.1 chart's values.yaml; tests check it)."""
    resources = {"cpu": "1", "memory": "1Gi"}
    return images.chart_image_values(versions.KARPENTER.chart, {
        "settings": {"clusterName": cluster, "interruptionQueue": queue, "enableZonalShift": zonal_shift,
                     "featureGates": {
                         "reservedCapacity": True,
                         # ALPHA, off by default (values.yaml:231-233): replaces nodes whose conditions from the
                         # EKS node monitoring agent stay unhealthy (AcceleratedHardwareReady False for 10m,
                         # NetworkingReady, StorageReady, KernelReady ... for 30m: v1.14.1
                         # pkg/cloudprovider/cloudprovider.go RepairPolicies). nodeOverlay stays off: no pool
                         # needs one (the fabric check requests no huge pages, gpufleet/fabric_check.py).
                         "nodeRepair": True,
                     }},
        "controller": {"resources": {"requests": resources, "limits": resources}},
        "nodeSelector": {CONTROLLER_LABEL: "true"},
        # Resolves through the node's resolver, so the controller starts before CoreDNS has capacity.
        "dnsPolicy": "Default",
        "replicas": 2,
        # The controller's metrics (NodeClaim launches, ICE, reservations) for the Karpenter alert rules.
        "serviceMonitor": {"enabled": service_monitor, "additionalLabels": SERVICE_MONITOR_LABELS},
    })


class Karpenter(pulumi.ComponentResource):
    node_role_name: pulumi.Output[str]
    """The role every Karpenter node gets (EC2NodeClass `spec.role`)."""
    queue_name: pulumi.Output[str]
    chart: k8s.helm.v3.Release
    """The controller release; NodePools and EC2NodeClasses wait for it (and thereby for the CRDs)."""

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Karpenter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.tags

        node_role = aws.iam.Role(f"{name}-node-role", assume_role_policy=trust("ec2.amazonaws.com"), tags=tags,
                                 opts=child)
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(f"{name}-node-{policy.lower()}", role=node_role.name,
                                         policy_arn=managed(args.partition, policy), opts=child)
        aws.eks.AccessEntry(f"{name}-node-access", cluster_name=args.cluster_name, principal_arn=node_role.arn,
                            type="EC2_LINUX", tags=tags, opts=child)

        queue = aws.sqs.Queue(f"{name}-interruptions", message_retention_seconds=300, sqs_managed_sse_enabled=True,
                              tags=tags, opts=child)
        aws.sqs.QueuePolicy(f"{name}-interruptions", queue_url=queue.url, policy=queue.arn.apply(queue_policy),
                            opts=child)
        for key, (source, detail) in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(f"{name}-{key}", event_pattern=json.dumps(
                {"source": [source], "detail-type": [detail]}), tags=tags, opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{key}", rule=rule.name, arn=queue.arn,
                                       target_id="KarpenterInterruptionQueueTarget", opts=child)

        controller_role = aws.iam.Role(f"{name}-controller-role",
                                       assume_role_policy=trust("pods.eks.amazonaws.com", tag_session=True),
                                       tags=tags, opts=child)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        documents = pulumi.Output.all(args.cluster_name, args.cluster_arn, account, node_role.arn, queue.arn).apply(
            lambda v: controller_policies(cluster=v[0], cluster_arn=v[1], region=args.region,
                                          partition=args.partition, account=v[2], node_role_arn=v[3],
                                          queue_arn=v[4]))
        attached: list[pulumi.Resource] = []
        for key in ("node-lifecycle", "iam-integration", "eks-integration", "interruption", "zonal-shift",
                    "resource-discovery"):
            document: pulumi.Output[str] = documents.apply(lambda d, k=key: json.dumps(d[k]))  # type: ignore[misc]
            grant = aws.iam.Policy(f"{name}-{key}", policy=document, tags=tags, opts=child)
            attached.append(aws.iam.RolePolicyAttachment(f"{name}-{key}", role=controller_role.name,
                                                         policy_arn=grant.arn, opts=child))
        identity = aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity", cluster_name=args.cluster_name, namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT, role_arn=controller_role.arn, tags=tags, opts=child)

        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.system_nodes])
        crds = k8s.helm.v3.Release(
            f"{name}-crd", name="karpenter-crd", chart=versions.KARPENTER_CRD.chart,
            version=versions.KARPENTER_CRD.version, namespace=NAMESPACE, atomic=True, opts=on_cluster)
        self.chart = k8s.helm.v3.Release(
            f"{name}-chart", name="karpenter", chart=versions.KARPENTER.chart, version=versions.KARPENTER.version,
            namespace=NAMESPACE, skip_crds=True, atomic=True,
            values=karpenter_values(cluster=args.cluster_name, queue=queue.name, zonal_shift=args.zonal_shift,
                                    service_monitor=args.prometheus_operator is not None),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[args.system_nodes, crds, identity, *attached,
                                                    *([args.prometheus_operator] if args.prometheus_operator
                                                      else [])]))

        self.node_role_name = node_role.name
        self.queue_name = queue.name
        self.register_outputs({"node_role_name": self.node_role_name, "queue_name": self.queue_name})
