"""An EKS GPU pool's rules (a Karpenter NodePool), one concern each, in the order `_POOL_RULES` lists them.

The catalog's instance types, one GPU model, capacity types and reservations, EFA and placement groups, training
pools' disruption, labels. Seed 003's errors are caught here: `g6.48xlarge` carries L4 (L40S is `g6e`), `p5e`/`p5en`
carry H200 (not H100).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from components import catalog
from components.catalog.aws import P6E_CAPACITY_BLOCKS_ONLY
from components.config.aws_checks import TAG_KEY_MAX, TAG_VALUE_MAX, tag_problem
from components.config.checks import K8S_LABEL_KEY, K8S_LABEL_VALUE, unique_names
from components.config.eks import (
    CapacityReservationTerm,
    CapacityType,
    EksCluster,
    EksGpuPool,
    efa_interfaces,
    is_training,
)
from components.config.errors import Issue

RESERVED_LABEL_DOMAINS = ("karpenter.sh/", "karpenter.k8s.aws/", "kubernetes.io/", "k8s.io/", "gpu-fleet/",
                          "nvidia.com/")
"""Label prefixes Karpenter, Kubernetes, NVIDIA or gpu-fleet set on nodes themselves."""
MAX_RESERVATION_TAGS = 20
"""EC2NodeClass `capacityReservationSelectorTerms[].tags` maxProperties (Karpenter v1.14.1 CRD)."""
_PROVISIONING = {
    CapacityType.ON_DEMAND: catalog.Provisioning.ON_DEMAND,
    CapacityType.SPOT: catalog.Provisioning.SPOT,
    CapacityType.RESERVED: catalog.Provisioning.RESERVATION,
}


@dataclass(frozen=True)
class _Pool:
    """One Karpenter GPU pool as its rules read it: where it sits, and the catalog machines it lists."""

    path: str
    """The pool's key path, eks.regions[R].clusters[C].gpu_pools[P]."""
    region: str
    cluster: EksCluster
    pool: EksGpuPool
    machines: list[catalog.MachineType]
    """The listed instance types the catalog knows (refused and unknown ones are reported, not here)."""


def check_pool(ppath: str, region: str, cluster: EksCluster, pool: EksGpuPool) -> Iterator[Issue]:
    machines = yield from _machines(ppath, pool)
    p = _Pool(ppath, region, cluster, pool, machines)
    for rule in _POOL_RULES:
        yield from rule(p)


def _machines(ppath: str, pool: EksGpuPool) -> Generator[Issue, None, list[catalog.MachineType]]:
    """The pool's instance types the catalog knows; an Issue for each one refused or unknown, or listed twice."""
    yield from unique_names(f"{ppath}.instance_types", pool.instance_types)
    machines: list[catalog.MachineType] = []
    for name in pool.instance_types:
        machine = catalog.find_machine_type(name)
        refused = catalog.refusal(name)
        if refused is not None and refused.cloud is catalog.Cloud.AWS:
            yield _refused(ppath, pool, refused)
        elif machine is None or machine.cloud is not catalog.Cloud.AWS:
            yield Issue(f"{ppath}.instance_types", f"{name} is not an EC2 GPU instance type in the catalog", name,
                        catalog.machine_hint(name, catalog.Cloud.AWS))
        else:
            machines.append(machine)
    return machines


