"""What GCP or GKE would refuse in a `gke:` section, refused before anything is registered.

Unknown regions and zones, GPUs where none are offered, boot disks a machine series does not take, sizes past
GCP's limits and names past 63 characters. Each limit comes from the catalog (`components.catalog.gcp_limits`),
with its source; each problem is one `Issue` naming the key, the value and what to write instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

from components import catalog
from components.catalog import gcp_limits as limits
from components.config.errors import Issue
from components.config.gke import CapacityModel, GkeCluster, GpuPool, ScalingScope
from components.config.model import Fleet


def regional_name(network: str, region: str) -> str:
    """The name of a region's subnet, router and NAT (`components.gcp.network` names them so)."""
    return f"{network}-{region}"


def check_project(path: str, project: str) -> Iterator[Issue]:
    if not limits.PROJECT_ID.match(project):
        yield Issue(path, "not a GCP project id", project,
                    "the project ID (6-30 lower-case letters, digits and '-', starting with a letter, not ending "
                    "with '-'), not its display name or number: `gcloud projects list` shows it")


def check_gke_limits(fleet: Fleet) -> Iterator[Issue]:
    gke = fleet.gke
    assert gke is not None
    if gke.project is not None:
        yield from check_project("gke.project", gke.project)
    for region in gke.regions:
        rpath = f"gke.regions[{region.name}]"
        if region.name not in catalog.GCP_REGIONS:
            yield Issue(f"{rpath}.name", "not a GCP region", region.name, catalog.gcp_region_hint(region.name))
            continue
        name = regional_name(gke.network.name, region.name)
        if len(name) > limits.MAX_RESOURCE_NAME:
            yield Issue("gke.network.name", f"names the subnet, router and NAT of {region.name} {name!r}, "
                        f"{len(name)} characters; GCP allows {limits.MAX_RESOURCE_NAME}", gke.network.name,
                        f"shorten the network name to {limits.MAX_RESOURCE_NAME - len(region.name) - 1} characters "
                        "or fewer")
        for cluster in region.clusters:
            yield from _check_cluster(f"{rpath}.clusters[{cluster.name}]", region.name, cluster)


def _check_cluster(cpath: str, region: str, cluster: GkeCluster) -> Iterator[Issue]:
    pods = _network(cluster.pods_cidr)
    if pods is not None and pods.prefixlen > limits.GKE_NODE_POD_PREFIX:
        yield Issue(f"{cpath}.pods_cidr", f"too small for one node: GKE gives each node a "
                    f"/{limits.GKE_NODE_POD_PREFIX} of Pod addresses (110 Pods per node)", cluster.pods_cidr,
                    f"a /{limits.GKE_NODE_POD_PREFIX} holds one node; size it for max nodes (a /16 holds 256)")
    services = _network(cluster.services_cidr)
    if services is not None and services.prefixlen > limits.GKE_SERVICES_MAX_PREFIX:
        yield Issue(f"{cpath}.services_cidr", f"smaller than GKE's smallest Service range, a "
                    f"/{limits.GKE_SERVICES_MAX_PREFIX}", cluster.services_cidr,
                    "a /20 (4,096 Services) is GKE's default")
    sp = cluster.system_pool
    for zone in sp.zones or []:
        yield from _zone(f"{cpath}.system_pool.zones", region, zone)
    if sp.max_nodes_per_zone > limits.GKE_MAX_NODES_PER_POOL_ZONE:
        yield Issue(f"{cpath}.system_pool.max_nodes_per_zone", "above GKE's limit of "
                    f"{limits.GKE_MAX_NODES_PER_POOL_ZONE} nodes per node pool and zone", sp.max_nodes_per_zone,
                    f"at most {limits.GKE_MAX_NODES_PER_POOL_ZONE}; spread larger pools over more zones")
    for pool in cluster.gpu_pools:
        yield from _check_pool(f"{cpath}.gpu_pools[{pool.name}]", region, pool)


def _check_pool(ppath: str, region: str, pool: GpuPool) -> Iterator[Issue]:
    for rule in _POOL_RULES:
        yield from rule(ppath, region, pool)
    machine = catalog.find_machine_type(pool.machine_type)
    if machine is None or machine.cloud is not catalog.Cloud.GCP:
        return  # reported by gke_rules
    for machine_rule in _MACHINE_RULES:
        yield from machine_rule(ppath, region, pool, machine)


def _pool_zones(ppath: str, region: str, pool: GpuPool) -> Iterator[Issue]:
    for zone in pool.zones:
        yield from _zone(f"{ppath}.zones", region, zone)


