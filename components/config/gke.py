"""The `gke:` section of a stack: network, regions, clusters, system and GPU node pools, as pydantic models.

Structure and types are checked here (unknown keys are errors); rules that span fields and need the GPU
catalog live in `components.config.gke_rules`.
"""

from __future__ import annotations

from enum import Enum

from pydantic import ConfigDict, Field

from components.config.addons import Addons
from components.config.base import Count, Name, Region, Strict, Zone

SYSTEM_POOL_NAME = "system"
"""The GKE name of every cluster's system node pool; GPU pools may not take it."""

class BootDiskType(str, Enum):
    """The node boot disk types GKE accepts (pulumi_gcp NodePool node_config.disk_type)."""

    PD_STANDARD = "pd-standard"
    PD_BALANCED = "pd-balanced"
    PD_SSD = "pd-ssd"
    HYPERDISK_BALANCED = "hyperdisk-balanced"

class ReleaseChannel(str, Enum):
    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"
    EXTENDED = "EXTENDED"


class ClusterClass(str, Enum):
    """Seed 000's cluster classes: large ML training, research (spot-friendly), services (no GPUs needed)."""

    LARGE_ML = "large-ml"
    RESEARCH = "research"
    SERVICE = "service"

class DriverVersion(str, Enum):
    DEFAULT = "DEFAULT"
    LATEST = "LATEST"


class ScalingScope(str, Enum):
    ZONE = "zone"
    """min_nodes/max_nodes apply to each zone in `zones` (GKE min_node_count/max_node_count)."""
    TOTAL = "total"
    """min_nodes/max_nodes apply to the pool as a whole (GKE total_min_node_count/total_max_node_count)."""


