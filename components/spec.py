"""The typed stack specification: what a `Pulumi.<stack>.yaml` may say, as pydantic v2 models.

Structure and types are checked here (unknown keys are errors); rules that span fields and need the GPU
catalog (CIDR overlaps, zones, machine types, accelerators) live in `components.validation`. Components
receive these models already validated, never raw config.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"
REGION_PATTERN = r"^[a-z]+-[a-z]+[0-9]+$"
ZONE_PATTERN = r"^[a-z]+-[a-z]+[0-9]+-[a-z]$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A GCP/Kubernetes-safe name (RFC 1035, at most 40 characters); also the stable key of logical names."""

SYSTEM_POOL_NAME = "system"
"""The GKE name of every cluster's system node pool; GPU pools may not take it."""
OPERATOR_NAMESPACE = "gpu-operator"
DCGM_NAMESPACE = "gpu-monitoring"
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "gmp-system",
                                 "gmp-public", OPERATOR_NAMESPACE, DCGM_NAMESPACE})
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-", "gmp-")
"""Namespaces Kubernetes, GKE or gpu-fleet's add-ons own (and prefixes of theirs); team namespaces may not
take them."""

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
Zone = Annotated[str, StringConstraints(pattern=ZONE_PATTERN)]


class BootDiskType(str, Enum):
    """The node boot disk types GKE accepts (pulumi_gcp NodePool node_config.disk_type)."""

    PD_STANDARD = "pd-standard"
    PD_BALANCED = "pd-balanced"
    PD_SSD = "pd-ssd"
    HYPERDISK_BALANCED = "hyperdisk-balanced"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Platform(str, Enum):
    GKE = "gke"
    EKS = "eks"
    OPENSHIFT = "openshift"


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


class GpuStack(str, Enum):
    """Who runs the GPU software on nodes."""

    GKE = "gke"
    """GKE installs the driver and runs its device plugin; DCGM metrics from GKE managed DCGM or dcgm-exporter."""
    OPERATOR = "operator"
    """NVIDIA GPU Operator (Helm) runs toolkit, device plugin, DCGM exporter; Google's installer the driver."""


class DcgmSource(str, Enum):
    MANAGED = "managed"
    """GKE managed DCGM metrics (monitoring_config component DCGM), scraped by managed Prometheus."""
    EXPORTER = "exporter"
    """NVIDIA dcgm-exporter (standalone chart, or the GPU Operator's own) scraped by a PodMonitoring."""


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
    min_nodes: int = Field(ge=0)
    max_nodes: int = Field(ge=0)


class GpuSharing(Strict):
    strategy: SharingStrategy
    max_clients_per_gpu: int = Field(ge=2, le=48)


class Reservation(Strict):
    mode: ReservationMode = ReservationMode.ANY
    name: str | None = None
    """Reservation name, required with mode `specific`."""


class AcceleratorOverride(Strict):
    """Optional restatement of the machine's GPUs; must agree with the catalog (seeds retyped it wrongly)."""

    type: str
    count: int = Field(ge=1)


class GpuPool(Strict):
    name: Name
    machine_type: str
    accelerator: AcceleratorOverride | None = None
    zones: list[Zone] = Field(min_length=1)
    """Explicit node_locations; with autoscaling `per: zone` each zone gets min..max nodes."""
    autoscaling: Autoscaling
    capacity: CapacityModel = CapacityModel.ON_DEMAND
    production_critical: bool = False
    """Serving or training that must not be preempted; policies forbid spot capacity for it."""
    driver_version: DriverVersion = DriverVersion.DEFAULT
    sharing: GpuSharing | None = None
    mig_partition: str | None = None
    """GKE gpu_partition_size, e.g. `1g.10gb`; one size per pool."""
    compact_placement: bool = False
    reservation: Reservation | None = None
    gvnic: bool = True
    local_ssd_count: int = Field(default=0, ge=0)
    """Local NVMe SSDs used as ephemeral storage (375 GB each)."""
    disk_type: BootDiskType | None = None
    """Boot disk type; unset lets GKE pick what the machine supports (pd-balanced, or hyperdisk-balanced where
    the machine has no Persistent Disk, as on the newest A3 machines)."""
    disk_size_gb: int = Field(default=200, ge=10)
    labels: dict[str, str] = Field(default_factory=dict)


