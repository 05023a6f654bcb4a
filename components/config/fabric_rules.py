"""Rules of GKE GPU fabric: what a pool restates must match the catalog, and what the fabric needs must be there.

Seed 002's mistakes are caught here: MTU 8896 on A3 Mega's GPU networks (8244), GPUDirect RDMA on A3 Mega (TCPXO).
A fabric pool needs its region's `gpu_cidr` (checked for overlaps and size), gVNIC, one zone where its NICs are
RDMA (the RoCE profile is zonal), Network object names nobody else in its cluster uses, GCP names within 63
characters and a GKE version that runs its fabric: `min_master_version` where set, else the oldest minor the release
channel may run (catalog.fabric.GKE_OLDEST_MINOR).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Generator, Iterator

from components import catalog
from components.catalog import gcp_limits
from components.catalog.fabric import GkeFabric, Transport
from components.config.checks import parse_cidr
from components.config.errors import Issue
from components.config.fabric import (
    GPU_CIDR_PREFIXES,
    gpu_vpcs,
    pool_fabric,
    subnet_capacity,
    zone_index,
)
from components.config.gke import FabricTransport, Gke, GkeCluster, GkeRegion, GpuPool
from components.config.model import Fleet

GKE_VERSION = re.compile(r"^1\.(?P<minor>[0-9]{2})(\.(?P<patch>[0-9]+)-gke\.(?P<build>[0-9]+))?$")
_TRANSPORT_NAMES = {Transport.TCPX: "GPUDirect-TCPX", Transport.TCPXO: "GPUDirect-TCPXO",
                    Transport.RDMA: "GPUDirect RDMA"}
_FABRIC_MACHINES = ", ".join(m for f in catalog.fabric.GKE_FABRICS for m in f.machine_types
                             if catalog.find_machine_type(m) is not None)
_CANDIDATE_BLOCKS = ("192.168.0.0/16", *(f"172.{n}.0.0/16" for n in range(17, 32)),
                     *(f"10.{n}.0.0/16" for n in range(255, 127, -1)))


def check_gke_fabric(fleet: Fleet) -> Iterator[Issue]:
    gke = fleet.gke
    assert gke is not None
    version = yield from _fleet_version(gke)
    blocks: dict[str, ipaddress.IPv4Network] = {}
    suggested: list[str] = []
    version_checked: set[str] = set()
    for region in gke.regions:
        rpath = f"gke.regions[{region.name}]"
        block = yield from _gpu_block(rpath, region)
        if block is not None:
            blocks[region.name] = block
        fabric_pools = yield from _region_pools(rpath, gke, region, version, version_checked)
        yield from _required_block(rpath, gke, region, fabric_pools, suggested)
        if region.name in blocks:
            yield from _check_capacity(rpath, region.gpu_cidr or "", fabric_pools)
    yield from _check_overlaps(gke, blocks)
    if any(r.gpu_cidr is not None and r.name not in blocks for r in gke.regions):
        return  # a gpu_cidr was refused above: its subnets (and so the GPU networks' names) cannot be carved
    yield from _gpu_network_names(gke)


def _fleet_version(gke: Gke) -> Generator[Issue, None, re.Match[str] | None]:
    """The GKE version the fabric pools run: min_master_version, else the channel's oldest minor."""
    if gke.min_master_version is None:  # the cluster takes its channel's default, at least the channel's oldest
        return GKE_VERSION.match(catalog.fabric.GKE_OLDEST_MINOR[gke.release_channel.value])
    version = GKE_VERSION.match(gke.min_master_version)
    if version is None:
        yield Issue("gke.min_master_version", "not a GKE version", gke.min_master_version,
                    "a minor such as \"1.33\" or a full version such as 1.32.11-gke.1174000")
    return version


def _gpu_block(rpath: str, region: GkeRegion) -> Generator[Issue, None, ipaddress.IPv4Network | None]:
    """The region's gpu_cidr where it is a usable block (a /GPU_CIDR_PREFIXES range)."""
    if region.gpu_cidr is None:
        return None
    block = yield from parse_cidr(f"{rpath}.gpu_cidr", region.gpu_cidr)
    if block is None:
        return None
    low, high = GPU_CIDR_PREFIXES
    if not low <= block.prefixlen <= high:
        yield Issue(f"{rpath}.gpu_cidr", f"the GPU block must be a /{low} to /{high}", region.gpu_cidr,
                    "e.g. 192.168.0.0/16: each family takes an eighth, each GPU NIC's subnet 1/64 of it")
        return None
    return block


