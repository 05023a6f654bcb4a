"""Karpenter's AWS side: node role and access entry, interruption queue and its rules, controller role and policies.

It installs no chart, as terraform-aws-eks' `modules/karpenter` makes IAM, the queue and the EventBridge rules and
leaves the Helm release to take its outputs (`KarpenterAws`); the charts are `components.aws.karpenter`'s. The
controller's permissions are the six policies of Karpenter's official CloudFormation template (v1.14 getting
started, statement for statement), each one named block below; `CONTROLLER_POLICIES` is the one list of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

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
class PolicyScope:
    """What the controller's policy statements are scoped to."""

    cluster: str
    """The EKS cluster's name (the `kubernetes.io/cluster/<name>` and `eks:eks-cluster-name` tags)."""
    cluster_arn: str
    """The cluster's ARN (eks:DescribeCluster, zonal shift)."""
    region: str
    """The cluster's region: EC2, SSM and instance-profile statements name it."""
    partition: str
    """`aws`, `aws-cn` or `aws-us-gov`."""
    account: str
    """The account whose instance profiles the controller manages."""
    node_role_arn: str
    """The role the controller may pass to EC2."""
    queue_arn: str
    """The interruption queue."""

    @property
    def ec2(self) -> str:
        return f"arn:{self.partition}:ec2:{self.region}"

    @property
    def owned(self) -> dict[str, str]:
        return {f"aws:ResourceTag/kubernetes.io/cluster/{self.cluster}": "owned"}

    @property
    def request_owned(self) -> dict[str, str]:
        return {f"aws:RequestTag/kubernetes.io/cluster/{self.cluster}": "owned",
                "aws:RequestTag/eks:eks-cluster-name": self.cluster}

    @property
    def launched(self) -> list[str]:
        return [f"{self.ec2}:*:{kind}/*" for kind in ("fleet", "instance", "volume", "network-interface",
                                                       "launch-template", "spot-instances-request")]

    @property
    def profiles(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:instance-profile/*"


def _node_lifecycle(s: PolicyScope) -> list[dict[str, Any]]:
    ec2, owned, request_owned, launched = s.ec2, s.owned, s.request_owned, s.launched
    return [
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
                       "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": s.cluster},
                       "ForAllValues:StringEquals": {
                           "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}},
        {"Sid": "AllowScopedDeletion", "Effect": "Allow",
         "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
         "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
         "Condition": {"StringEquals": owned, "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}},
    ]


def _iam_integration(s: PolicyScope) -> list[dict[str, Any]]:
    owned, request_owned, profiles, region = s.owned, s.request_owned, s.profiles, s.region
    region_tag = {"aws:ResourceTag/topology.kubernetes.io/region": region}
    return [
        {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Resource": s.node_role_arn,
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
    ]


def _eks_integration(s: PolicyScope) -> list[dict[str, Any]]:
    return [{"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Resource": s.cluster_arn,
             "Action": "eks:DescribeCluster"}]


def _interruption(s: PolicyScope) -> list[dict[str, Any]]:
    return [{"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": s.queue_arn,
             "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]}]


def _zonal_shift(s: PolicyScope) -> list[dict[str, Any]]:
    return [{"Sid": "AllowZonalShiftStatusReadOnly", "Effect": "Allow", "Resource": "*",
             "Action": ["arc-zonal-shift:GetManagedResource"],
             "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": s.cluster_arn}}}]


def _resource_discovery(s: PolicyScope) -> list[dict[str, Any]]:
    return [
        {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*",
         "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings",
                    "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups",
                    "ec2:DescribeSecurityGroups", "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
         "Condition": {"StringEquals": {"aws:RequestedRegion": s.region}}},
        {"Sid": "AllowSSMReadActions", "Effect": "Allow",
         "Resource": f"arn:{s.partition}:ssm:{s.region}::parameter/aws/service/*", "Action": "ssm:GetParameter"},
        {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
        {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*",
         "Action": "iam:ListInstanceProfiles"},
        {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Resource": s.profiles,
         "Action": "iam:GetInstanceProfile"},
    ]


CONTROLLER_POLICIES: dict[str, Callable[[PolicyScope], list[dict[str, Any]]]] = {
    "node-lifecycle": _node_lifecycle,
    "iam-integration": _iam_integration,
    "eks-integration": _eks_integration,
    "interruption": _interruption,
    "zonal-shift": _zonal_shift,
    "resource-discovery": _resource_discovery,
}
"""The controller's six policies (stable key: each one's logical name) and their statements, in the template's
order: the one list the documents and the IAM resources both come from."""


def controller_policies(scope: PolicyScope) -> dict[str, dict[str, Any]]:
    """The controller's six policy documents, as Karpenter's v1.14 CloudFormation template writes them."""
    return {key: {"Version": "2012-10-17", "Statement": statements(scope)}
            for key, statements in CONTROLLER_POLICIES.items()}


def queue_policy(queue_arn: str) -> str:
    """EventBridge (and SQS) may send to the queue; nothing may use it without TLS."""
    return json.dumps({"Version": "2012-10-17", "Id": "EC2InterruptionPolicy", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
         "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "DenyHTTP", "Effect": "Deny", "Action": "sqs:*", "Resource": queue_arn, "Principal": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


@dataclass(frozen=True)
class KarpenterAwsArgs:
    cluster_name: pulumi.Input[str]
    """The EKS cluster's name (the controller's settings and its policies' conditions name it)."""
    cluster_arn: pulumi.Input[str]
    """The EKS cluster's ARN (eks:DescribeCluster and zonal-shift statements)."""
    region: str
    """AWS region of the cluster; the controller's EC2 and SSM statements are scoped to it."""
    partition: str
    """`aws` (or `aws-cn`, `aws-us-gov`): ARNs in the controller's policies name it."""
    tags: dict[str, str]
    """Tags for every AWS resource of the cluster."""


@dataclass(frozen=True)
class KarpenterAws:
    """What the in-cluster install takes from the AWS side (terraform-aws-eks `modules/karpenter`'s outputs)."""

    node_role: aws.iam.Role
    """The role every Karpenter node gets (EC2NodeClass `spec.role`)."""
    queue: aws.sqs.Queue
    """The interruption queue the controller reads (`settings.interruptionQueue`)."""
    identity: list[pulumi.Resource]
    """The controller's Pod Identity association and its policy attachments: the controller starts after them."""


def aws_side(name: str, args: KarpenterAwsArgs, *, parent: pulumi.Resource) -> KarpenterAws:
    """Declare Karpenter's AWS resources as children of `parent` (the Karpenter component)."""
    node_role = _node_role(name, args, parent)
    queue = _interruption_queue(name, args, parent)
    return KarpenterAws(node_role, queue, _controller_identity(name, args, node_role, queue, parent))


def _node_role(name: str, args: KarpenterAwsArgs, parent: pulumi.Resource) -> aws.iam.Role:
    """The nodes' role, its managed policies, and the EC2_LINUX access entry that lets its nodes join."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-node-role", assume_role_policy=trust("ec2.amazonaws.com"), tags=args.tags,
                        opts=child)
    for policy in NODE_POLICIES:
        aws.iam.RolePolicyAttachment(f"{name}-node-{policy.lower()}", role=role.name,
                                     policy_arn=managed(args.partition, policy), opts=child)
    aws.eks.AccessEntry(f"{name}-node-access", cluster_name=args.cluster_name, principal_arn=role.arn,
                        type="EC2_LINUX", tags=args.tags, opts=child)
    return role


def _interruption_queue(name: str, args: KarpenterAwsArgs, parent: pulumi.Resource) -> aws.sqs.Queue:
    """The SQS queue and the EventBridge rules that route interruption events to it."""
    child = pulumi.ResourceOptions(parent=parent)
    queue = aws.sqs.Queue(f"{name}-interruptions", message_retention_seconds=300, sqs_managed_sse_enabled=True,
                          tags=args.tags, opts=child)
    aws.sqs.QueuePolicy(f"{name}-interruptions", queue_url=queue.url, policy=queue.arn.apply(queue_policy),
                        opts=child)
    for key, (source, detail) in INTERRUPTION_EVENTS.items():
        rule = aws.cloudwatch.EventRule(f"{name}-{key}", event_pattern=json.dumps(
            {"source": [source], "detail-type": [detail]}), tags=args.tags, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-{key}", rule=rule.name, arn=queue.arn,
                                   target_id="KarpenterInterruptionQueueTarget", opts=child)
    return queue


def _controller_identity(name: str, args: KarpenterAwsArgs, node_role: aws.iam.Role, queue: aws.sqs.Queue,
                         parent: pulumi.Resource) -> list[pulumi.Resource]:
    """The controller's Pod Identity role, one IAM policy per `CONTROLLER_POLICIES` entry, and the association."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-controller-role", assume_role_policy=trust("pods.eks.amazonaws.com", tag_session=True),
                        tags=args.tags, opts=child)
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    documents = pulumi.Output.all(args.cluster_name, args.cluster_arn, account, node_role.arn, queue.arn).apply(
        lambda v: controller_policies(PolicyScope(cluster=v[0], cluster_arn=v[1], region=args.region,
                                                  partition=args.partition, account=v[2], node_role_arn=v[3],
                                                  queue_arn=v[4])))
    attached: list[pulumi.Resource] = []
    for key in CONTROLLER_POLICIES:
        document: pulumi.Output[str] = documents.apply(lambda d, k=key: json.dumps(d[k]))  # type: ignore[misc]
        grant = aws.iam.Policy(f"{name}-{key}", policy=document, tags=args.tags, opts=child)
        attached.append(aws.iam.RolePolicyAttachment(f"{name}-{key}", role=role.name, policy_arn=grant.arn,
                                                     opts=child))
    identity = aws.eks.PodIdentityAssociation(
        f"{name}-pod-identity", cluster_name=args.cluster_name, namespace=NAMESPACE,
        service_account=SERVICE_ACCOUNT, role_arn=role.arn, tags=args.tags, opts=child)
    return [identity, *attached]
