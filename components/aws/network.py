"""A VPC for one EKS cluster: a private and a public subnet per zone, an internet gateway and NAT.

Private subnets hold every node and are tagged for Karpenter's subnet discovery and internal load balancers;
public subnets hold only NAT gateways and internet-facing load balancers. Subnet ranges come from each
zone's letter (`components.config.eks.zone_subnets`), so adding a zone moves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config.eks import NatMode, zone_subnets

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


class Vpc(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> private subnet id."""
    public_subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: VpcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Vpc", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, f"kubernetes.io/cluster/{args.cluster_name}": "shared"}

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True,
                          enable_dns_support=True, tags={**tags, "Name": args.cluster_name}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id,
                                       tags={**tags, "Name": f"{args.cluster_name}-public"}, opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=igw.id, opts=child)

        self.private_subnet_ids, self.public_subnet_ids = {}, {}
        nats: dict[str, aws.ec2.NatGateway] = {}
        # A single NAT sits in the alphabetically first zone, so adding zones never moves it.
        nat_zones = sorted(args.zones) if args.nat is NatMode.PER_ZONE else sorted(args.zones)[:1]
        for zone in args.zones:
            private_cidr, public_cidr = zone_subnets(args.cidr, zone)
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}", vpc_id=vpc.id, availability_zone=zone, cidr_block=public_cidr,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{args.cluster_name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", route_table_id=public_rt.id, subnet_id=public.id,
                                          opts=child)
            self.public_subnet_ids[zone] = public.id
            if zone in nat_zones:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags, opts=child)
                nats[zone] = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.id, subnet_id=public.id,
                                                tags={**tags, "Name": f"{args.cluster_name}-{zone}"},
                                                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]))
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
            nat = nats.get(zone) or nats[nat_zones[0]]
            aws.ec2.Route(f"{name}-private-{zone}-default", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=nat.id, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", route_table_id=rt.id, subnet_id=private.id,
                                          opts=child)
            self.private_subnet_ids[zone] = private.id

        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
                               "public_subnet_ids": self.public_subnet_ids})
