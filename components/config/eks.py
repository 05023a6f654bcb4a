"""The `eks:` section of a stack: AWS regions, their EKS clusters and each cluster's GPU pools (Karpenter NodePools).

Structure and types are checked here (unknown keys are errors); rules that span fields and need the GPU
catalog live in `components.config.eks_rules`, `eks_deploy_rules` and `eks_pool_rules`. Every list item is keyed
by its `name`, which also names the resources made for it.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field, StringConstraints

from components import catalog
from components.catalog import aws_limits
from components.config.addons import TeamNamespace
from components.config.base import Count, Name, Strict
from components.config.gke import MaintenanceExclusion, MaintenanceWindow

AWS_REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"
AWS_ZONE_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$"
K8S_VERSION_PATTERN = r"^1\.[0-9]{2}$"
AMI_VERSION_PATTERN = r"^v[0-9]{8}$"
DURATION_PATTERN = r"^([0-9]+(s|m|h))+$"
"""Karpenter's `terminationGracePeriod` pattern (NodePool CRD v1.14.1), and gpu-fleet's other durations."""
DURATION_OR_NEVER_PATTERN = r"^(([0-9]+(s|m|h))+|Never)$"
"""Karpenter's `expireAfter` and `consolidateAfter` pattern (NodePool CRD v1.14.1): a duration, or `Never`."""
BUDGET_NODES_PATTERN = r"^((100|[0-9]{1,2})%|[0-9]+)$"
"""Karpenter's `disruption.budgets[].nodes`: a share ("10%") or a count ("2"), as the NodePool CRD accepts."""
PRINCIPAL_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$"
RESERVATION_ID_PATTERN = r"^cr-[0-9a-z]+$"
PLACEMENT_GROUP_ID_PATTERN = r"^pg-[0-9a-z]+$"
"""EC2NodeClass `placementGroupSelector.id` (karpenter.k8s.aws_ec2nodeclasses.yaml)."""
CPU_POOL_NAME = "cpu"
"""The NodePool and EC2NodeClass name of a cluster's general-purpose CPU pool; GPU pools may not take it."""
RUNNER_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:{}$ -]{0,199}$"
"""A GitHub Actions `runs-on` label; `${{ github.run_id }}` / `${{ github.run_attempt }}` are the only expressions
allowed (CodeBuild-hosted runners need them: `codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`)."""
LOG_RETENTION_DAYS = aws_limits.LOG_RETENTION_DAYS
"""The retention periods CloudWatch Logs accepts (the catalog's, with its source). 0 (never expire) is not one of
them on purpose: control-plane logs would then grow without bound."""

