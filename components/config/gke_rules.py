"""Rules of the `gke:` section that span fields or need the GPU catalog (zones, machines, accelerators, ...)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from components import catalog
from components.config.addons import RESERVED_NAMESPACE_PREFIXES, RESERVED_NAMESPACES, DcgmSource, GpuStack
from components.config.checks import (
    K8S_LABEL_KEY,
    K8S_LABEL_VALUE,
    MIN_AUTHORIZED_PREFIX,
    overlaps,
    parse_cidr,
    unique_names,
    zones_in_region,
)
from components.config.errors import Issue
from components.config.gke import (
    SYSTEM_POOL_NAME,
    CapacityModel,
    ExclusionScope,
    GkeCluster,
    GpuPool,
    LocationPolicy,
    Maintenance,
    ReservationMode,
    SharingStrategy,
    UpgradeStrategy,
)
from components.config.model import Fleet

MTU_MIN, MTU_MAX = 1460, 8896
MAINTENANCE_HOURS_PER_32_DAYS = 48
"""GKE: "allow at least 48 hours of maintenance availability in a 32-day rolling window. Only contiguous
availability windows of at least four hours are considered" (kubernetes-engine/docs/how-to/maintenance-window)."""
DURATION = re.compile(r"^[0-9]+s$")
KMS_KEY = re.compile(r"^projects/[^/]+/locations/(?P<location>[^/]+)/keyRings/[^/]+/cryptoKeys/[^/]+$")


SECURITY_GROUP = re.compile(r"gke-security-groups@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")
"""Google Groups for RBAC needs this exact group name in the domain's Google Workspace / Cloud Identity
(cloud.google.com/kubernetes-engine/docs/how-to/google-groups-rbac, "Set up Google Groups")."""


def check_gke(fleet: Fleet) -> Iterator[Issue]:
    gke = fleet.gke
    assert gke is not None
    nat = gke.network.nat
    for key in ("min_ports_per_vm", "max_ports_per_vm"):
        ports = getattr(nat, key)
        if ports & (ports - 1):
            yield Issue(f"gke.network.nat.{key}", "Cloud NAT's dynamic port allocation takes a power of two",
                        ports, f"e.g. {1 << (ports.bit_length() - 1)} or {1 << ports.bit_length()}")
    if nat.max_ports_per_vm <= nat.min_ports_per_vm:
        yield Issue("gke.network.nat.max_ports_per_vm", "must be above min_ports_per_vm", nat.max_ports_per_vm,
                    f"min_ports_per_vm is {nat.min_ports_per_vm}")
    if not MTU_MIN <= gke.network.mtu <= MTU_MAX:
        yield Issue("gke.network.mtu", f"MTU must be between {MTU_MIN} and {MTU_MAX}", gke.network.mtu,
                    "1460 is GCP's default; 8896 suits GPU-to-GPU traffic")
    if gke.security_group is not None and not SECURITY_GROUP.fullmatch(gke.security_group):
        yield Issue("gke.security_group", "GKE only reads a group named gke-security-groups@<your domain>",
                    gke.security_group, "e.g. gke-security-groups@example.com (the groups RoleBindings name are "
                    "its members)")
    ranges: list[tuple[str, ipaddress.IPv4Network]] = []
    yield from unique_names("gke.regions", [r.name for r in gke.regions])
    for region in gke.regions:
        rpath = f"gke.regions[{region.name}]"
        net = yield from parse_cidr(f"{rpath}.subnet_cidr", region.subnet_cidr)
        if net:
            ranges.append((f"{rpath}.subnet_cidr", net))
        yield from unique_names(f"{rpath}.clusters", [c.name for c in region.clusters])
        for cluster in region.clusters:
            cpath = f"{rpath}.clusters[{cluster.name}]"
            for key in ("pods_cidr", "services_cidr"):
                net = yield from parse_cidr(f"{cpath}.{key}", getattr(cluster, key))
                if net:
                    ranges.append((f"{cpath}.{key}", net))
            master = yield from parse_cidr(f"{cpath}.master_cidr", cluster.master_cidr)
            if master:
                if master.prefixlen != 28:
                    yield Issue(f"{cpath}.master_cidr", "the control-plane range must be a /28",
                                cluster.master_cidr, "e.g. 172.16.0.0/28")
                ranges.append((f"{cpath}.master_cidr", master))
            for j, an in enumerate(cluster.authorized_networks):
                apath = f"{cpath}.authorized_networks[{an.name or j}].cidr"
                allowed = yield from parse_cidr(apath, an.cidr)
                if allowed and allowed.prefixlen < MIN_AUTHORIZED_PREFIX:
                    yield Issue(apath, "admits most of the internet to the control plane", an.cidr,
                                f"list the networks that run kubectl (a VPN or office range, /{MIN_AUTHORIZED_PREFIX} "
                                f"or narrower), or set {cpath}.public_endpoint: false")
            yield from _check_cluster(cpath, region.name, cluster)
    yield from overlaps(ranges)


