"""Rules of the `openshift:` section that span fields or need the catalog; each problem is one `Issue`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from components import catalog
from components.config.addons import RESERVED_NAMESPACE_PREFIXES, RESERVED_NAMESPACES
from components.config.aws_checks import check_aws_location
from components.config.checks import K8S_LABEL_KEY, K8S_LABEL_VALUE, unique_names
from components.config.errors import Issue
from components.config.model import Fleet
from components.config.openshift import (
    SG_ID_PATTERN,
    SUBNET_ID_PATTERN,
    Approval,
    AutoscalerMode,
    AwsReference,
    Capacity,
    OpenShiftCluster,
    OpenShiftGpuPool,
    OpenShiftKind,
    Operator,
    TuningProfile,
)
from components.kubernetes.conventions import accelerator_value
from components.versions import GPU_OPERATOR_OLM_CHANNEL, GPU_OPERATOR_OLM_CSV, OPENSHIFT_VERSIONS

MAX_LABEL_VALUE = 63
KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):[0-9]{12}:key/(mrk-)?[0-9a-f-]{32,36}$")
"""A KMS key ARN (a multi-Region key's id starts with `mrk-`); aliases are not accepted for EBS root volumes here."""
OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
"""A Kubernetes object (and namespace) name: what a CatalogSource reference must be."""
CAPACITY_BLOCK_SINCE = (4, 19)
"""machine-api-provider-aws has `marketType: CapacityBlock` from release-4.19 (release-4.18's instances.go has
`capacityReservationId` but no CapacityBlock market type)."""
OPENSHIFT_NAMESPACES = frozenset({"openshift-nfd", "nvidia-gpu-operator", "openshift-machine-api"})
_DRIVER_WORDS = re.compile(r"nvidia|modprobe|nouveau|persistenced|insmod|dkms", re.IGNORECASE)


def starting_csv(op: Operator, *, gpu_operator: bool) -> str | None:
    """The CSV a Subscription's first install starts at.

    The configured one, else the pinned GPU Operator CSV on its pinned channel (that CSV belongs to that channel
    only).
    """
    if op.starting_csv is not None:
        return op.starting_csv
    return GPU_OPERATOR_OLM_CSV if gpu_operator and op.channel == GPU_OPERATOR_OLM_CHANNEL else None


def machine_set_name(infrastructure_id: str, pool: str, zone: str) -> str:
    """`<infra>-gpu-<pool>-<zone>`: the MachineSet, its MachineAutoscaler and a label value (<= 63 characters)."""
    return f"{infrastructure_id}-gpu-{pool}-{zone}"


def check_openshift(fleet: Fleet) -> Iterator[Issue]:
    assert fleet.openshift is not None
    clusters = fleet.openshift.clusters
    yield from unique_names("openshift.clusters", [c.name for c in clusters])
    infra_ids: dict[str, str] = {}
    for c in clusters:
        path = f"openshift.clusters[{c.name}]"
        if c.infrastructure_id in infra_ids:
            yield Issue(f"{path}.infrastructure_id", f"is also cluster {infra_ids[c.infrastructure_id]}'s",
                        c.infrastructure_id, "each entry is one cluster; run `gpu-fleet openshift discover` "
                        "against each kubeconfig to get its own id")
        infra_ids[c.infrastructure_id] = c.name
        yield from _cluster(path, c)


def _cluster(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    if c.kind is not OpenShiftKind.SELF_MANAGED:
        yield Issue(f"{path}.kind", "ROSA machine pools are managed through OpenShift Cluster Manager, not "
                    "MachineSets (they are not user-editable on ROSA, and hosted control planes have no "
                    "MachineConfigPools); no Pulumi provider manages ROSA", c.kind.value,
                    "create ROSA GPU machine pools with the `rosa` CLI or the rhcs Terraform provider; gpu-fleet "
                    "manages self-managed OpenShift on AWS (kind: self-managed)")
        return
    yield from _version(f"{path}.version", c.version)
    if c.kubeconfig.path is not None and ("\n" in c.kubeconfig.path or "apiVersion" in c.kubeconfig.path):
        yield Issue(f"{path}.kubeconfig.path", "looks like a kubeconfig's contents, which are credentials", None,
                    "store it as a secret: pulumi config set --secret <key> < kubeconfig, then "
                    "kubeconfig: {secret: <key>}")
    yield from check_aws_location(f"{path}.region", c.region, [(f"{path}.subnets.{z}", z) for z in c.subnets])
    for zone in c.subnets:
        if not zone.startswith(c.region):
            yield Issue(f"{path}.subnets.{zone}", f"zone is not in region {c.region}", zone,
                        f"use the cluster's zones ({c.region}a, {c.region}b, ...)")
    for zone, ref in c.subnets.items():
        yield from _reference(f"{path}.subnets.{zone}", ref, SUBNET_ID_PATTERN, "subnet-0123456789abcdef0")
    for i, ref in enumerate(c.security_groups):
        yield from _reference(f"{path}.security_groups[{i}]", ref, SG_ID_PATTERN, "sg-0123456789abcdef0")
    yield from _filters_match_infrastructure(path, c)
    yield from _autoscaler_reach(path, c)
    yield from _existing_gpu_limits(path, c)
    yield from _catalog_sources(path, c)
    yield from unique_names(f"{path}.tuning", [t.name for t in c.tuning])
    for t in c.tuning:
        yield from _tuning(f"{path}.tuning[{t.name}]", t)
    yield from unique_names(f"{path}.gpu_pools", [p.name for p in c.gpu_pools])
    profiles = {t.name for t in c.tuning}
    for pool in c.gpu_pools:
        yield from _pool(f"{path}.gpu_pools[{pool.name}]", c, pool, profiles)
        yield from _reservation(f"{path}.gpu_pools[{pool.name}]", c, pool)
        yield from _sharing(f"{path}.gpu_pools[{pool.name}].sharing", pool)
    yield from _autoscaler(f"{path}.autoscaler", c)
    yield from _approval(f"{path}.operators.nfd", c.operators.nfd, gpu_operator=False)
    yield from _approval(f"{path}.operators.gpu_operator", c.operators.gpu_operator, gpu_operator=True)
    yield from _kms_key(path, c)
    yield from unique_names(f"{path}.addons.namespaces", [n.name for n in c.addons.namespaces])
    for ns in c.addons.namespaces:
        if ns.name in RESERVED_NAMESPACES | OPENSHIFT_NAMESPACES or \
                ns.name.startswith((*RESERVED_NAMESPACE_PREFIXES, "openshift")):
            yield Issue(f"{path}.addons.namespaces[{ns.name}]", "is a namespace OpenShift or gpu-fleet owns",
                        ns.name, "give the team namespace its own name")


def _filters_match_infrastructure(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    """Name-tag filters must start with the infrastructure id, as every installer-made resource does.

    One that does not belongs to another cluster (or the id is another cluster's): machines would boot in its
    network.
    """
    prefix = f"{c.infrastructure_id}-"
    refs = [(f"{path}.subnets.{zone}.filter", ref) for zone, ref in c.subnets.items()] + \
        [(f"{path}.security_groups[{i}].filter", ref) for i, ref in enumerate(c.security_groups)]
    for key, ref in refs:
        if ref.filter is not None and not ref.filter.startswith(prefix):
            yield Issue(key, f"does not start with the cluster's infrastructure_id {c.infrastructure_id}: the "
                        "installer names every subnet and security group it makes <infrastructure_id>-...",
                        ref.filter, "run `gpu-fleet openshift discover` against this cluster again and use its "
                        "infrastructure_id and filters together; a group the installer did not make goes by "
                        "`{id: sg-...}`")


def _kms_key(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    """EBS encrypts a volume only with a key in the volume's own region."""
    if c.root_volume_kms_key is None:
        return
    m = KMS_KEY_ARN.match(c.root_volume_kms_key)
    if m is None:
        yield Issue(f"{path}.root_volume_kms_key", "not a KMS key ARN", c.root_volume_kms_key,
                    "the worker MachineSets' blockDevices[].ebs.kmsKey.arn, e.g. "
                    "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (discover copies it)")
    elif m["region"] != c.region:
        yield Issue(f"{path}.root_volume_kms_key", f"the key is in {m['region']}, the cluster in {c.region}: EBS "
                    "encrypts only with a key of the volume's region", c.root_volume_kms_key,
                    f"use the key (or the multi-Region replica) in {c.region}")


def _autoscaler_reach(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    """`maxNodesTotal` counts every node of the cluster: below what the GPU pools alone reach, they never get there."""
    total = c.autoscaler.max_nodes_total
    reach = sum((p.autoscaling.max_nodes if p.autoscaling is not None else p.replicas or 0) * len(p.zones)
                for p in c.gpu_pools)
    if total is not None and total < reach:
        yield Issue(f"{path}.autoscaler.max_nodes_total", f"below the {reach} nodes the GPU pools alone can reach "
                    "(max_nodes or replicas per zone, times zones); the limit counts every node of the cluster, "
                    "control plane and other workers too", total,
                    f"raise it to at least {reach} plus the cluster's other nodes, or lower the pools' max_nodes")


def fleet_accelerators() -> frozenset[str]:
    """Every `cluster-api/accelerator` value gpu-fleet's GPU machines can carry: the GPU limits gpu-fleet owns."""
    return frozenset(accelerator_value(g.id) for g in catalog.GPUS)


def _existing_gpu_limits(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    owned = fleet_accelerators()
    key = f"{path}.autoscaler.existing_gpu_limits"
    yield from unique_names(key, [g.type for g in c.autoscaler.existing_gpu_limits])
    for g in c.autoscaler.existing_gpu_limits:
        if g.type in owned:
            yield Issue(f"{key}[{g.type}]", "is an accelerator gpu-fleet sets the limit of (from its GPU pools)",
                        g.type, "remove the entry; only other teams' GPU types belong here")
        if g.max < g.min:
            yield Issue(f"{key}[{g.type}].max", "below min", g.max, f"use at least {g.min}")


def _catalog_sources(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    for op_key in ("nfd", "gpu_operator"):
        op = getattr(c.operators, op_key)
        for field_name in ("source", "source_namespace"):
            value = getattr(op, field_name)
            if value is not None and not OBJECT_NAME.match(value):
                yield Issue(f"{path}.operators.{op_key}.{field_name}", "not a Kubernetes object name", value,
                            "the CatalogSource's metadata.name (and namespace) as `oc get catalogsource -A` lists "
                            "it, e.g. redhat-operators in openshift-marketplace")


def _version(path: str, version: str) -> Iterator[Issue]:
    major, minor = (int(x) for x in version.split("."))
    low, high = OPENSHIFT_VERSIONS
    if (major, minor) < low or (major, minor) > high:
        yield Issue(path, f"the pinned GPU Operator bundle supports OpenShift {low[0]}.{low[1]} to "
                    f"{high[0]}.{high[1]}", version,
                    "upgrade the cluster first" if (major, minor) < low else
                    "pin a newer GPU Operator channel whose bundle declares this release (components/versions.py)")


def _reference(path: str, ref: AwsReference, pattern: str, example: str) -> Iterator[Issue]:
    if ref.id is not None and not re.match(pattern, ref.id):
        yield Issue(f"{path}.id", "not an AWS id of that kind", ref.id, f"an id such as {example}, or use "
                    "`filter:` with the resource's Name tag")


def _tuning(path: str, t: TuningProfile) -> Iterator[Issue]:
    for unit, contents in t.units.items():
        if _DRIVER_WORDS.search(unit) or _DRIVER_WORDS.search(contents):
            yield Issue(f"{path}.units.{unit}", "loads or manages the NVIDIA driver", unit,
                        "on RHCOS the GPU Operator's driver container builds and loads the driver (and runs "
                        "persistenced) with the Driver Toolkit; remove the unit")
    for key in t.sysctls:
        if key.lower().startswith("nccl"):
            yield Issue(f"{path}.sysctls.{key}", "NCCL settings are per-process environment, not sysctls", key,
                        "set NCCL_* in the training job's pod spec")


def _pool(path: str, c: OpenShiftCluster, pool: OpenShiftGpuPool, profiles: set[str]) -> Iterator[Issue]:
    machine = catalog.find_machine_type(pool.instance_type)
    refused = catalog.refusal(pool.instance_type)
    if refused is not None and refused.cloud is catalog.Cloud.AWS:
        yield Issue(f"{path}.instance_type", f"{refused.name} ({refused.carries}): {refused.reason}",
                    pool.instance_type, refused.hint)
    elif machine is None or machine.cloud is not catalog.Cloud.AWS or not machine.gpus:
        yield Issue(f"{path}.instance_type", "not an AWS GPU instance type in the catalog", pool.instance_type,
                    catalog.machine_hint(pool.instance_type, catalog.Cloud.AWS))
    if pool.efa and machine is not None and not machine.efa_interfaces:
        yield Issue(f"{path}.efa", f"{pool.instance_type} has no EFA interface", pool.instance_type,
                    "drop `efa`, or use an EFA instance type (g6.8xlarge and larger, p4d, p5)")
    for zone in pool.zones:
        if zone not in c.subnets:
            yield Issue(f"{path}.zones", "no subnet is configured for this zone", zone,
                        f"add subnets.{zone} to the cluster (gpu-fleet openshift discover lists them), or use "
                        f"one of {sorted(c.subnets)}")
        name = machine_set_name(c.infrastructure_id, pool.name, zone)
        if len(name) > MAX_LABEL_VALUE:
            yield Issue(f"{path}.name", f"MachineSet name {name} is {len(name)} characters; it is also a label "
                        f"value (at most {MAX_LABEL_VALUE})", pool.name, "shorten the pool name")
    if (pool.autoscaling is None) == (pool.replicas is None):
        yield Issue(path, "needs exactly one of `autoscaling` (a MachineAutoscaler per zone) or `replicas`", None,
                    "autoscaling: {min_nodes: 0, max_nodes: 2} lets idle GPU machines go away")
    if pool.autoscaling is not None and pool.autoscaling.max_nodes < pool.autoscaling.min_nodes:
        yield Issue(f"{path}.autoscaling.max_nodes", "below min_nodes", pool.autoscaling.max_nodes,
                    f"use at least {pool.autoscaling.min_nodes}")
    if isinstance(pool.tuning, list):
        yield Issue(f"{path}.tuning", "a node can belong to only one custom MachineConfigPool (the Machine Config "
                    "Operator stops at a node in two: \"belongs to 2 custom roles\")", ", ".join(pool.tuning),
                    "give the pool one profile holding all its settings; per-instance-type MachineConfigs in "
                    "one shared pool would land on every node of that pool")
    elif pool.tuning is not None and pool.tuning not in profiles:
        yield Issue(f"{path}.tuning", "no such tuning profile", pool.tuning,
                    f"define it under tuning, or use one of {sorted(profiles)}" if profiles else
                    "define it under the cluster's `tuning:` list")
    if pool.production_critical and pool.capacity is Capacity.SPOT:
        yield Issue(f"{path}.capacity", "a production-critical pool may not be spot: EC2 reclaims spot machines",
                    pool.capacity.value, "use on-demand, or drop production_critical")
    for key, value in pool.labels.items():
        if not K8S_LABEL_KEY.match(key) or not K8S_LABEL_VALUE.match(value):
            yield Issue(f"{path}.labels.{key}", "not a valid Kubernetes label", f"{key}={value}",
                        "keys and values: letters, digits, '-', '_' and '.', at most 63 characters")



def _autoscaler(path: str, c: OpenShiftCluster) -> Iterator[Issue]:
    a = c.autoscaler
    if a.mode is AutoscalerMode.CREATE and a.existing_gpu_limits:
        yield Issue(f"{path}.existing_gpu_limits", "lists a live ClusterAutoscaler's GPU limits, but mode is create "
                    "(gpu-fleet creates `default` and owns all of it)", len(a.existing_gpu_limits),
                    "use mode: patch when `default` exists (discover prints both), or drop existing_gpu_limits")
    yield from unique_names(f"{path}.existing_gpu_limits", [g.type for g in a.existing_gpu_limits])
    for g in a.existing_gpu_limits:
        if g.max < g.min:
            yield Issue(f"{path}.existing_gpu_limits[{g.type}].max", "below min", g.max, f"use at least {g.min}")


def _approval(path: str, op: Operator, *, gpu_operator: bool) -> Iterator[Issue]:
    if op.manage and op.approval is Approval.MANUAL and starting_csv(op, gpu_operator=gpu_operator) is None:
        yield Issue(f"{path}.approval", "manual approval needs the first install pinned: without `startingCSV` "
                    "the first InstallPlan someone approves installs whatever the channel's head is by then", "manual",
                    "set starting_csv (the channel's current CSV: oc get packagemanifest <package> -o "
                    "jsonpath='{.status.channels[*].currentCSV}'), or use approval: automatic")


def _reservation(path: str, c: OpenShiftCluster, pool: OpenShiftGpuPool) -> Iterator[Issue]:
    reservation = pool.capacity_reservation_id
    if pool.capacity is Capacity.CAPACITY_BLOCK:
        if reservation is None:
            yield Issue(f"{path}.capacity_reservation_id", "capacity-block needs the Capacity Block's reservation id",
                        None, "set capacity_reservation_id: cr-… (the Capacity Block you bought)")
        major, minor = (int(x) for x in c.version.split("."))
        if (major, minor) < CAPACITY_BLOCK_SINCE:
            yield Issue(f"{path}.capacity", f"the OpenShift {c.version} AWS machine provider has no "
                        "`marketType: CapacityBlock` (it arrived in 4.19)", pool.capacity.value,
                        "upgrade the cluster to 4.19 or later, or use an On-Demand Capacity Reservation "
                        "(capacity: on-demand with capacity_reservation_id)")
    if reservation is not None and pool.capacity is Capacity.SPOT:
        yield Issue(f"{path}.capacity_reservation_id", "a spot machine cannot launch into a capacity reservation "
                    "(the AWS machine provider refuses the pair)", reservation,
                    "drop capacity_reservation_id, or use capacity: on-demand / capacity-block")
    if reservation is not None and len(pool.zones) > 1:
        yield Issue(f"{path}.zones", "a capacity reservation lives in one zone; the other zones' machines could "
                    "never launch", ", ".join(pool.zones), "give the reserved pool the reservation's zone only, "
                    "and another pool for the other zones")


def _sharing(path: str, pool: OpenShiftGpuPool) -> Iterator[Issue]:
    if pool.sharing is None or pool.sharing.mig is None:
        return
    machine = catalog.find_machine_type(pool.instance_type)
    if machine is None or not machine.gpus:
        return
    partitions = catalog.gpu(machine.gpu).mig_partitions
    if pool.sharing.mig not in partitions:
        yield Issue(f"{path}.mig", f"{machine.gpu} has no MIG partition of that size" if partitions else
                    f"{machine.gpu} GPUs have no MIG", pool.sharing.mig,
                    f"use one of {', '.join(partitions)}" if partitions else
                    "use time_slicing, or an A100/H100/H200 instance type (p4d, p5)")