AwsRegion = Annotated[str, StringConstraints(pattern=AWS_REGION_PATTERN)]
AwsZone = Annotated[str, StringConstraints(pattern=AWS_ZONE_PATTERN)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
DurationOrNever = Annotated[str, StringConstraints(pattern=DURATION_OR_NEVER_PATTERN)]


class CapacityType(str, Enum):
    """Karpenter's `karpenter.sh/capacity-type` values. Karpenter prefers reserved, then spot, then on-demand."""

    RESERVED = "reserved"
    """On-Demand Capacity Reservations and Capacity Blocks selected by `capacity_reservations`."""
    SPOT = "spot"
    ON_DEMAND = "on-demand"


class Consolidation(str, Enum):
    """NodePool `disruption.consolidationPolicy` (Karpenter v1.14)."""

    WHEN_EMPTY = "WhenEmpty"
    """Only empty nodes are removed: what multi-node training wants."""
    WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"
    BALANCED = "Balanced"
    """Consolidates only when the savings are worth the disruption (new in 1.14)."""


class NatMode(str, Enum):
    PER_ZONE = "per-zone"
    """One NAT gateway per zone: a zone outage takes only its own egress down (production)."""
    SINGLE = "single"
    """One shared NAT gateway in the first zone: cheaper, one zone's outage cuts every node's egress."""


class SupportType(str, Enum):
    """EKS upgrade policy: STANDARD upgrades at the end of standard support; EXTENDED pays for extended support."""

    STANDARD = "STANDARD"
    EXTENDED = "EXTENDED"


class LogType(str, Enum):
    API = "api"
    AUDIT = "audit"
    AUTHENTICATOR = "authenticator"
    CONTROLLER_MANAGER = "controllerManager"
    SCHEDULER = "scheduler"


class GpuSoftware(str, Enum):
    """Who runs the NVIDIA software on GPU nodes (the AL2023 NVIDIA AMI carries the driver and the toolkit)."""

    DEVICE_PLUGIN = "device-plugin"
    """NVIDIA's device plugin chart, plus dcgm-exporter when `dcgm_exporter` is on."""
    OPERATOR = "operator"
    """NVIDIA GPU Operator with its driver and toolkit off (the AMI has them); it runs its own dcgm-exporter."""


class FlowTraffic(str, Enum):
    """`aws.ec2.FlowLog` `traffic_type`: which packets' flow records are kept."""

    ALL = "ALL"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    """Only traffic the security groups and network ACLs refused: the cheapest record of probing."""


class FlowLogs(Strict):
    """VPC flow logs of every VPC gpu-fleet creates (checkov CKV2_AWS_11).

    Each VPC writes to a CloudWatch log group of its own, encrypted with a KMS key of its own.
    """

    enabled: bool = True
    retention_days: Count = 365
    """Days CloudWatch keeps the records: one of CloudWatch's periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180,
    365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653); checkov CKV_AWS_338 asks for a year or more."""
    traffic: FlowTraffic = FlowTraffic.ALL


class CapacityReservationTerm(Strict):
    """One `capacityReservationSelectorTerms` entry: an ODCR or Capacity Block by id, or by tags."""

    id: Annotated[str, StringConstraints(pattern=RESERVATION_ID_PATTERN)] | None = None
    tags: dict[str, str] | None = None
    """Tags every selected reservation carries (1 to 20; `*` as a value matches any value of that key)."""


class Disruption(Strict):
    consolidation: Consolidation = Consolidation.WHEN_EMPTY
    consolidate_after: DurationOrNever = "10m"
    """How long a node must be empty (or underutilized) before Karpenter consolidates it; `Never` turns it off."""
    budget_nodes: Annotated[str, StringConstraints(pattern=BUDGET_NODES_PATTERN)] = "10%"
    """At most this many of the pool's nodes are disrupted at once."""
    expire_after: DurationOrNever | None = None
    """Nodes are replaced after this long (picks up AMI and security fixes). Unset: `720h`, and `Never` on a
    training pool (`is_training`), where anything but `Never` is refused: expiry is forceful and ignores
    `karpenter.sh/do-not-disrupt`."""
    termination_grace_period: Duration | None = None
    """How long a draining node waits for its pods before it is terminated anyway. Unset: `24h`, and none on a
    training pool (refused there: with it set, drift may evict pods that carry `karpenter.sh/do-not-disrupt`)."""


class Workload(str, Enum):
    """What a pool's nodes run; training pools are protected from expiry, drift and consolidation (`is_training`)."""

    TRAINING = "training"
    """Long jobs: disrupted only when empty, or by drift inside the cluster's maintenance window."""
    SERVING = "serving"
    """Inference or interactive work that tolerates a node being replaced."""


class PlacementGroupRef(Strict):
    """Which placement group a pool's nodes launch into; give exactly one key.

    An existing one (by name or id), one gpu-fleet creates for an EFA pool (`create: true`), or none
    (`create: false`).
    """

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    """An existing placement group, e.g. the one a capacity reservation was made in."""
    id: Annotated[str, StringConstraints(pattern=PLACEMENT_GROUP_ID_PATTERN)] | None = None
    create: bool | None = None
    """True: gpu-fleet creates a `cluster` placement group for the pool (refused with `reserved` capacity)."""


class CpuCategory(str, Enum):
    """`karpenter.k8s.aws/instance-category` values of general-purpose EC2 families."""

    C = "c"
    """Compute optimized (c7i: 2 GiB per vCPU)."""
    M = "m"
    """General purpose (m7i: 4 GiB per vCPU)."""
    R = "r"
    """Memory optimized (r7i: 8 GiB per vCPU)."""


class CpuPool(Strict):
    """The cluster's general-purpose, untainted Karpenter pool (NodePool `cpu`).

    Data loaders, notebooks, Ray heads and web UIs, which the tainted GPU pools and the system node group (nothing
    scales it) do not take.
    """

    enabled: bool = True
    cpu_limit: Count = Field(default=256, ge=1)
    """NodePool `limits: cpu`: the most vCPUs the pool may run."""
    capacity_types: list[CapacityType] = Field(default_factory=lambda: [CapacityType.SPOT, CapacityType.ON_DEMAND],
                                               min_length=1)
    """`spot` and/or `on-demand` (Karpenter prefers spot when both are allowed); `reserved` is refused."""
    categories: list[CpuCategory] = Field(default_factory=lambda: [CpuCategory.C, CpuCategory.M, CpuCategory.R],
                                          min_length=1)
    min_generation: Count = Field(default=7, ge=5, le=9)
    """Lowest `karpenter.k8s.aws/instance-generation` (7: c7i, m7i, r7i and newer)."""
    consolidate_after: DurationOrNever = "5m"
    """How long a node stays empty or underutilized before Karpenter consolidates it."""


class EksMaintenance(Strict):
    """When Karpenter may replace drifted or underutilized nodes of training pools.

    GKE's recurring weekly window (same keys, UTC). Outside it, those disruptions are blocked by NodePool budgets.
    """

    window: MaintenanceWindow = Field(default_factory=MaintenanceWindow)
    exclusions: list[MaintenanceExclusion] = Field(default_factory=list)
    """Accepted for GKE parity but refused when non-empty: Karpenter budget schedules are cron without a year, so a
    dated exclusion would recur every year."""


class DeployFrom(Strict):
    """Where CI runs `pulumi preview` and `pulumi up` for this cluster, and how it reaches the API endpoint.

    Exactly one of `private_cidrs` (a runner inside the VPC, or in a network routed to it) and `public_cidrs`
    (a runner outside, whose egress the public endpoint admits). GitHub-hosted runners fit neither: their egress
    addresses are shared and change, and the private endpoint resolves to VPC addresses only.
    """

    runner: list[Annotated[str, StringConstraints(pattern=RUNNER_LABEL_PATTERN)]] = Field(min_length=1)
    """`runs-on` labels of the runner that previews and deploys the stack: a self-hosted runner's labels, or a
    CodeBuild-hosted runner's `codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`."""
    private_cidrs: list[str] = Field(default_factory=list)
    """The runner's own addresses inside the VPC (or a peered / transit network routed to it): the cluster security
    group admits HTTPS from them, since EKS's cluster group admits only its own members."""
    public_cidrs: list[str] = Field(default_factory=list)
    """The runner's egress addresses (a static NAT or static-IP runners); each must lie in `public_access_cidrs`."""


class EksGpuPool(Strict):
    """A Karpenter NodePool and its EC2NodeClass: one GPU model, several instance sizes allowed."""

    name: Name
    instance_types: list[str] = Field(min_length=1)
    """EC2 instance types from the catalog, all carrying the same GPU."""
    gpu: str | None = None
    """Optional restatement of the GPU (catalog id, e.g. `l40s`); must agree with the instance types."""
    capacity_types: list[CapacityType] = Field(min_length=1)
    capacity_reservations: list[CapacityReservationTerm] = Field(default_factory=list)
    """ODCRs or Capacity Blocks the pool may consume; required with capacity type `reserved`, and only then."""
    gpu_limit: Count = Field(ge=1)
    """NodePool `limits: nvidia.com/gpu`: the most GPUs the pool may run (required: the runtime cap)."""
    zones: list[Annotated[str, StringConstraints(pattern=AWS_ZONE_PATTERN)]] | None = None
    """Zones of the cluster the pool may use; defaults to all of them."""
    weight: Count | None = Field(default=None, ge=1, le=100)
    """Karpenter tries pools with a higher weight first."""
    disruption: Disruption = Field(default_factory=Disruption)
    root_volume_gb: Count = Field(default=200, ge=20, le=16384)
    """Root EBS volume (gp3, encrypted); instance-store NVMe is used as RAID0 ephemeral storage besides."""
    production_critical: bool = False
    """Serving or training that must not be preempted; spot is then refused."""
    labels: dict[str, str] = Field(default_factory=dict)
    efa: bool | None = None
    """EFA interfaces on the pool's nodes (the catalog's count, one ENA primary beside them), a cluster placement
    group and one zone; unset: on for multi-node training instances (p4d, p4de, p5, p5e, p5en)."""
    placement_group: PlacementGroupRef | None = None
    """Unset: an EFA pool without `reserved` capacity gets a `cluster` placement group gpu-fleet creates; a pool
    with `reserved` capacity gets none (a reservation bought earlier is not inside a new group)."""
    workload: Workload | None = None
    """`training` protects the pool's nodes like a reserved or production-critical pool (`is_training`)."""
    dedicated: bool | None = None
    """Nodes carry the taint `gpu-fleet/pool=<name>:NoSchedule`, so only pods that tolerate it land there.
    Unset: on for training pools and pools whose every instance type carries 8 or more GPUs."""


class SystemNodes(Strict):
    """The managed node group (AL2023) that runs system pods and the Karpenter controller."""

    instance_type: str = "m7i.xlarge"
    min_size: Count = Field(default=2, ge=1)
    max_size: Count = Field(default=4, ge=1)


class EksAddons(Strict):
    gpu_software: GpuSoftware = GpuSoftware.DEVICE_PLUGIN
    dcgm_exporter: bool = True
    """Run NVIDIA dcgm-exporter on GPU nodes (standalone chart, or the operator's own)."""
    priority_classes: bool = True
    namespaces: list[TeamNamespace] = Field(default_factory=list)


class EksCluster(Strict):
    name: Name
    vpc_cidr: str
    """The cluster's VPC, /16 to /20: private subnets take one eighth each, public ones a /24-equivalent."""
    zones: list[AwsZone] = Field(min_length=2)
    """EKS needs subnets in at least two zones."""
    nat: NatMode = NatMode.PER_ZONE
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Networks allowed to reach a public API endpoint; empty keeps the endpoint private only."""
    deploy_from: DeployFrom | None = None
    """How CI reaches this cluster's API (required: a stack with no path to an endpoint cannot deploy)."""
    log_types: list[LogType] = Field(default_factory=lambda: [LogType.API, LogType.AUDIT, LogType.AUTHENTICATOR])
    """Control-plane log types sent to CloudWatch: any of the five, `audit` always among them (CIS EKS 2.1.1)."""
    log_retention_days: Count = 90
    """How long CloudWatch keeps the control-plane logs; one of CloudWatch's retention periods."""
    ami_version: Annotated[str, StringConstraints(pattern=AMI_VERSION_PATTERN)]
    """The AL2023 release GPU nodes boot (`al2023@<version>`); pinned, never `latest`."""
    system_nodes: SystemNodes = Field(default_factory=SystemNodes)
    gpu_pools: list[EksGpuPool] = Field(default_factory=list)
    cpu_pool: CpuPool = Field(default_factory=CpuPool)
    maintenance: EksMaintenance = Field(default_factory=EksMaintenance)
    """The window in which training pools' nodes may be replaced (drift, consolidation)."""
    addons: EksAddons = Field(default_factory=EksAddons)


class EksRegion(Strict):
    name: AwsRegion
    clusters: list[EksCluster] = Field(min_length=1)


class Eks(Strict):
    kubernetes_version: Annotated[str, StringConstraints(pattern=K8S_VERSION_PATTERN)] = "1.35"
    admin_principal_arn: Annotated[str, StringConstraints(pattern=PRINCIPAL_ARN_PATTERN)]
    """The IAM role or user given cluster admin through an access entry (the creator gets nothing implicit)."""
    deploy_principal_arn: Annotated[str, StringConstraints(pattern=PRINCIPAL_ARN_PATTERN)] | None = None
    """The identity `pulumi up` runs as (CI's deploy role), given cluster admin; unset: the caller's session issuer
    (the role behind the assumed-role session), as terraform-aws-eks' creator admin permissions."""
    preview_principal_arn: Annotated[str, StringConstraints(pattern=PRINCIPAL_ARN_PATTERN)] | None = None
    """The identity pull-request previews run as, given read-only AmazonEKSViewPolicy; unset: no separate entry."""
    deletion_protection: bool = True
    support_type: SupportType = SupportType.STANDARD
    zonal_shift: bool = True
    """EKS zonal shift, and Karpenter's `settings.enableZonalShift` with it."""
    regions: list[EksRegion] = Field(min_length=1)
    flow_logs: FlowLogs = Field(default_factory=FlowLogs)
    """Flow logs of every cluster's VPC."""
    addon_versions: dict[str, str] = Field(default_factory=dict)
    """Managed add-on name -> EKS add-on version (`v1.2.3-eksbuild.4`), overriding the pin for
    `kubernetes_version` in components/versions.py; required for an add-on that has no pin for that minor."""


def is_training(pool: EksGpuPool) -> bool:
    """Pools whose nodes run long jobs: reserved capacity, production-critical, or `workload: training`."""
    return (CapacityType.RESERVED in pool.capacity_types or pool.production_critical
            or pool.workload is Workload.TRAINING)


def expire_after(pool: EksGpuPool) -> str:
    """The NodePool's `expireAfter`: the configured value, else `Never` for training pools and 720h otherwise."""
    return pool.disruption.expire_after or ("Never" if is_training(pool) else "720h")


def termination_grace_period(pool: EksGpuPool) -> str | None:
    """The NodePool's `terminationGracePeriod`: the configured value, else none for training pools and 24h."""
    return pool.disruption.termination_grace_period or (None if is_training(pool) else "24h")


def is_dedicated(pool: EksGpuPool) -> bool:
    """Whether the pool's nodes carry the pool taint: set, or a training pool, or 8+ GPUs on every type."""
    if pool.dedicated is not None:
        return pool.dedicated
    found = [catalog.find_machine_type(t) for t in pool.instance_types]
    eight = all(m is not None and m.gpus >= 8 for m in found)
    return is_training(pool) or eight


def creates_placement_group(pool: EksGpuPool) -> bool:
    """Whether gpu-fleet creates a cluster placement group for the pool (EFA pools without reserved capacity)."""
    ref = pool.placement_group
    if ref is not None:
        return bool(ref.create)
    return bool(efa_interfaces(pool)) and CapacityType.RESERVED not in pool.capacity_types


def efa_interfaces(pool: EksGpuPool) -> int:
    """EFA interfaces each node of the pool gets: the instance types' count where EFA is on, else 0.

    Validated: EFA pools allow instance types of one EFA count (an EC2NodeClass has one interface layout).
    """
    on = pool.efa if pool.efa is not None else all(catalog.fabric.efa_by_default(t) for t in pool.instance_types)
    return catalog.machine_type(pool.instance_types[0]).efa_interfaces if on else 0


MAX_ZONE_INDEX = 6
"""Zones `a` to `f`: each takes a fixed eighth of the VPC, so adding or reordering zones moves no subnet."""
VPC_PREFIXES = (16, 20)


def zone_subnets(vpc_cidr: str, zone: str) -> tuple[str, str]:
    """The (private, public) subnet CIDRs of `zone` in a validated `vpc_cidr`, from the zone's letter alone.

    Private subnets take the eighth of the VPC at the letter's index (a=0 ... f=5); public ones take a
    sixty-fourth each from the last eighth. Derived from the zone's name, never from list positions, so a
    stack that adds a zone keeps every existing subnet.
    """
    import ipaddress

    net = ipaddress.IPv4Network(vpc_cidr)
    index = ord(zone[-1]) - ord("a")
    eighths = list(net.subnets(prefixlen_diff=3))
    public = list(eighths[-1].subnets(prefixlen_diff=3))
    return str(eighths[index]), str(public[index])