def _one_gpu(p: _Pool) -> Iterator[Issue]:
    """A pool holds one GPU model, and the one its `gpu` names where it names one."""
    gpus = sorted({m.gpu for m in p.machines})
    if len(gpus) > 1:
        carried = "; ".join(f"{m.name} carries {catalog.gpu(m.gpu).model}" for m in p.machines)
        yield Issue(f"{p.path}.instance_types", "a pool holds one GPU model", p.pool.instance_types,
                    f"{carried}; split them into one pool per GPU")
    if p.pool.gpu is None:
        return
    try:
        wanted = catalog.gpu(p.pool.gpu)
    except KeyError:
        yield Issue(f"{p.path}.gpu", "unknown GPU id", p.pool.gpu,
                    "a catalog GPU id: " + ", ".join(g.id for g in catalog.GPUS if g.aws_gpu_name))
        return
    for m in p.machines:
        if m.gpu != wanted.id:
            right = [t.name for t in catalog.machine_types(catalog.Cloud.AWS) if t.gpu == wanted.id]
            yield Issue(f"{p.path}.instance_types", f"{m.name} carries {m.gpus} x {catalog.gpu(m.gpu).model}, "
                        f"not {wanted.model}", m.name,
                        f"{wanted.model} instance types: {', '.join(right)}" if right
                        else f"EC2 offers no {wanted.model} in the catalog")


def _capacity_types(p: _Pool) -> Iterator[Issue]:
    """Each capacity type once, and one every listed instance type is sold as."""
    yield from unique_names(f"{p.path}.capacity_types", [c.value for c in p.pool.capacity_types])
    for capacity in p.pool.capacity_types:
        for m in p.machines:
            if _PROVISIONING[capacity] not in m.provisioning:
                allowed = ", ".join(sorted(v.value for v in m.provisioning))
                yield Issue(f"{p.path}.capacity_types", f"{m.name} cannot be obtained as {capacity.value}",
                            capacity.value, f"{m.name} is available as: {allowed}")


def _reservations(p: _Pool) -> Iterator[Issue]:
    """`reserved` and capacity_reservations come together; each reservation by id or by tags."""
    pool, ppath = p.pool, p.path
    reserved = CapacityType.RESERVED in pool.capacity_types
    if reserved and not pool.capacity_reservations:
        yield Issue(f"{ppath}.capacity_reservations", "capacity type `reserved` needs the reservations to use", None,
                    "list ODCRs or Capacity Blocks by id (cr-...) or tags; Karpenter consumes, never buys them")
    if pool.capacity_reservations and not reserved:
        yield Issue(f"{ppath}.capacity_reservations", "reservations are listed but the pool never uses them", None,
                    "add `reserved` to capacity_types, or remove capacity_reservations")
    for i, term in enumerate(pool.capacity_reservations):
        if (term.id is None) == (term.tags is None):
            yield Issue(f"{ppath}.capacity_reservations[{term.id or i}]", "give exactly one of id and tags", None,
                        "id: cr-0123456789abcdef0, or tags: {purpose: training}")
        elif term.tags is not None:
            yield from _check_reservation_tags(f"{ppath}.capacity_reservations[{term.id or i}].tags", term)


def _critical_on_spot(p: _Pool) -> Iterator[Issue]:
    if CapacityType.SPOT in p.pool.capacity_types and p.pool.production_critical:
        yield Issue(f"{p.path}.capacity_types", "a production-critical pool cannot run on spot", "spot",
                    "remove spot from capacity_types, or set production_critical: false")


def _gpu_limit(p: _Pool) -> Iterator[Issue]:
    if not p.machines:
        return
    smallest = min(m.gpus for m in p.machines)
    if p.pool.gpu_limit < smallest:
        yield Issue(f"{p.path}.gpu_limit", f"below the {smallest} GPUs of the smallest instance type, so the pool "
                    "could never launch a node", p.pool.gpu_limit, f"raise gpu_limit to at least {smallest}")


def _zones(p: _Pool) -> Iterator[Issue]:
    if p.pool.zones is None:
        return
    yield from unique_names(f"{p.path}.zones", p.pool.zones)
    for zone in p.pool.zones:
        if zone not in p.cluster.zones:
            yield Issue(f"{p.path}.zones", "not one of the cluster's zones", zone,
                        f"the cluster's zones: {', '.join(p.cluster.zones)}")


