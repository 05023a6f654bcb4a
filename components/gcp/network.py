"""The fleet's VPC: custom-mode network, regional subnets, Cloud NAT and one firewall rule.

One subnet per region carries per-cluster pod and service ranges; Cloud Router + NAT let private nodes reach
registries; the only firewall rule opens the fleet's own ranges to each other (multi-node training).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.config.gke import Gke


def allow_internal(name: str, firewall_name: str, project: str, network: pulumi.Input[str], ranges: list[str],
                   opts: pulumi.ResourceOptions) -> gcp.compute.Firewall:
    """An ingress rule admitting TCP, UDP and ICMP from `ranges` (in a stable order) and nothing else."""
    return gcp.compute.Firewall(
        name,
        name=firewall_name,
        project=project,
        network=network,
        direction="INGRESS",
        source_ranges=sorted(ranges),
        allows=[
            gcp.compute.FirewallAllowArgs(protocol="tcp"),
            gcp.compute.FirewallAllowArgs(protocol="udp"),
            gcp.compute.FirewallAllowArgs(protocol="icmp"),
        ],
        opts=opts,
    )


@dataclass(frozen=True)
class ClusterRanges:
    cluster: str
    """Cluster name; secondary ranges are named `<cluster>-pods` and `<cluster>-services`."""
    pods_cidr: str
    """The cluster's pods range (`gke.regions[].clusters[].pods_cidr`)."""
    services_cidr: str
    """The cluster's services range."""


@dataclass(frozen=True)
class RegionSubnet:
    region: str
    """The region's name; the subnet, router and NAT are named after it."""
    cidr: str
    """The nodes' range (`gke.regions[].subnet_cidr`)."""
    clusters: list[ClusterRanges]
    """The region's clusters, whose ranges are the subnet's secondary ranges."""


@dataclass(frozen=True)
class NetworkArgs:
    project: str
    """The GCP project of the fleet VPC."""
    network_name: str
    """VPC name in GCP."""
    mtu: int
    """1460-8896; validated upstream."""
    regions: list[RegionSubnet]
    """One subnet per region."""
    nat_min_ports_per_vm: int
    """Cloud NAT ports a node starts with (a power of two)."""
    nat_max_ports_per_vm: int
    """Ports dynamic allocation may give one node (a power of two)."""


def pods_range_name(cluster: str) -> str:
    return f"{cluster}-pods"


def services_range_name(cluster: str) -> str:
    return f"{cluster}-services"


def fleet_network_args(gke: Gke, project: str) -> NetworkArgs:
    """The fleet VPC of the `gke:` section: one subnet per region, holding each of its clusters' secondary ranges."""
    return NetworkArgs(
        project=project,
        network_name=gke.network.name,
        mtu=gke.network.mtu,
        nat_min_ports_per_vm=gke.network.nat.min_ports_per_vm,
        nat_max_ports_per_vm=gke.network.nat.max_ports_per_vm,
        regions=[
            RegionSubnet(
                region=r.name,
                cidr=r.subnet_cidr,
                clusters=[ClusterRanges(c.name, c.pods_cidr, c.services_cidr) for c in r.clusters],
            )
            for r in gke.regions
        ],
    )


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = gcp.compute.Network(
            f"{name}-vpc",
            name=args.network_name,
            project=args.project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            mtu=args.mtu,
            opts=child,
        )
        self.network_id = vpc.id
        self.subnet_ids = {region.region: self._region(name, args, region, vpc) for region in args.regions}
        internal = [cidr for region in args.regions for cidr in (region.cidr, *(c.pods_cidr for c in region.clusters))]
        # Multi-node training (NCCL) talks node-to-node and pod-to-pod across clusters of the fleet; GKE's own
        # rules only cover a cluster's own ranges. Nothing else is opened: ingress stays denied by default.
        allow_internal(f"{name}-allow-internal", f"{args.network_name}-allow-internal", args.project, vpc.id,
                       internal, child)
        self.register_outputs({"network_id": self.network_id, "subnet_ids": self.subnet_ids})

    def _region(self, name: str, args: NetworkArgs, region: RegionSubnet,
                vpc: gcp.compute.Network) -> pulumi.Output[str]:
        """The region's subnet with its clusters' ranges, and the Cloud Router and NAT its nodes go out through."""
        child = pulumi.ResourceOptions(parent=self)
        subnet = gcp.compute.Subnetwork(
            f"{name}-{region.region}",
            name=f"{args.network_name}-{region.region}",
            project=args.project,
            region=region.region,
            network=vpc.id,
            ip_cidr_range=region.cidr,
            private_ip_google_access=True,
            # Ordered by cluster name, not config position: inserting a cluster shows as one added pair.
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=rn, ip_cidr_range=cidr)
                for c in sorted(region.clusters, key=lambda c: c.cluster)
                for rn, cidr in ((pods_range_name(c.cluster), c.pods_cidr),
                                 (services_range_name(c.cluster), c.services_cidr))
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_MIN", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-{region.region}-router",
            name=f"{args.network_name}-{region.region}",
            project=args.project,
            region=region.region,
            network=vpc.id,
            opts=child,
        )
        self._nat(name, args, region, router)
        return subnet.id

    def _nat(self, name: str, args: NetworkArgs, region: RegionSubnet, router: gcp.compute.Router) -> None:
        gcp.compute.RouterNat(
            f"{name}-{region.region}-nat",
            name=f"{args.network_name}-{region.region}",
            project=args.project,
            region=region.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            # Dynamic port allocation: a GPU node pulling many multi-GB images at once gets up to the
            # maximum instead of exhausting the fixed 64 ports a VM gets by default. GCP requires
            # endpoint-independent mapping off with it.
            enable_dynamic_port_allocation=True,
            enable_endpoint_independent_mapping=False,
            min_ports_per_vm=args.nat_min_ports_per_vm,
            max_ports_per_vm=args.nat_max_ports_per_vm,
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=pulumi.ResourceOptions(parent=self),
        )