def _check_cluster(cpath: str, region: str, cluster: GkeCluster) -> Iterator[Issue]:
    yield from zones_in_region(f"{cpath}.system_pool.zones", region, cluster.system_pool.zones or [])
    yield from _check_access(cpath, cluster, region)
    yield from check_maintenance(cpath, cluster.maintenance)
    sp = cluster.system_pool
    if sp.min_nodes_per_zone > sp.max_nodes_per_zone:
        yield Issue(f"{cpath}.system_pool.min_nodes_per_zone", "min_nodes_per_zone is above max_nodes_per_zone",
                    sp.min_nodes_per_zone, f"max_nodes_per_zone is {sp.max_nodes_per_zone}")
    yield from _system_machine(f"{cpath}.system_pool.machine_type", sp.machine_type)
    yield from unique_names(f"{cpath}.gpu_pools", [p.name for p in cluster.gpu_pools])
    for pool in cluster.gpu_pools:
        if pool.name == SYSTEM_POOL_NAME:
            yield Issue(f"{cpath}.gpu_pools[{pool.name}].name", "is the name of the cluster's system node pool",
                        pool.name, "give the GPU pool another name, e.g. the GPU and its purpose (h100-train)")
    yield from unique_names(f"{cpath}.addons.namespaces", [n.name for n in cluster.addons.namespaces])
    for ns in cluster.addons.namespaces:
        if ns.name in RESERVED_NAMESPACES or ns.name.startswith(RESERVED_NAMESPACE_PREFIXES):
            yield Issue(f"{cpath}.addons.namespaces[{ns.name}].name", "is a namespace Kubernetes, GKE or "
                        "gpu-fleet's add-ons own", ns.name, "name team namespaces after the team, e.g. team-vision")
    addons = cluster.addons
    if addons.gpu_stack is GpuStack.OPERATOR and addons.dcgm is DcgmSource.MANAGED:
        yield Issue(f"{cpath}.addons.dcgm", "GKE managed DCGM needs GKE's own GPU stack", "managed",
                    "use dcgm: exporter with gpu_stack: operator (the operator runs dcgm-exporter)")
    if addons.alerts is not None:
        yield Issue(f"{cpath}.addons.alerts", "alert thresholds moved to the fleet-wide observability.alerts", None,
                    "move them to gpu-fleet:observability: {alerts: {gpu_utilization: {percent: 85, window: 5m}, "
                    "...}} (see README, Observability)")
    nap = cluster.auto_provisioning
    for lim in nap.gpu_limits:
        try:
            g = catalog.gpu(lim.gpu)
        except KeyError:
            yield Issue(f"{cpath}.auto_provisioning.gpu_limits[{lim.gpu}].gpu", "unknown GPU id", lim.gpu,
                        "use a catalog GPU id such as h100-80gb, a100-80gb or l4")
            continue
        if g.gke_accelerator is None:
            yield Issue(f"{cpath}.auto_provisioning.gpu_limits[{lim.gpu}].gpu", "GPU not offered on GKE", lim.gpu,
                        "GKE GPUs: " + ", ".join(g.id for g in catalog.GPUS if g.gke_accelerator))
    for pool in cluster.gpu_pools:
        yield from _check_pool(f"{cpath}.gpu_pools[{pool.name}]", region, cluster, pool)


@dataclass(frozen=True)
class _Pool:
    """One GPU pool as its rules read it: where it sits, and the catalog machine and GPU it names."""

    path: str
    """The pool's key path, gke.regions[R].clusters[C].gpu_pools[P]."""
    region: str
    cluster: GkeCluster
    pool: GpuPool
    machine: catalog.MachineType
    gpu: catalog.Gpu


