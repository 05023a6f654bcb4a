"""Where a GKE fleet's GPU fabric lives: which pools have one, and the names and ranges of what it needs.

VPCs, subnets and Network objects, with subnet ranges carved from each region's `gpu_cidr`.

Pure functions of the validated config and the catalog, shared by the rules (which check lengths and ranges),
the components (which create what they name) and the fabric check (whose pods name the same networks). Names and
ranges come from stable keys only (network, family, region, zone, NIC index), never from list positions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from components import catalog
from components.catalog.fabric import GkeFabric
from components.config.gke import Gke, GpuPool

FAMILY_SLOTS = {"a3-high": 0, "a3-mega": 1, "a3-ultra": 2, "a4": 3}
"""The eighth of a region's `gpu_cidr` each family's subnets take (4-7 are free for families to come)."""
FAMILY_SPLIT = 3
"""A `gpu_cidr` splits into 2**3 family blocks."""
NIC_SPLIT = 6
"""A family block splits into 2**6 subnets: gVNIC network i (1-based) takes i-1 (0-7); RDMA NIC j of the zone
with letter index z takes 8 + 8*z + j (zones a-f, 8-55)."""
GPU_CIDR_PREFIXES = (12, 16)
"""A `gpu_cidr` from /12 (subnets /21, 2,044 nodes) to /16 (subnets /25, 124 nodes)."""
SUBNET_RESERVED = 4
"""Addresses GCP keeps in every subnet (network, gateway, second-to-last and broadcast)."""


def pool_fabric(pool: GpuPool) -> GkeFabric | None:
    """The fabric a pool gets: its machine's, unless the config turns it off."""
    if pool.fabric is not None and not pool.fabric.enabled:
        return None
    return catalog.fabric.gke_fabric(pool.machine_type)


def gvnic_network_name(network: str, family: str, index: int) -> str:
    """The GCP name of a family's `index`-th (1-based) gVNIC GPU network, shared by every region."""
    return f"{network}-{family}-{index}"


def gvnic_subnet_name(network: str, family: str, index: int, region: str) -> str:
    return f"{gvnic_network_name(network, family, index)}-{region}"


def rdma_network_name(network: str, family: str, zone: str) -> str:
    """The GCP name of a family's RoCE network in `zone` (RDMA network profiles are zonal)."""
    return f"{network}-{family}-rdma-{zone}"


def rdma_subnet_name(network: str, family: str, zone: str, index: int) -> str:
    return f"{rdma_network_name(network, family, zone)}-{index}"


def rdma_profile(project: str, zone: str) -> str:
    """The zone's RoCE network profile, as the RDMA network profile docs and the toolkit name it."""
    return f"projects/{project}/global/networkProfiles/{zone}-vpc-roce"


def zone_index(zone: str) -> int:
    """A zone's letter as an index (a=0 ... f=5): its RDMA subnets' place in the family block."""
    return ord(zone[-1]) - ord("a")


def _subnet(gpu_cidr: str, family: str, slot: int) -> str:
    block = list(ipaddress.IPv4Network(gpu_cidr).subnets(prefixlen_diff=FAMILY_SPLIT))[FAMILY_SLOTS[family]]
    return str(list(block.subnets(prefixlen_diff=NIC_SPLIT))[slot])


def gvnic_subnet_cidr(gpu_cidr: str, family: str, index: int) -> str:
    """The range of gVNIC network `index` (1-based) of `family` in a region with this `gpu_cidr`."""
    return _subnet(gpu_cidr, family, index - 1)


def rdma_subnet_cidr(gpu_cidr: str, family: str, zone: str, index: int) -> str:
    """The range of RDMA NIC `index` (0-based) of `family` in `zone` of a region with this `gpu_cidr`."""
    return _subnet(gpu_cidr, family, 8 + 8 * zone_index(zone) + index)


def subnet_capacity(gpu_cidr: str) -> int:
    """Nodes one GPU subnet of this block holds (one address per node and NIC)."""
    prefix = ipaddress.IPv4Network(gpu_cidr).prefixlen + FAMILY_SPLIT + NIC_SPLIT
    return 2 ** (32 - prefix) - SUBNET_RESERVED