def _region_pools(rpath: str, gke: Gke, region: GkeRegion, version: re.Match[str] | None,
                  version_checked: set[str]) -> Generator[Issue, None, list[tuple[str, GpuPool, GkeFabric]]]:
    """Each pool's fabric rules; returns the region's fabric pools (key path, pool, fabric)."""
    fabric_pools: list[tuple[str, GpuPool, GkeFabric]] = []
    for cluster in region.clusters:
        cpath = f"{rpath}.clusters[{cluster.name}]"
        for pool in cluster.gpu_pools:
            ppath = f"{cpath}.gpu_pools[{pool.name}]"
            yield from _check_restated(ppath, pool)
            fabric = pool_fabric(pool)
            if fabric is None:
                continue
            fabric_pools.append((ppath, pool, fabric))
            yield from _check_pool(ppath, pool, fabric)
            if version is not None and fabric.family not in version_checked:
                version_checked.add(fabric.family)  # one line per family, naming its first pool
                channel = None if gke.min_master_version is not None else gke.release_channel.value
                yield from _check_version(ppath, pool, fabric, version, channel)
        yield from _check_cluster_names(cpath, cluster)
    return fabric_pools


def _required_block(rpath: str, gke: Gke, region: GkeRegion, fabric_pools: list[tuple[str, GpuPool, GkeFabric]],
                    suggested: list[str]) -> Iterator[Issue]:
    """A region with fabric pools needs a gpu_cidr: suggest a free /16 (one per region, never the same twice)."""
    if not fabric_pools or region.gpu_cidr is not None:
        return
    ppath, pool, fabric = fabric_pools[0]
    suggested.append(_free_block(gke, suggested))
    yield Issue(f"{rpath}.gpu_cidr", f"required: {ppath} ({pool.machine_type}) gets {fabric.extra_nics} GPU "
                "NICs, whose subnets are carved from it", None,
                f"add gpu_cidr: {suggested[-1]} (a free /16), or set fabric: {{enabled: false}} on the "
                "pool to leave its GPUs on TCP")


def _gpu_network_names(gke: Gke) -> Iterator[Issue]:
    """The GPU networks' resource names (from the network name) fit GCP's limit; one line for the first too long."""
    for vpc in gpu_vpcs(gke):
        firewall = [] if vpc.rdma_zone else [f"{vpc.name}-allow-internal"]  # components.gcp.gpu_network names it so
        for name in (vpc.name, *firewall, *(s.name for s in vpc.subnets)):
            if len(name) > gcp_limits.MAX_RESOURCE_NAME:
                yield Issue("gke.network.name", f"names the GPU network resource {name!r}, {len(name)} characters; "
                            f"GCP allows {gcp_limits.MAX_RESOURCE_NAME}", gke.network.name,
                            f"shorten the network name by {len(name) - gcp_limits.MAX_RESOURCE_NAME} characters")
                return