def _check_pool(ppath: str, region: str, cluster: GkeCluster, pool: GpuPool) -> Iterator[Issue]:
    machine = yield from _machine(ppath, pool)
    if machine is None:
        return  # every other rule reads the machine: one line for the machine type, not a cascade
    p = _Pool(ppath, region, cluster, pool, machine, catalog.gpu(machine.gpu))
    for rule in _POOL_RULES:
        yield from rule(p)


def _machine(ppath: str, pool: GpuPool) -> Generator[Issue, None, catalog.MachineType | None]:
    """The pool's GCP machine type; an Issue and None for one gpu-fleet refuses or GCP does not have."""
    refused = catalog.refusal(pool.machine_type)
    if refused is not None and refused.cloud is catalog.Cloud.GCP:
        yield Issue(f"{ppath}.machine_type", f"{pool.machine_type} ({refused.carries}): {refused.reason}",
                    pool.machine_type, refused.hint)
        return None
    machine = catalog.find_machine_type(pool.machine_type)
    if machine is None or machine.cloud is not catalog.Cloud.GCP:
        yield Issue(f"{ppath}.machine_type", f"{pool.machine_type} does not exist",
                    hint=catalog.machine_hint(pool.machine_type, catalog.Cloud.GCP))
        return None
    return machine


def _accelerator(p: _Pool) -> Iterator[Issue]:
    """A restated `accelerator` must be the machine's own (the catalog derives it)."""
    acc = p.pool.accelerator
    if acc is None:
        return
    if acc.type != p.gpu.gke_accelerator:
        yield Issue(f"{p.path}.accelerator.type", f"{p.machine.name} carries {p.gpu.gke_accelerator}", acc.type,
                    "remove `accelerator`: gpu-fleet derives it from the machine type")
    if acc.count != p.machine.gpus:
        yield Issue(f"{p.path}.accelerator.count", f"{p.machine.name} has {p.machine.gpus} GPUs", acc.count,
                    "remove `accelerator`: gpu-fleet derives it from the machine type")


def _zones(p: _Pool) -> Iterator[Issue]:
    """Zones of the pool's region, each once, each offering its GPU."""
    yield from zones_in_region(f"{p.path}.zones", p.region, p.pool.zones)
    yield from unique_names(f"{p.path}.zones", p.pool.zones)
    for zone in p.pool.zones:
        offered = catalog.gpu_zones(p.gpu.id, p.region)
        if offered is not None and zone in catalog.GCP_REGIONS.get(p.region, ()) and zone not in offered:
            yield Issue(f"{p.path}.zones", f"{p.gpu.model} is not offered in {zone}", zone,
                        f"{p.region} offers it in {', '.join(offered) or 'no zone'}")


def _scaling(p: _Pool) -> Iterator[Issue]:
    a = p.pool.autoscaling
    if a.min_nodes > a.max_nodes:
        yield Issue(f"{p.path}.autoscaling.min_nodes", "min_nodes is above max_nodes", a.min_nodes,
                    f"max_nodes is {a.max_nodes}")
    if a.max_nodes == 0:
        yield Issue(f"{p.path}.autoscaling.max_nodes", "a GPU pool that can never have a node", 0,
                    "raise max_nodes or remove the pool")


def _capacity(p: _Pool) -> Iterator[Issue]:
    """The capacity model must be one the machine is sold as; DWS (flex-start, queued) pools scale from zero."""
    pool, machine = p.pool, p.machine
    reserved = pool.reservation is not None and pool.reservation.mode is ReservationMode.SPECIFIC
    model = catalog.Provisioning.RESERVATION if reserved and pool.capacity is CapacityModel.ON_DEMAND \
        else _provisioning(pool.capacity)
    if model not in machine.provisioning:
        allowed = ", ".join(sorted(m.value for m in machine.provisioning))
        yield Issue(f"{p.path}.capacity", f"{machine.name} cannot be obtained as {pool.capacity.value}",
                    pool.capacity.value, f"{machine.name} is available as: {allowed}")
    if pool.capacity in (CapacityModel.FLEX_START, CapacityModel.QUEUED) and pool.autoscaling.min_nodes != 0:
        yield Issue(f"{p.path}.autoscaling.min_nodes", f"{pool.capacity.value} pools must scale from zero",
                    pool.autoscaling.min_nodes, "set min_nodes: 0")


