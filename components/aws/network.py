"""A VPC for one EKS cluster: a private and a public subnet per zone, an internet gateway and NAT.

Private subnets hold every node and are tagged for Karpenter's subnet discovery and internal load balancers;
public subnets hold only NAT gateways and internet-facing load balancers. Subnet ranges come from each
zone's letter (`components.config.eks.zone_subnets`), so adding a zone moves nothing. What a scanner asks of a VPC
comes with it: flow logs to a KMS-encrypted log group, and a default security group without rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.eks import FlowLogs, NatMode, zone_subnets

DISCOVERY_TAG = "karpenter.sh/discovery"
"""Tag Karpenter's EC2NodeClass selects subnets and security groups by (value: the cluster name)."""


@dataclass(frozen=True)
class VpcArgs:
    cluster_name: str
    """The EKS cluster the VPC serves; tags name it for Karpenter and the AWS load balancer controller."""
    cidr: str
    """The VPC's IPv4 range (validated: /16 to /20)."""
    zones: list[str]
    """Availability zones, each getting a private and a public subnet."""
    nat: NatMode
    """One NAT gateway per zone, or a single shared one."""
    tags: dict[str, str]
    """Tags for every resource (environment, managed-by, ...)."""
    region: str
    """The VPC's region: CloudWatch Logs' service principal and the log group's ARN name it."""
    partition: str
    """`aws`, `aws-cn` or `aws-us-gov`, for the ARNs the policies name."""
    flow_logs: FlowLogs
    """Whether and how the VPC's flow logs are kept."""


class Vpc(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> private subnet id."""
    public_subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Vpc", name, None, opts)
        tags = {**args.tags, f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        vpc, igw, public_rt = self._vpc_and_internet_gateway(name, args, tags)
        # A single NAT sits in the alphabetically first zone, so adding zones never moves it.
        nat_zones = sorted(args.zones) if args.nat is NatMode.PER_ZONE else sorted(args.zones)[:1]
        self.public_subnet_ids, nats = self._public_subnets(name, args, tags, vpc=vpc, igw=igw, route_table=public_rt,
                                                            nat_zones=nat_zones)
        self.private_subnet_ids = self._private_subnets(name, args, tags, vpc=vpc, nats=nats)
        self._default_security_group(name, vpc, {**tags, "Name": f"{args.cluster_name}-default"})
        if args.flow_logs.enabled:
            self._flow_logs(name, args, vpc, tags)
        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
                               "public_subnet_ids": self.public_subnet_ids})

    def _vpc_and_internet_gateway(self, name: str, args: VpcArgs, tags: dict[str, str],
                                  ) -> tuple[aws.ec2.Vpc, aws.ec2.InternetGateway, aws.ec2.RouteTable]:
        """The VPC, its internet gateway and the public route table that sends 0.0.0.0/0 through it."""
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True,
                          enable_dns_support=True, tags={**tags, "Name": args.cluster_name}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id,
                                       tags={**tags, "Name": f"{args.cluster_name}-public"}, opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=child)
        return vpc, igw, public_rt

    def _public_subnets(self, name: str, args: VpcArgs, tags: dict[str, str], *, vpc: aws.ec2.Vpc,
                        igw: aws.ec2.InternetGateway, route_table: aws.ec2.RouteTable, nat_zones: list[str],
                        ) -> tuple[dict[str, pulumi.Output[str]], dict[str, aws.ec2.NatGateway]]:
        """A public subnet per zone on the public route table, and a NAT gateway in each of `nat_zones`.

        Returns zone -> public subnet id, and zone -> NAT gateway.
        """
        child = pulumi.ResourceOptions(parent=self)
        subnet_ids: dict[str, pulumi.Output[str]] = {}
        nats: dict[str, aws.ec2.NatGateway] = {}
        for zone in args.zones:
            _, public_cidr = zone_subnets(args.cidr, zone)
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}", vpc_id=vpc.id, availability_zone=zone, cidr_block=public_cidr,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{args.cluster_name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", route_table_id=route_table.id,
                                          subnet_id=public.id, opts=child)
            subnet_ids[zone] = public.id
            if zone in nat_zones:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags, opts=child)
                nats[zone] = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.id, subnet_id=public.id,
                                                tags={**tags, "Name": f"{args.cluster_name}-{zone}"},
                                                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]))
        return subnet_ids, nats

    def _private_subnets(self, name: str, args: VpcArgs, tags: dict[str, str], *, vpc: aws.ec2.Vpc,
                         nats: dict[str, aws.ec2.NatGateway]) -> dict[str, pulumi.Output[str]]:
        """A private subnet per zone, tagged for Karpenter's discovery, each with a route table out through a NAT.

        A zone's own NAT gateway where it has one, else the single shared one (in the first zone, the only key of
        `nats`). Returns zone -> private subnet id.
        """
        child = pulumi.ResourceOptions(parent=self)
        subnet_ids: dict[str, pulumi.Output[str]] = {}
        for zone in args.zones:
            private_cidr, _ = zone_subnets(args.cidr, zone)
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}", vpc_id=vpc.id, availability_zone=zone, cidr_block=private_cidr,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{args.cluster_name}-private-{zone}", "kubernetes.io/role/internal-elb": "1",
                      DISCOVERY_TAG: args.cluster_name},
                opts=child)
            rt = aws.ec2.RouteTable(f"{name}-private-{zone}", vpc_id=vpc.id,
                                    tags={**tags, "Name": f"{args.cluster_name}-private-{zone}"}, opts=child)
            aws.ec2.Route(f"{name}-private-{zone}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=(nats.get(zone) or nats[min(nats)]).id, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", route_table_id=rt.id, subnet_id=private.id,
                                          opts=child)
            subnet_ids[zone] = private.id
        return subnet_ids

    def _default_security_group(self, name: str, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> None:
        """Adopt the VPC's default security group and strip its rules (CIS AWS 5.4, checkov CKV2_AWS_12).

        Nothing gpu-fleet runs uses it: EKS makes its own cluster security group, Karpenter selects by tag. Adopting
        it with empty `ingress`/`egress` removes the allow-all-within-the-group and allow-all-out rules AWS adds.
        """
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=tags,
                                     opts=pulumi.ResourceOptions(parent=self))

    def _flow_logs(self, name: str, args: VpcArgs, vpc: aws.ec2.Vpc, tags: dict[str, str]) -> None:
        """The VPC's flow log, its log group (KMS-encrypted, retention from config) and the role it writes with."""
        child = pulumi.ResourceOptions(parent=self)
        group_name = f"/aws/vpc-flow-logs/{args.cluster_name}"
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        group_arn = account.apply(lambda a: f"arn:{args.partition}:logs:{args.region}:{a}:log-group:{group_name}")
        key = aws.kms.Key(
            f"{name}-flow-logs-key", description=f"VPC flow logs of {args.cluster_name}", enable_key_rotation=True,
            deletion_window_in_days=30, tags=tags, opts=child,
            policy=pulumi.Output.all(account, group_arn).apply(
                lambda a: log_key_policy(partition=args.partition, region=args.region, account=a[0],
                                         log_group_arn=a[1])))
        group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", name=group_name,
                                        retention_in_days=args.flow_logs.retention_days, kms_key_id=key.arn,
                                        tags=tags, opts=child)
        role = aws.iam.Role(
            f"{name}-flow-logs-role", tags=tags, opts=child,
            assume_role_policy=account.apply(lambda a: flow_log_trust(partition=args.partition, region=args.region,
                                                                      account=a)))
        writes = aws.iam.RolePolicy(f"{name}-flow-logs-write", role=role.id,
                                    policy=group_arn.apply(flow_log_permissions), opts=child)
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=vpc.id, traffic_type=args.flow_logs.traffic.value,
                        log_destination_type="cloud-watch-logs", log_destination=group.arn, iam_role_arn=role.arn,
                        tags={**tags, "Name": f"{args.cluster_name}-flow-log"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[writes]))