class CapacityModel(str, Enum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"
    FLEX_START = "flex-start"
    """Dynamic Workload Scheduler flex-start VMs (node_config.flex_start)."""
    QUEUED = "queued"
    """Dynamic Workload Scheduler queued provisioning (ProvisioningRequest); pool scales from zero."""


class SharingStrategy(str, Enum):
    TIME_SHARING = "time-sharing"
    MPS = "mps"


class ReservationMode(str, Enum):
    ANY = "any"
    SPECIFIC = "specific"
    NONE = "none"


class Autoscaling(Strict):
    per: ScalingScope
    """Whether min_nodes/max_nodes count per zone or for the whole pool; required so nobody has to guess."""
    min_nodes: Count = Field(ge=0)
    max_nodes: Count = Field(ge=0)


class GpuSharing(Strict):
    strategy: SharingStrategy
    max_clients_per_gpu: Count = Field(ge=2, le=48)


class Reservation(Strict):
    mode: ReservationMode = ReservationMode.ANY
    name: str | None = None
    """Reservation name, required with mode `specific`."""


class AcceleratorOverride(Strict):
    """Optional restatement of the machine's GPUs; must agree with the catalog (seeds retyped it wrongly)."""

    type: str
    count: Count = Field(ge=1)


class LocationPolicy(str, Enum):
    """How the autoscaler spreads a multi-zone pool's nodes (GKE autoscaling.location_policy)."""

    BALANCED = "BALANCED"
    """Even across zones; a zone without capacity holds back the whole scale-up."""
    ANY = "ANY"
    """Wherever capacity (and unused reservations) is: what scarce GPUs, Spot and DWS need."""


class UpgradeStrategy(str, Enum):
    SURGE = "surge"
    BLUE_GREEN = "blue-green"


class PoolUpgrade(Strict):
    """How GKE replaces a pool's nodes on upgrades (node_pool upgrade_settings)."""

    strategy: UpgradeStrategy = UpgradeStrategy.SURGE
    max_surge: Count = Field(default=0, ge=0)
    """Surge: extra nodes during the upgrade. 0 by default: a surge node needs GPUs beyond the pool's maximum,
    which the quota plan does not hold."""
    max_unavailable: Count = Field(default=1, ge=0)
    """Surge: nodes drained at once."""
    batch_node_count: Count = Field(default=1, ge=1)
    """Blue-green: blue nodes drained per batch."""
    batch_soak: str = "300s"
    """Blue-green: wait after each batch (a duration in seconds, e.g. 300s)."""
    node_pool_soak: str = "3600s"
    """Blue-green: how long the drained blue pool is kept for a fast rollback."""


class LocalSsdMode(str, Enum):
    EPHEMERAL = "ephemeral"
    """Node ephemeral storage (containerd images, emptyDir) on local NVMe."""
    RAW_BLOCK = "raw-block"
    """Raw NVMe block devices for the workload (caches, Lustre/GCS-FUSE buffers)."""


class FabricTransport(str, Enum):
    """GPU fabric transports, as a pool may restate them (gpu-fleet derives the transport from the machine)."""

    TCPX = "tcpx"
    TCPXO = "tcpxo"
    RDMA = "rdma"


class GpuFabric(Strict):
    """A pool's GPU-to-GPU networking; unset: on where the machine has a fabric, every value from the catalog.

    A3 High (8g), A3 Mega and A3 Ultra have one. `transport`, `networks` and `mtu` only restate the catalog and
    must agree with it (the seeds got them wrong).
    """

    enabled: bool = True
    """False: the pool's GPUs talk across nodes over the primary NIC only (TCP)."""
    transport: FabricTransport | None = None
    networks: Count | None = Field(default=None, ge=1)
    """Extra NICs per node (A3 High 4, A3 Mega 8, A3 Ultra 9: one gVNIC and eight RDMA)."""
    mtu: Count | None = Field(default=None, ge=1)
    """MTU of the pool's GPU networks (8244 on A3 High and Mega, 8896 on A3 Ultra)."""


class GpuPool(Strict):
    name: Name
    machine_type: str
    accelerator: AcceleratorOverride | None = None
    zones: list[Zone] = Field(min_length=1)
    """Explicit node_locations; with autoscaling `per: zone` each zone gets min..max nodes."""
    autoscaling: Autoscaling
    location_policy: LocationPolicy | None = None
    """Unset: ANY for a multi-zone pool and for Spot and DWS capacity, BALANCED for a single-zone on-demand pool."""
    capacity: CapacityModel = CapacityModel.ON_DEMAND
    upgrade: PoolUpgrade = Field(default_factory=PoolUpgrade)
    production_critical: bool = False
    """Serving or training that must not be preempted; policies forbid spot capacity for it."""
    driver_version: DriverVersion = DriverVersion.DEFAULT
    sharing: GpuSharing | None = None
    mig_partition: str | None = None
    """GKE gpu_partition_size, e.g. `1g.10gb`; one size per pool."""
    compact_placement: bool = False
    reservation: Reservation | None = None
    gvnic: bool = True
    local_ssd_count: Count | None = Field(default=None, ge=0)
    """Local NVMe SSDs (375 GB each). Unset: the machine's bundled count (A2 Ultra, A3), else none; 0: none."""
    local_ssd_mode: LocalSsdMode = LocalSsdMode.EPHEMERAL
    disk_type: BootDiskType | None = None
    """Boot disk type; unset lets GKE pick what the machine supports (pd-balanced, or hyperdisk-balanced where
    the machine has no Persistent Disk, as on the newest A3 machines)."""
    disk_size_gb: Count = Field(default=200, ge=10)
    labels: dict[str, str] = Field(default_factory=dict)
    fabric: GpuFabric | None = None
    """GPU fabric (extra NICs, GPUDirect); unset: the machine's own (see GpuFabric)."""


class SystemPool(Strict):
    machine_type: str = "e2-standard-4"
    min_nodes_per_zone: Count = Field(default=1, ge=0)
    max_nodes_per_zone: Count = Field(default=3, ge=1)
    zones: list[Zone] | None = None
    """Defaults to the zones GKE picks for the regional cluster."""


class AuthorizedNetwork(Strict):
    name: str
    cidr: str


class GpuLimit(Strict):
    gpu: str
    """Catalog GPU id, e.g. `h100-80gb`."""
    max: Count = Field(ge=0)


class AutoProvisioning(Strict):
    """GKE node auto-provisioning; when enabled it must carry GPU limits (policy `nap-gpu-limits`)."""

    enabled: bool = False
    cpu_max: Count = Field(default=1000, ge=1)
    memory_max_gb: Count = Field(default=4000, ge=1)
    gpu_limits: list[GpuLimit] = Field(default_factory=list)

class ExclusionScope(str, Enum):
    NO_UPGRADES = "no-upgrades"
    """Nothing is upgraded (at most 30 days)."""
    NO_MINOR_UPGRADES = "no-minor-upgrades"
    NO_MINOR_OR_NODE_UPGRADES = "no-minor-or-node-upgrades"
    """Control-plane patches only: nodes are never drained by an upgrade (what long training runs need)."""


class Weekday(str, Enum):
    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"


class MaintenanceWindow(Strict):
    """A weekly window (UTC) in which GKE may upgrade; GKE wants 48 hours of it in any 32 days, in 4-hour runs."""

    start: str = Field(default="02:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    """Start time of day, HH:MM in UTC."""
    duration_hours: Count = Field(default=6, ge=4, le=24)
    days: list[Weekday] = Field(default_factory=lambda: [Weekday.SA, Weekday.SU], min_length=1)


class MaintenanceExclusion(Strict):
    name: Name
    start: str
    """RFC 3339 time, e.g. 2026-12-01T00:00:00Z."""
    end: str | None = None
    """RFC 3339 time; unset with scope no-minor-*: until the cluster's minor version reaches end of support."""
    scope: ExclusionScope = ExclusionScope.NO_MINOR_OR_NODE_UPGRADES


class Maintenance(Strict):
    window: MaintenanceWindow = Field(default_factory=MaintenanceWindow)
    exclusions: list[MaintenanceExclusion] = Field(default_factory=list)
    notifications: bool = True
    """Upgrade-available, upgrade and security-bulletin events to a Pub/Sub topic of the cluster's own."""


class SecretsEncryption(Strict):
    """Application-layer encryption of Kubernetes Secrets with Cloud KMS (CIS GKE 5.3.1)."""

    enabled: bool = True
    kms_key: str | None = None
    """An existing key (projects/P/locations/REGION/keyRings/R/cryptoKeys/K) in the cluster's region; unset:
    gpu-fleet creates a key ring and key for the cluster."""


class GkeCluster(Strict):
    name: Name
    cluster_class: ClusterClass = Field(alias="class")
    pods_cidr: str
    services_cidr: str
    master_cidr: str
    """The control plane's /28 (private nodes)."""
    dns_endpoint: bool = True
    """GKE's DNS-based control-plane endpoint, reachable from anywhere and gated by IAM (not by source IP):
    how CI runners with changing addresses reach the cluster. The kubeconfig and provider use it."""
    ip_endpoint: bool = True
    """The IP endpoints; false leaves only the DNS endpoint (then public_endpoint and authorized_networks have
    no effect)."""
    public_endpoint: bool = True
    """Control plane reachable on a public IP (restricted to authorized_networks); false = private endpoint."""
    master_global_access: bool = True
    authorized_networks: list[AuthorizedNetwork] = Field(default_factory=list)
    system_pool: SystemPool = Field(default_factory=SystemPool)
    auto_provisioning: AutoProvisioning = Field(default_factory=AutoProvisioning)
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    addons: Addons = Field(default_factory=Addons)
    maintenance: Maintenance = Field(default_factory=Maintenance)
    secrets_encryption: SecretsEncryption = Field(default_factory=SecretsEncryption)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GkeRegion(Strict):
    name: Region
    subnet_cidr: str
    clusters: list[GkeCluster] = Field(default_factory=list)
    gpu_cidr: str | None = None
    """The block (/12 to /16) the region's GPU-network subnets are carved from; required where a pool has a GPU
    fabric. Each family takes a fixed eighth, each NIC a fixed 1/64 of that: adding a family or zone moves nothing."""


class Nat(Strict):
    """Cloud NAT port allocation: dynamic, so a GPU node pulling many multi-GB images gets the ports it needs."""

    min_ports_per_vm: Count = Field(default=128, ge=32, le=65536)
    max_ports_per_vm: Count = Field(default=16384, ge=64, le=65536)


class Network(Strict):
    name: Name = "ml-network"
    mtu: Count = 1460
    """1460 to 8896; seed 002 wants 8896 for 100 Gbps+ GPU networking."""
    nat: Nat = Field(default_factory=Nat)


class BinaryAuthorizationMode(str, Enum):
    ENFORCED = "enforced"
    """Images outside the allow-list are refused (and audit-logged)."""
    DRY_RUN = "dry-run"
    """Every image is admitted; what would have been refused is audit-logged."""


class BinaryAuthorization(Strict):
    """The project's Binary Authorization policy, which every gpu-fleet cluster evaluates (CIS GKE 5.10)."""

    mode: BinaryAuthorizationMode = BinaryAuthorizationMode.DRY_RUN


class Gke(Strict):
    project: str | None = None
    """GCP project id; defaults to the stack's `gcp:project`."""
    network: Network = Field(default_factory=Network)
    release_channel: ReleaseChannel = ReleaseChannel.REGULAR
    deletion_protection: bool = True
    regions: list[GkeRegion] = Field(min_length=1)
    security_group: str | None = None
    """Google Groups for RBAC: the `gke-security-groups@<domain>` group whose member groups RoleBindings may
    name; unset: RBAC subjects are users and service accounts only."""
    binary_authorization: BinaryAuthorization = Field(default_factory=BinaryAuthorization)
    min_master_version: str | None = None
    """Lowest GKE version for the clusters (e.g. 1.33 or 1.32.11-gke.1174000); unset: the release channel's
    default. GPU fabric pools need at least their family's version (checked)."""