def _reservation(p: _Pool) -> Iterator[Issue]:
    """Only on-demand capacity consumes a reservation, and only mode specific names one."""
    pool, r = p.pool, p.pool.reservation
    if r is None:
        return
    if pool.capacity is not CapacityModel.ON_DEMAND and r.mode is not ReservationMode.NONE:
        yield Issue(f"{p.path}.reservation", f"{pool.capacity.value} capacity cannot consume a reservation",
                    r.mode.value, "set reservation.mode: none or capacity: on-demand")
    if (r.mode is ReservationMode.SPECIFIC) != (r.name is not None):
        yield Issue(f"{p.path}.reservation.name", "a name is required with mode specific, and only then",
                    r.name, "mode: specific with name: <reservation>, or mode any/none without a name")


def _critical_on_spot(p: _Pool) -> Iterator[Issue]:
    if p.pool.capacity is CapacityModel.SPOT and p.pool.production_critical:
        yield Issue(f"{p.path}.capacity", "a production-critical pool cannot run on spot", "spot",
                    "set capacity: on-demand, or production_critical: false")


def _sharing(p: _Pool) -> Iterator[Issue]:
    """MIG sizes the GPU has; MPS never on MIG partitions."""
    pool, gpu = p.pool, p.gpu
    if pool.mig_partition is not None and pool.mig_partition not in gpu.mig_partitions:
        valid = ", ".join(gpu.mig_partitions) or "none (this GPU has no MIG)"
        yield Issue(f"{p.path}.mig_partition", f"not a MIG partition size of {gpu.model}", pool.mig_partition,
                    f"valid: {valid}")
    if pool.sharing is not None and pool.sharing.strategy is SharingStrategy.MPS and pool.mig_partition:
        yield Issue(f"{p.path}.sharing.strategy", "MPS cannot be combined with MIG partitions", "mps",
                    "use time-sharing with MIG, or drop mig_partition")


def _labels(p: _Pool) -> Iterator[Issue]:
    for key, value in p.pool.labels.items():
        if not K8S_LABEL_KEY.match(key):
            yield Issue(f"{p.path}.labels", "not a Kubernetes label key", key,
                        "letters, digits, '-', '_' and '.', at most 63, optionally after a DNS prefix and '/'")
        elif not K8S_LABEL_VALUE.match(value):
            yield Issue(f"{p.path}.labels.{key}", "not a Kubernetes label value", value,
                        "letters, digits, '-', '_' and '.', at most 63, starting and ending with a letter or digit")


def _placement(p: _Pool) -> Iterator[Issue]:
    """Compact placement: one zone, at most 150 nodes, and what GKE refuses to combine with it."""
    pool = p.pool
    if pool.compact_placement and len(pool.zones) != 1:
        yield Issue(f"{p.path}.compact_placement", "compact placement needs a single-zone pool", pool.zones,
                    "list exactly one zone, or set compact_placement: false")
    if pool.compact_placement and pool.autoscaling.max_nodes > 150:  # one zone: the per-zone max is the total
        yield Issue(f"{p.path}.autoscaling.max_nodes", "compact placement allows at most 150 nodes",
                    pool.autoscaling.max_nodes, "lower max_nodes to 150, or set compact_placement: false")
    yield from _check_compact(p.path, pool)


def _local_ssd(p: _Pool) -> Iterator[Issue]:
    """A machine with bundled Local SSDs takes all of them or none."""
    bundled = p.machine.local_ssd_gb // catalog.LOCAL_SSD_GB
    if bundled and p.pool.local_ssd_count not in (None, 0, bundled):
        yield Issue(f"{p.path}.local_ssd_count", f"{p.machine.name} comes with exactly {bundled} local SSDs",
                    p.pool.local_ssd_count, f"leave it unset to use all {bundled} (billed with the machine), "
                    "or 0 to attach none")