def _pool_size(ppath: str, region: str, pool: GpuPool) -> Iterator[Issue]:
    """GKE's nodes per node pool and zone, per zone or over the pool's zones (`autoscaling.per`)."""
    a = pool.autoscaling
    per_zone_max = limits.GKE_MAX_NODES_PER_POOL_ZONE
    ceiling = per_zone_max if a.per is ScalingScope.ZONE else per_zone_max * len(pool.zones)
    if a.max_nodes > ceiling:
        where = "per zone" if a.per is ScalingScope.ZONE else f"over {len(pool.zones)} zones"
        yield Issue(f"{ppath}.autoscaling.max_nodes", f"above GKE's limit of {per_zone_max} nodes per node pool "
                    f"and zone ({ceiling} {where})", a.max_nodes,
                    f"at most {ceiling}, or list more zones")


def _compact_queued(ppath: str, region: str, pool: GpuPool) -> Iterator[Issue]:
    if pool.compact_placement and pool.capacity is CapacityModel.QUEUED:
        yield Issue(f"{ppath}.compact_placement", "GKE does not combine compact placement with queued "
                    "provisioning", True, _compact_queued_hint(pool.machine_type))


def _boot_disk_size(ppath: str, region: str, pool: GpuPool) -> Iterator[Issue]:
    if pool.disk_size_gb > limits.MAX_BOOT_DISK_GB:
        yield Issue(f"{ppath}.disk_size_gb", "larger than a Persistent Disk or Hyperdisk boot disk can be",
                    pool.disk_size_gb, f"at most {limits.MAX_BOOT_DISK_GB} (64 TiB); 200 is plenty for images")


def _gpu_in_region(ppath: str, region: str, pool: GpuPool, machine: catalog.MachineType) -> Iterator[Issue]:
    gpu = catalog.gpu(machine.gpu)
    read = gpu.id in catalog.GPU_ZONES  # a GPU whose zones were never read is unknown everywhere, not refused
    if read and region in catalog.gpu_zone_regions() and catalog.gpu_zones(gpu.id, region) is None:
        yield Issue(f"{ppath}.machine_type", f"{machine.name} carries {gpu.model}, which {region} does not offer",
                    machine.name, f"regions with {gpu.model}: {', '.join(catalog.gpu_regions(gpu.id))}; or "
                    "another machine type")


def _boot_disk_type(ppath: str, region: str, pool: GpuPool, machine: catalog.MachineType) -> Iterator[Issue]:
    series = limits.series(machine.name)
    if series is None or pool.disk_type is None:
        return
    disks = series.boot_disk_types
    if pool.disk_type.value not in disks:
        yield Issue(f"{ppath}.disk_type", f"{series.name} ({machine.name}) does not boot from "
                    f"{pool.disk_type.value}", pool.disk_type.value, f"use one of: {', '.join(disks)}")


def _local_ssd(ppath: str, region: str, pool: GpuPool, machine: catalog.MachineType) -> Iterator[Issue]:
    series = limits.series(machine.name)
    most = series.attachable_local_ssd.get(machine.name) if series is not None else None
    if most is not None and (pool.local_ssd_count or 0) > most:
        yield Issue(f"{ppath}.local_ssd_count", f"{machine.name} takes at most {most} Local SSD "
                    f"{'disk' if most == 1 else 'disks'}", pool.local_ssd_count, f"use 0 to {most}")


_POOL_RULES: tuple[Callable[[str, str, GpuPool], Iterator[Issue]], ...] = (
    _pool_zones, _pool_size, _compact_queued, _boot_disk_size)
"""GKE's and GCP's limits on any GPU pool, in the order their Issues are reported."""
_MACHINE_RULES: tuple[Callable[[str, str, GpuPool, catalog.MachineType], Iterator[Issue]], ...] = (
    _gpu_in_region, _boot_disk_type, _local_ssd)
"""The limits that depend on a machine type the catalog knows (an unknown one is gke_rules' to report)."""


def _compact_queued_hint(machine_type: str) -> str:
    """Flex-start is the way out only where GKE takes it with compact placement and the machine offers it."""
    machine = catalog.find_machine_type(machine_type)
    flex = machine is not None and catalog.Provisioning.FLEX_START in machine.provisioning
    if flex and limits.compact_flex_start(machine_type):
        return "set compact_placement: false, or capacity: flex-start"
    return "set compact_placement: false (GKE takes compact placement with flex-start only on A3 Ultra, A4 and H4D)"


def _zone(path: str, region: str, zone: str) -> Iterator[Issue]:
    zones = catalog.GCP_REGIONS[region]
    if zone.startswith(region + "-") and zone not in zones:
        yield Issue(path, f"{region} has no such zone", zone, f"{region}'s zones: {', '.join(zones)}")


def _network(cidr: str) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        return None  # reported by gke_rules
    return net if isinstance(net, ipaddress.IPv4Network) else None