def _check_restated(ppath: str, pool: GpuPool) -> Iterator[Issue]:
    """`fabric.transport`, `.networks` and `.mtu` restate the catalog; a value that disagrees is the seeds' error."""
    spec = pool.fabric
    if spec is None or not spec.enabled:
        return
    fabric = catalog.fabric.gke_fabric(pool.machine_type)
    if fabric is None:
        if catalog.find_machine_type(pool.machine_type) is not None:
            yield Issue(f"{ppath}.fabric", f"{pool.machine_type} has no GPU fabric: its GPUs reach other nodes over "
                        "the primary NIC (TCP)", None,
                        f"remove `fabric`; GPU fabrics come with {_FABRIC_MACHINES}")
        return
    name = _TRANSPORT_NAMES[fabric.transport]
    if spec.transport is not None and spec.transport.value != fabric.transport.value.lower():
        rdma = ", ".join(m for f in catalog.fabric.GKE_FABRICS if f.transport is Transport.RDMA
                         for m in f.machine_types if catalog.find_machine_type(m))
        hint = "remove `transport`: gpu-fleet derives it from the machine type"
        if spec.transport is FabricTransport.RDMA:
            hint += f" (GPUDirect RDMA is {rdma}, on RoCE)"
        yield Issue(f"{ppath}.fabric.transport", f"{pool.machine_type}'s GPU fabric is {name} over "
                    f"{_nics(fabric)}, not {spec.transport.value}", spec.transport.value, hint)
    if spec.networks is not None and spec.networks != fabric.extra_nics:
        yield Issue(f"{ppath}.fabric.networks", f"{pool.machine_type} needs {fabric.extra_nics} extra NICs "
                    f"({_nics(fabric)})", spec.networks,
                    "remove `networks`: gpu-fleet derives it from the machine type")
    if spec.mtu is not None and spec.mtu != fabric.gvnic_mtu:
        other = "; 8896 is A3 Ultra's and RoCE's" if spec.mtu == 8896 and fabric.gvnic_mtu != 8896 else ""
        yield Issue(f"{ppath}.fabric.mtu", f"{pool.machine_type}'s GPU networks use MTU {fabric.gvnic_mtu}{other}",
                    spec.mtu, "remove `mtu`: gpu-fleet sets the GPU networks' MTU from the machine type")


def _nics(fabric: GkeFabric) -> str:
    gvnic = f"{fabric.gvnic_networks} gVNIC network{'s' if fabric.gvnic_networks > 1 else ''}"
    return f"{gvnic} and {fabric.rdma_subnets} RDMA NICs" if fabric.rdma_subnets else gvnic


def _check_pool(ppath: str, pool: GpuPool, fabric: GkeFabric) -> Iterator[Issue]:
    if not pool.gvnic:
        yield Issue(f"{ppath}.gvnic", f"{pool.machine_type}'s GPU fabric runs on gVNIC", False,
                    "remove `gvnic: false`, or set fabric: {enabled: false}")
    if fabric.rdma_subnets and len(pool.zones) != 1:
        yield Issue(f"{ppath}.zones", f"{pool.machine_type}'s RDMA NICs sit on a zonal RoCE network: the pool needs "
                    "exactly one zone", pool.zones, "list the zone of the pool's reservation or capacity")
    for zone in pool.zones:
        if not 0 <= zone_index(zone) < 6:
            yield Issue(f"{ppath}.zones", "gpu-fleet lays out GPU subnets for zones a to f", zone, "use zones a-f")


def _check_cluster_names(cpath: str, cluster: GkeCluster) -> Iterator[Issue]:
    """Network objects are per cluster: two pools may share a name only if it means the same GCP network."""
    owner: dict[str, tuple[str, str]] = {}
    for pool in cluster.gpu_pools:
        fabric = pool_fabric(pool)
        if fabric is None:
            continue
        key = f"{fabric.family} in {pool.zones[0]}" if fabric.rdma_subnets else fabric.family
        for name in fabric.network_names:
            first = owner.setdefault(name, (key, pool.name))
            if first[0] != key:
                yield Issue(f"{cpath}.gpu_pools[{pool.name}].fabric", f"its Network object {name!r} would name "
                            f"another GPU network than pool {first[1]}'s ({key} vs {first[0]})", None,
                            "keep one fabric family (and one zone for RDMA) per cluster, or set fabric: "
                            "{enabled: false} on one of the pools")
                return