def _location_policy(p: _Pool) -> Iterator[Issue]:
    dws = p.pool.capacity in (CapacityModel.FLEX_START, CapacityModel.QUEUED)
    if dws and p.pool.location_policy is LocationPolicy.BALANCED:
        yield Issue(f"{p.path}.location_policy", f"{p.pool.capacity.value} pools take nodes wherever DWS finds "
                    "capacity", "BALANCED", "remove location_policy (ANY is used), or set ANY")


def _upgrade(p: _Pool) -> Iterator[Issue]:
    yield from _check_upgrade(f"{p.path}.upgrade", p.pool)


def _stack(p: _Pool) -> Iterator[Issue]:
    """With the GPU operator, GKE's sharing, MIG and driver versions are not in play."""
    pool = p.pool
    if p.cluster.addons.gpu_stack is not GpuStack.OPERATOR:
        return
    if pool.sharing or pool.mig_partition:
        yield Issue(f"{p.path}.{'sharing' if pool.sharing else 'mig_partition'}",
                    "GKE's GPU sharing and MIG need GKE's own GPU stack", None,
                    "set addons.gpu_stack: gke for this cluster, or drop sharing/mig_partition")
    if pool.driver_version.value != "DEFAULT":
        yield Issue(f"{p.path}.driver_version", "with gpu_stack operator, the driver comes from Google's "
                    "installer DaemonSet, not GKE", pool.driver_version.value, "remove driver_version")


_POOL_RULES: tuple[Callable[[_Pool], Iterator[Issue]], ...] = (
    _accelerator, _zones, _scaling, _capacity, _reservation, _critical_on_spot, _sharing, _labels, _placement,
    _local_ssd, _location_policy, _upgrade, _stack,
)
"""A GKE GPU pool's rules, one concern each, in the order their Issues are reported."""


def _check_compact(ppath: str, pool: GpuPool) -> Iterator[Issue]:
    """What GKE refuses with compact placement (cluster-toolkit's preconditions, gcp_limits.POOL_RULE_SOURCES)."""
    if not pool.compact_placement:
        return
    if pool.upgrade.strategy is UpgradeStrategy.BLUE_GREEN:
        yield Issue(f"{ppath}.upgrade.strategy", "GKE does not combine compact placement with blue-green upgrades",
                    "blue-green", "use strategy: surge (the default), or set compact_placement: false")
    if pool.capacity is CapacityModel.FLEX_START and not catalog.gcp_limits.compact_flex_start(pool.machine_type):
        yield Issue(f"{ppath}.compact_placement", "GKE combines compact placement with flex-start only on A3 Ultra, "
                    f"A4 and H4D machines, not {pool.machine_type}", True,
                    "set compact_placement: false, or capacity: on-demand with a reservation")


def _check_upgrade(path: str, pool: GpuPool) -> Iterator[Issue]:
    u = pool.upgrade
    if u.strategy is UpgradeStrategy.SURGE and u.max_surge == 0 and u.max_unavailable == 0:
        yield Issue(f"{path}.max_unavailable", "a surge upgrade with max_surge and max_unavailable both 0 "
                    "can never replace a node", 0, "set max_unavailable: 1 (or max_surge above 0)")
    for key in ("batch_soak", "node_pool_soak"):
        value = getattr(u, key)
        if not DURATION.match(value):
            yield Issue(f"{path}.{key}", "not a duration in seconds", value, "e.g. 300s")


def check_maintenance(cpath: str, m: Maintenance) -> Iterator[Issue]:
    """GKE's rules for a maintenance policy, so `pulumi up` does not fail on them half-way."""
    w = m.window
    days = len(set(w.days))
    # Any 32 days hold 4 of each weekday plus 4 consecutive extra days, so the least a weekly window gives
    # is 4 runs of every chosen day plus the chosen days among the extra 4 (at least days - 3).
    least = (4 * days + max(0, days - 3)) * w.duration_hours
    if least < MAINTENANCE_HOURS_PER_32_DAYS:
        yield Issue(f"{cpath}.maintenance.window", f"allows only {least} hours of maintenance in some 32 days; "
                    f"GKE requires {MAINTENANCE_HOURS_PER_32_DAYS}", None,
                    "add days or lengthen duration_hours (e.g. SA and SU for 6 hours); use exclusions to "
                    "hold upgrades off during training runs")
    yield from unique_names(f"{cpath}.maintenance.exclusions", [e.name for e in m.exclusions])
    for e in m.exclusions:
        epath = f"{cpath}.maintenance.exclusions[{e.name}]"
        start = yield from _rfc3339(f"{epath}.start", e.start)
        end = (yield from _rfc3339(f"{epath}.end", e.end)) if e.end is not None else None
        if e.end is None and e.scope is ExclusionScope.NO_UPGRADES:
            yield Issue(f"{epath}.end", "a no-upgrades exclusion needs an end (at most 30 days)", None,
                        "set end, or use scope no-minor-or-node-upgrades to hold node upgrades until end of "
                        "support")
        if start and end:
            if end <= start:
                yield Issue(f"{epath}.end", "ends before it starts", e.end, f"start is {e.start}")
            elif e.scope is ExclusionScope.NO_UPGRADES and end - start > timedelta(days=30):
                yield Issue(f"{epath}.end", "a no-upgrades exclusion may last at most 30 days", e.end,
                            "shorten it, or use scope no-minor-or-node-upgrades (allowed until end of support)")