def _placement(p: _Pool) -> Iterator[Issue]:
    """EFA and the placement group, judged only where every instance type is known."""
    if p.machines and len(p.machines) == len(p.pool.instance_types):
        yield from _check_efa(p.path, p.cluster, p.pool, p.machines)
        yield from _check_placement_group(p.path, p.pool)


def _disruption(p: _Pool) -> Iterator[Issue]:
    yield from _check_training_disruption(p.path, p.pool)


def _labels(p: _Pool) -> Iterator[Issue]:
    """Kubernetes label syntax, outside the domains Karpenter, Kubernetes, NVIDIA and gpu-fleet own."""
    for key, value in p.pool.labels.items():
        if not K8S_LABEL_KEY.match(key):
            yield Issue(f"{p.path}.labels", "not a Kubernetes label key", key,
                        "letters, digits, '-', '_' and '.', at most 63, optionally after a DNS prefix and '/'")
        elif key.startswith(RESERVED_LABEL_DOMAINS) or "kubernetes.io/" in key:
            yield Issue(f"{p.path}.labels", "a label domain Karpenter, Kubernetes, NVIDIA or gpu-fleet owns", key,
                        "use your own prefix, e.g. team.example.com/purpose")
        elif not K8S_LABEL_VALUE.match(value):
            yield Issue(f"{p.path}.labels.{key}", "not a Kubernetes label value", value,
                        "letters, digits, '-', '_' and '.', at most 63, starting and ending with a letter or digit")


_POOL_RULES: tuple[Callable[[_Pool], Iterator[Issue]], ...] = (
    _one_gpu, _capacity_types, _reservations, _critical_on_spot, _gpu_limit, _zones, _placement, _disruption,
    _labels,
)
"""An EKS GPU pool's rules, one concern each, in the order their Issues are reported."""


def _refused(ppath: str, pool: EksGpuPool, refused: catalog.Refusal) -> Issue:
    """A refused instance type; P6e-GB200 first says why it cannot be on-demand or spot at all."""
    if refused.name.startswith("p6e-gb200") and CapacityType.RESERVED not in pool.capacity_types:
        return Issue(f"{ppath}.instance_types", P6E_CAPACITY_BLOCKS_ONLY, refused.name,
                     f"capacity_types: [reserved] with its Capacity Block; and then: {refused.reason}")
    return Issue(f"{ppath}.instance_types", f"{refused.name} ({refused.carries}): {refused.reason}", refused.name,
                 refused.hint)


def _check_efa(ppath: str, cluster: EksCluster, pool: EksGpuPool,
               machines: list[catalog.MachineType]) -> Iterator[Issue]:
    """An EFA pool: instance types that all have EFA, in one count (one EC2NodeClass layout), in one zone."""
    on = pool.efa if pool.efa is not None else all(catalog.fabric.efa_by_default(m.name) for m in machines)
    if not on:
        return
    for m in machines:
        if m.name in catalog.fabric.EFA_LAYOUT_REFUSED:
            yield Issue(f"{ppath}.efa", f"{m.name}: {catalog.fabric.EFA_LAYOUT_REFUSED[m.name]}", True,
                        "remove `efa` (the pool runs without EFA), or use p6-b200.48xlarge or p5en.48xlarge for EFA")
            return
    without = [m.name for m in machines if not m.efa_interfaces]
    if without:
        yield Issue(f"{ppath}.efa", f"{', '.join(without)} has no EFA", True,
                    "remove `efa`, or list EFA instance types (p4d, p5, g6/g6e 8xlarge and up)")
        return
    counts = sorted({m.efa_interfaces for m in machines})
    if len(counts) > 1:
        each = ", ".join(f"{m.name} {m.efa_interfaces}" for m in machines)
        yield Issue(f"{ppath}.instance_types", "an EFA pool's EC2NodeClass has one network-interface layout, but "
                    f"these instance types differ in EFA interfaces ({each})", pool.instance_types,
                    "split them into one pool per EFA count, or set efa: false")
    zones = pool.zones or cluster.zones
    if len(zones) != 1:
        yield Issue(f"{ppath}.zones", "an EFA pool runs in one zone: EFA traffic does not cross zones and its cluster "
                    "placement group is zonal", pool.zones,
                    f"zones: [{zones[0]}] (the zone of the pool's capacity reservation), or efa: false")