class SystemPool(Strict):
    machine_type: str = "e2-standard-4"
    min_nodes_per_zone: int = Field(default=1, ge=0)
    max_nodes_per_zone: int = Field(default=3, ge=1)
    zones: list[Zone] | None = None
    """Defaults to the zones GKE picks for the regional cluster."""


class AuthorizedNetwork(Strict):
    name: str
    cidr: str


class GpuLimit(Strict):
    gpu: str
    """Catalog GPU id, e.g. `h100-80gb`."""
    max: int = Field(ge=0)


class AutoProvisioning(Strict):
    """GKE node auto-provisioning; when enabled it must carry GPU limits (policy `nap-gpu-limits`)."""

    enabled: bool = False
    cpu_max: int = Field(default=1000, ge=1)
    memory_max_gb: int = Field(default=4000, ge=1)
    gpu_limits: list[GpuLimit] = Field(default_factory=list)


class TeamNamespace(Strict):
    name: Name
    gpus: int = Field(ge=0)
    """Hard cap on requests.nvidia.com/gpu and limits.nvidia.com/gpu in the namespace."""


class StorageClassSpec(Strict):
    name: Name = "ml-storage"
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-ssd"
    """Persistent Disk types, the ones regional (replicated) volumes support."""
    regional: bool = True


class GpuAlerts(Strict):
    """Thresholds of the DCGM alert rules.

    Defaults from the seeds: utilization 85% and memory 90% over 5 minutes (002), GPUs idle 30 minutes (002, 003).
    """

    enabled: bool = True
    utilization_percent: int = Field(default=85, ge=1, le=100)
    memory_percent: int = Field(default=90, ge=1, le=100)
    idle_percent: int = Field(default=5, ge=0, le=100)
    idle_minutes: int = Field(default=30, ge=5)


class Addons(Strict):
    gpu_stack: GpuStack = GpuStack.GKE
    dcgm: DcgmSource = DcgmSource.MANAGED
    alerts: GpuAlerts = Field(default_factory=GpuAlerts)
    """Prometheus alert rules on DCGM metrics, evaluated by managed Prometheus (with `dcgm: exporter`)."""
    priority_classes: bool = True
    namespaces: list[TeamNamespace] = Field(default_factory=list)
    storage_class: StorageClassSpec | None = Field(default_factory=StorageClassSpec)


class GkeCluster(Strict):
    name: Name
    cluster_class: ClusterClass = Field(alias="class")
    pods_cidr: str
    services_cidr: str
    master_cidr: str
    """The control plane's /28 (private nodes)."""
    public_endpoint: bool = True
    """Control plane reachable on a public IP (restricted to authorized_networks); false = private endpoint."""
    master_global_access: bool = True
    authorized_networks: list[AuthorizedNetwork] = Field(default_factory=list)
    system_pool: SystemPool = Field(default_factory=SystemPool)
    auto_provisioning: AutoProvisioning = Field(default_factory=AutoProvisioning)
    gpu_pools: list[GpuPool] = Field(default_factory=list)
    addons: Addons = Field(default_factory=Addons)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class GkeRegion(Strict):
    name: Region
    subnet_cidr: str
    clusters: list[GkeCluster] = Field(default_factory=list)


class Network(Strict):
    name: Name = "ml-network"
    mtu: int = 1460
    """1460 to 8896; seed 002 wants 8896 for 100 Gbps+ GPU networking."""


class Gke(Strict):
    project: str | None = None
    """GCP project id; defaults to the stack's `gcp:project`."""
    network: Network = Field(default_factory=Network)
    release_channel: ReleaseChannel = ReleaseChannel.REGULAR
    deletion_protection: bool = True
    regions: list[GkeRegion] = Field(min_length=1)


class PriceOverride(Strict):
    machine_type: str
    region: Region
    on_demand_hourly_usd: float = Field(gt=0)
    spot_hourly_usd: float | None = Field(default=None, gt=0)


class Fleet(Strict):
    """The whole stack: one section per platform (GKE now; `eks` and `openshift` are reserved)."""

    environment: Name
    labels: dict[str, str] = Field(default_factory=dict)
    prices: list[PriceOverride] = Field(default_factory=list)
    """Negotiated or newer prices that replace the catalog's list prices for the plan and the policies."""
    gke: Gke | None = None
    eks: dict[str, object] | None = None
    openshift: dict[str, object] | None = None