def _check_version(ppath: str, pool: GpuPool, fabric: GkeFabric, version: re.Match[str],
                   channel: str | None = None) -> Iterator[Issue]:
    """The fabric's GKE floor against `min_master_version`, or (``channel`` given) the channel's oldest minor."""
    minor = f"1.{version['minor']}"
    given = version.string
    floor = fabric.min_gke.get(minor)
    if _minor_key(minor) < _minor_key(fabric.min_gke_minor):
        where = f" (unset: the {channel} channel may run GKE {minor})" if channel else ""
        yield Issue("gke.min_master_version", f"{pool.machine_type}'s {_TRANSPORT_NAMES[fabric.transport]} needs "
                    f"GKE {fabric.min_gke_minor} or later ({ppath}){where}", None if channel else given,
                    f"set min_master_version to \"{fabric.min_gke_minor}\" or later")
    elif channel is not None:
        return  # a channel runs some patch of its oldest minor: only the minor floor can be checked
    elif floor is not None and (version["patch"] is None or _patch_key(given) < _patch_key(floor)):
        yield Issue("gke.min_master_version", f"{pool.machine_type}'s {_TRANSPORT_NAMES[fabric.transport]} needs at "
                    f"least {floor} on GKE {minor} ({ppath})", given, f"set min_master_version: {floor}, or a later "
                    "minor")


def _minor_key(minor: str) -> int:
    return int(minor.split(".")[1])


def _patch_key(version: str) -> tuple[int, ...]:
    m = GKE_VERSION.match(version)
    assert m is not None and m["patch"] is not None
    return int(m["minor"]), int(m["patch"]), int(m["build"])


def _check_capacity(rpath: str, gpu_cidr: str, pools: list[tuple[str, GpuPool, GkeFabric]]) -> Iterator[Issue]:
    """Every node takes one address in each of its GPU subnets; a family's pools of a region (or zone) share them."""
    room = subnet_capacity(gpu_cidr)
    nodes: dict[str, int] = {}
    for _, pool, fabric in pools:
        n = pool.autoscaling.max_nodes * (len(pool.zones) if pool.autoscaling.per.value == "zone" else 1)
        nodes[fabric.family] = nodes.get(fabric.family, 0) + n
    for family, n in sorted(nodes.items()):
        if n > room:
            yield Issue(f"{rpath}.gpu_cidr", f"its {family} subnets hold {room} nodes each; the region's {family} "
                        f"pools may reach {n}", gpu_cidr, "use a wider block (a /14 holds 508 per subnet)")


def _fleet_ranges(gke: Gke) -> list[tuple[str, ipaddress.IPv4Network]]:
    out: list[tuple[str, ipaddress.IPv4Network]] = []
    for region in gke.regions:
        rpath = f"gke.regions[{region.name}]"
        cidrs = [(f"{rpath}.subnet_cidr", region.subnet_cidr)]
        for c in region.clusters:
            cpath = f"{rpath}.clusters[{c.name}]"
            cidrs += [(f"{cpath}.pods_cidr", c.pods_cidr), (f"{cpath}.services_cidr", c.services_cidr),
                      (f"{cpath}.master_cidr", c.master_cidr)]
        for path, cidr in cidrs:
            try:
                out.append((path, ipaddress.IPv4Network(cidr)))
            except ValueError:
                continue  # reported by the GKE rules
    return out


def _check_overlaps(gke: Gke, blocks: dict[str, ipaddress.IPv4Network]) -> Iterator[Issue]:
    others = _fleet_ranges(gke)
    names = sorted(blocks)
    for i, region in enumerate(names):
        path = f"gke.regions[{region}].gpu_cidr"
        block = blocks[region]
        clash = [(p, n) for p, n in others if n.overlaps(block)]
        clash += [(f"gke.regions[{r}].gpu_cidr", blocks[r]) for r in names[i + 1:] if blocks[r].overlaps(block)]
        for other, net in clash:
            yield Issue(path, f"overlaps {other} ({net})", str(block),
                        f"every range in the fleet must be distinct; e.g. {_free_block(gke)}")


def _free_block(gke: Gke, suggested: list[str] | None = None) -> str:
    """A /16 that no range of the fleet, no region's gpu_cidr and no earlier suggestion overlaps."""
    taken = [n for _, n in _fleet_ranges(gke)] + [ipaddress.IPv4Network(s) for s in suggested or []]
    for region in gke.regions:
        if region.gpu_cidr is not None:
            with contextlib.suppress(ValueError):  # reported by check_gke_fabric
                taken.append(ipaddress.IPv4Network(region.gpu_cidr))
    for candidate in _CANDIDATE_BLOCKS:
        net = ipaddress.IPv4Network(candidate)
        if not any(net.overlaps(t) for t in taken):
            return candidate
    return "an unused /16"
