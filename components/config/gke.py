"""The `gke:` section of a stack: network, regions, clusters, system and GPU node pools, as pydantic models.

Structure and types are checked here (unknown keys are errors); rules that span fields and need the GPU
catalog live in `components.config.gke_rules`.
"""

from __future__ import annotations

from enum import Enum

from pydantic import ConfigDict, Field

from components.config.addons import Addons
from components.config.base import Name, Region, Strict, Zone

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