def _rfc3339(path: str, value: str) -> Generator[Issue, None, datetime | None]:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or "T" not in value:
        yield Issue(path, "not an RFC 3339 time", value, "e.g. 2026-12-01T00:00:00Z")
        return None
    return parsed


def _check_access(cpath: str, cluster: GkeCluster, region: str) -> Iterator[Issue]:
    if not cluster.dns_endpoint and not cluster.ip_endpoint:
        yield Issue(f"{cpath}.ip_endpoint", "with dns_endpoint false too, nothing could reach the control plane",
                    False, "keep dns_endpoint: true (IAM-gated, what CI uses), or ip_endpoint: true")
    key = cluster.secrets_encryption.kms_key
    if key is not None:
        m = KMS_KEY.match(key)
        if m is None:
            yield Issue(f"{cpath}.secrets_encryption.kms_key", "not a Cloud KMS key name", key,
                        "projects/PROJECT/locations/REGION/keyRings/RING/cryptoKeys/KEY")
        elif m.group("location") != region:
            yield Issue(f"{cpath}.secrets_encryption.kms_key", f"the key is in {m.group('location')}, the "
                        f"cluster in {region}", key, "GKE needs a key in the cluster's own region")


def _provisioning(capacity: CapacityModel) -> catalog.Provisioning:
    return {
        CapacityModel.ON_DEMAND: catalog.Provisioning.ON_DEMAND,
        CapacityModel.SPOT: catalog.Provisioning.SPOT,
        CapacityModel.FLEX_START: catalog.Provisioning.FLEX_START,
        CapacityModel.QUEUED: catalog.Provisioning.FLEX_START,
    }[capacity]


# GCP general-purpose machine types: <family>-<kind>-<vCPUs>, or <family>-custom-<vCPUs>-<MiB>.
_GENERAL_FAMILIES = ("e2", "n1", "n2", "n2d", "n4", "n4a", "n4d", "c2", "c2d", "c3", "c3d", "c4", "c4a", "c4d",
                     "t2a", "t2d", "h3", "h4d", "m1", "m2", "m3", "m4", "z3")
_GENERAL_KINDS = ("standard", "highmem", "highcpu", "megamem", "ultramem", "hypermem", "micro", "small", "medium")
_GENERAL_MACHINE = re.compile(rf"^({'|'.join(_GENERAL_FAMILIES)})-(({'|'.join(_GENERAL_KINDS)})(-\d+)?(-lssd)?"
                              r"|custom-\d+-\d+(-ext)?)$")


def _system_machine(path: str, name: str) -> Iterator[Issue]:
    machine = catalog.find_machine_type(name)
    if machine is not None and machine.gpus:
        yield Issue(path, f"{name} is a GPU machine ({machine.gpus} x {machine.gpu}); the system pool runs "
                    "cluster services and must not hold GPUs", None,
                    "use a general-purpose type such as e2-standard-4 or n2-standard-8, and put GPUs in gpu_pools")
    elif not _GENERAL_MACHINE.match(name):
        yield Issue(path, f"{name} is not a GCP general-purpose machine type", None,
                    "<family>-<kind>-<vCPUs>, e.g. e2-standard-4, n2-standard-8, n2-highmem-16, "
                    "or n2-custom-8-16384; families: " + ", ".join(_GENERAL_FAMILIES))