@dataclass(frozen=True)
class GpuNic:
    """One extra NIC of a fabric pool's nodes: the GCP network and subnet it sits on, and its Kubernetes name."""

    network: str
    subnet: str
    object_name: str
    """The Network / GKENetworkParamSet name (the anchors' names: vpc1..., gvnic-1, rdma-0...)."""
    rdma: bool


def pool_nics(network: str, region: str, pool: GpuPool) -> list[GpuNic]:
    """The extra NICs of a pool's nodes in NIC order (empty where the pool has no fabric)."""
    fabric = pool_fabric(pool)
    if fabric is None:
        return []
    names = fabric.network_names
    nics = [GpuNic(gvnic_network_name(network, fabric.family, i), gvnic_subnet_name(network, fabric.family, i, region),
                   names[i - 1], False) for i in range(1, fabric.gvnic_networks + 1)]
    if fabric.rdma_subnets:
        zone = pool.zones[0]  # validated: an RDMA pool has exactly one zone
        nics += [GpuNic(rdma_network_name(network, fabric.family, zone),
                        rdma_subnet_name(network, fabric.family, zone, j), names[fabric.gvnic_networks + j], True)
                 for j in range(fabric.rdma_subnets)]
    return nics


@dataclass(frozen=True)
class GpuSubnet:
    name: str
    region: str
    cidr: str


@dataclass(frozen=True)
class GpuVpc:
    """One GPU VPC of the fleet and its subnets."""

    key: str
    """Stable key (family and NIC, or family and zone): the logical name's suffix."""
    name: str
    family: str
    mtu: int
    rdma_zone: str | None
    """The zone of a RoCE network (its profile's); None for a gVNIC network."""
    subnets: tuple[GpuSubnet, ...]


def gpu_vpcs(gke: Gke) -> list[GpuVpc]:
    """Every GPU VPC the fleet's fabric pools need, each with the subnets of the regions (and zones) that use it.

    A family's gVNIC networks are shared by all its pools in every region (one subnet per region); a RoCE network
    serves one zone. Sorted by key, so the order never depends on config positions.
    """
    net = gke.network.name
    gvnic: dict[tuple[str, int], dict[str, str]] = {}
    rdma: dict[tuple[str, str], dict[str, str]] = {}
    fabrics: dict[str, GkeFabric] = {}
    for region in gke.regions:
        if region.gpu_cidr is None:
            continue
        for cluster in region.clusters:
            for pool in cluster.gpu_pools:
                fabric = pool_fabric(pool)
                if fabric is None:
                    continue
                fabrics[fabric.family] = fabric
                for i in range(1, fabric.gvnic_networks + 1):
                    gvnic.setdefault((fabric.family, i), {})[region.name] = \
                        gvnic_subnet_cidr(region.gpu_cidr, fabric.family, i)
                if fabric.rdma_subnets:
                    zone = pool.zones[0]
                    for j in range(fabric.rdma_subnets):
                        rdma.setdefault((fabric.family, zone), {})[rdma_subnet_name(net, fabric.family, zone, j)] = \
                            rdma_subnet_cidr(region.gpu_cidr, fabric.family, zone, j)
    vpcs = [
        GpuVpc(f"{family}-{i}", gvnic_network_name(net, family, i), family, fabrics[family].gvnic_mtu, None,
               tuple(GpuSubnet(gvnic_subnet_name(net, family, i, r), r, cidr) for r, cidr in sorted(regions.items())))
        for (family, i), regions in gvnic.items()
    ]
    vpcs += [
        GpuVpc(f"{family}-rdma-{zone}", rdma_network_name(net, family, zone), family,
               fabrics[family].rdma_mtu or fabrics[family].gvnic_mtu, zone,
               tuple(GpuSubnet(name, zone.rsplit("-", 1)[0], cidr) for name, cidr in sorted(subnets.items())))
        for (family, zone), subnets in rdma.items()
    ]
    return sorted(vpcs, key=lambda v: v.key)