def log_key_policy(*, partition: str, region: str, account: str, log_group_arn: str) -> str:
    """The key policy of a log group's KMS key: the account administers it, CloudWatch Logs uses it for that group.

    CloudWatch Logs' statement follows "Encrypt log data in CloudWatch Logs using AWS KMS"
    (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html): the regional service principal,
    bound by `kms:EncryptionContext:aws:logs:arn` to the one log group. The account statement is KMS's default key
    policy (docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html): without it no IAM policy can
    manage the key, and a key nobody can manage cannot be rotated or deleted.
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchLogsEncryptsTheGroup", "Effect": "Allow",
         "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*", "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}}},
    ]})


def flow_log_trust(*, partition: str, region: str, account: str) -> str:
    """The flow-log role's trust: VPC Flow Logs, for this account's flow logs in this region only.

    "IAM role for publishing flow logs to CloudWatch Logs" (docs.aws.amazon.com/vpc/latest/userguide/
    flow-logs-iam-role.html) recommends `aws:SourceAccount` and `aws:SourceArn` against the confused deputy.
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account},
                      "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"}}}]})


def flow_log_permissions(log_group_arn: str) -> str:
    """What the flow-log role may do: write streams of its one log group.

    The same page lists CreateLogGroup too; gpu-fleet creates the group itself, so the role does not get it.
    DescribeLogGroups is a listing call that takes no single group as its resource, hence `log-group:*` there.
    """
    account_groups = log_group_arn.rsplit(":log-group:", 1)[0] + ":log-group:*"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "WriteFlowRecords", "Effect": "Allow",
         "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [log_group_arn, f"{log_group_arn}:*"]},
        {"Sid": "FindTheGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": account_groups},
    ]})