def _check_reservation_tags(path: str, term: CapacityReservationTerm) -> Iterator[Issue]:
    """Tags Karpenter and EC2 accept: at least one (an empty map selects every reservation), none empty."""
    tags = term.tags or {}
    if not tags:
        yield Issue(path, "an empty tag selector matches every capacity reservation the account can use", None,
                    "name the reservation's tags, e.g. {purpose: training}, or give its id")
    elif len(tags) > MAX_RESERVATION_TAGS:
        yield Issue(path, f"{len(tags)} tags; Karpenter's selector takes at most {MAX_RESERVATION_TAGS}", None,
                    "select by fewer tags, or by id")
    for key, value in tags.items():
        problem = tag_problem(key, limit=TAG_KEY_MAX)
        if problem:
            yield Issue(path, f"tag key {problem}", key,
                        "EC2 tag keys: 1-128 letters, digits, spaces and + - = . _ : / @")
        elif value != "*" and (problem := tag_problem(value, limit=TAG_VALUE_MAX)):
            yield Issue(f"{path}.{key}", f"tag value {problem}", value,
                        "the reservation's tag value, or * for any value of the key")


def _check_placement_group(ppath: str, pool: EksGpuPool) -> Iterator[Issue]:
    """One way to place a pool; never a new group for reserved capacity (it cannot be inside one made later).

    AWS: "If you plan to launch instances into a cluster placement group, we recommend that you reserve capacity
    explicitly in the cluster placement group" (EC2 user guide, placement group limitations); a reservation bought
    before gpu-fleet created its group is outside it, so every reserved launch fails with
    InsufficientInstanceCapacity (terraform-aws-eks PR #3730, eksctl #7949).
    """
    ref = pool.placement_group
    if ref is None:
        return
    path = f"{ppath}.placement_group"
    given = [k for k in ("name", "id", "create") if getattr(ref, k) is not None]
    if len(given) != 1:
        yield Issue(path, "give exactly one of name, id and create", given or None,
                    "name: <existing group>, id: pg-..., or create: true|false")
        return
    if ref.create and CapacityType.RESERVED in pool.capacity_types:
        yield Issue(f"{path}.create", "a placement group gpu-fleet creates cannot hold a capacity reservation bought "
                    "before it, so reserved launches would fail", True,
                    "name the group the reservation was made in (placement_group: {name: ...} or {id: pg-...}), "
                    "or remove placement_group")
    elif ref.create and not efa_interfaces(pool):
        yield Issue(f"{path}.create", "gpu-fleet creates placement groups for EFA pools only", True,
                    "set efa: true, name an existing group, or remove placement_group")


def _check_training_disruption(ppath: str, pool: EksGpuPool) -> Iterator[Issue]:
    """Training pools are never expired and never force-terminated (Karpenter v1.14 concepts/disruption.md)."""
    if not is_training(pool):
        return
    d = pool.disruption
    why = "a training pool (reserved, production_critical or workload: training)"
    if d.expire_after is not None and d.expire_after != "Never":
        yield Issue(f"{ppath}.disruption.expire_after", f"{why} is never expired: expiry is forceful and ignores "
                    "karpenter.sh/do-not-disrupt", d.expire_after,
                    "remove expire_after (or set Never); AMI updates reach it as drift inside the maintenance window")
    if d.termination_grace_period is not None:
        yield Issue(f"{ppath}.disruption.termination_grace_period", f"{why} has no forced termination: with it, "
                    "drift may evict pods that carry karpenter.sh/do-not-disrupt", d.termination_grace_period,
                    "remove termination_grace_period; jobs end on their own or are drained in the maintenance window")
