"""The `openshift:` section of a stack: existing self-managed OpenShift clusters on AWS and their GPU machine pools.

gpu-fleet does not create OpenShift clusters; it adds GPU capacity to one through the cluster's own Machine API
(MachineSets, autoscalers, machine config pools) and installs NFD and the NVIDIA GPU Operator through OLM.
Every fact a MachineSet needs about the cluster (infrastructure id, AMI, instance profile, subnet and security
group references) is config, written once by `gpu-fleet openshift discover`. Rules that span fields and need the
catalog live in `components.config.openshift_rules`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from components.config.addons import TeamNamespace
from components.config.base import Count, Name, Strict
from components.config.eks import AWS_REGION_PATTERN, AWS_ZONE_PATTERN, DURATION_PATTERN
from components.versions import GPU_OPERATOR_OLM_CHANNEL, NFD_OLM_CHANNEL

OCP_VERSION_PATTERN = r"^(4|5)\.[0-9]{1,2}$"
AMI_ID_PATTERN = r"^ami-[0-9a-f]{8,17}$"
INFRA_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,25}[a-z0-9])?$"
"""`Infrastructure cluster` `status.infrastructureName`: the installer caps it at 27 characters."""
SUBNET_ID_PATTERN = r"^subnet-[0-9a-f]{8,17}$"
SG_ID_PATTERN = r"^sg-[0-9a-f]{8,17}$"
SECRET_KEY_PATTERN = r"^[a-zA-Z][-a-zA-Z0-9_]{0,99}$"
CHANNEL_PATTERN = r"^[a-z0-9][-a-z0-9.]{0,62}$"
SYSCTL_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_-]+)+$"
KARG_PATTERN = r"^[a-z0-9_.-]+(=[^\s]+)?$"
UNIT_PATTERN = r"^[a-zA-Z0-9@_.-]+\.(service|timer|path|mount)$"
UTILIZATION_PATTERN = r"^0\.[0-9]+$"
CAPACITY_RESERVATION_PATTERN = r"^cr-[0-9a-f]{17}$"
"""machine-api-provider-aws `getCapacityReservationSpecification`: "must start with 'cr-' and be exactly 20
characters long with 17 hexadecimal characters"."""

AwsZone = Annotated[str, StringConstraints(pattern=AWS_ZONE_PATTERN)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]


class OpenShiftKind(str, Enum):
    """How the cluster is run. Only self-managed clusters have user-editable MachineSets."""

    SELF_MANAGED = "self-managed"
    """Installer-provisioned (IPI) or user-provisioned OpenShift Container Platform on AWS."""
    ROSA = "rosa"
    """Red Hat OpenShift Service on AWS (classic): refused, its machine pools belong to OCM."""
    ROSA_HCP = "rosa-hcp"
    """ROSA with hosted control planes: refused, it has no MachineConfigPools and no editable MachineSets."""


class Kubeconfig(Strict):
    """Where the Kubernetes provider finds the cluster's credentials: never in plain stack config."""

    secret: Annotated[str, StringConstraints(pattern=SECRET_KEY_PATTERN)] | None = None
    """A `gpu-fleet:` config key holding the kubeconfig, set with `pulumi config set --secret`."""
    path: str | None = None
    """A kubeconfig file on the machine that runs Pulumi (CI writes it from its own secret store)."""
    context: str | None = None
    """The context to use; the file's current context when absent."""

    @model_validator(mode="after")
    def _one_source(self) -> Kubeconfig:
        if (self.secret is None) == (self.path is None):
            raise ValueError("give exactly one of `secret` (a secret config key) or `path` (a kubeconfig file)")
        return self


class AwsReference(Strict):
    """An AWS subnet or security group, by id or by its `Name` tag (the installer's naming)."""

    id: str | None = None
    filter: str | None = None
    """The resource's `tag:Name` value, e.g. `<infra>-subnet-private-us-east-2a` or `<infra>-node`."""

    @model_validator(mode="after")
    def _one_form(self) -> AwsReference:
        if (self.id is None) == (self.filter is None):
            raise ValueError("give exactly one of `id` or `filter` (the resource's Name tag)")
        return self


class BootImages(str, Enum):
    MANAGED = "managed"
    """The Machine Config Operator updates the MachineSets' AMI (the default on AWS since 4.19): gpu-fleet sets
    the AMI on creation and then leaves it to the MCO."""
    PINNED = "pinned"
    """gpu-fleet owns the AMI; opt the GPU MachineSets out of managed boot images in `MachineConfiguration cluster`."""


class Capacity(str, Enum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"
    """`spotMarketOptions: {}`: capped at the On-Demand price; EC2 may reclaim the machine."""
    CAPACITY_BLOCK = "capacity-block"
    """`marketType: CapacityBlock` into the pool's `capacity_reservation_id` (an EC2 Capacity Block for ML, bought
    ahead for a fixed window; machine-api-provider-aws supports it from OpenShift 4.19)."""


class Autoscaling(Strict):
    """A MachineAutoscaler per MachineSet: the bounds are per zone, as each zone is one MachineSet."""

    min_nodes: Count = Field(default=0, ge=0)
    max_nodes: Count = Field(ge=1)


class TuningProfile(Strict):
    """Node tuning for GPU machines, in one profile a pool refers to.

    Sysctls go through the Node Tuning Operator (no reboot); kernel arguments and units through a
    MachineConfigPool `worker-gpu-<name>` with its MachineConfig (a reboot per node).
    A node may belong to one custom pool only (the Machine Config Operator refuses a node in two), so a GPU pool
    takes one profile and everything its nodes need is in that profile.
    """

    name: Name
    kernel_arguments: list[Annotated[str, StringConstraints(pattern=KARG_PATTERN)]] = Field(default_factory=list)
    sysctls: dict[Annotated[str, StringConstraints(pattern=SYSCTL_PATTERN)], str] = Field(default_factory=dict)
    """Applied at run time by the Node Tuning Operator's TuneD (`Tuned gpu-fleet-<profile>`, matched on the nodes'
    `gpu-fleet/tuning` label): no MachineConfig, no custom pool, no reboot."""
    units: dict[Annotated[str, StringConstraints(pattern=UNIT_PATTERN)], str] = Field(default_factory=dict)
    """systemd unit name -> contents (enabled). Drivers and persistence mode are the GPU Operator's, not a unit's."""
    max_unavailable: Count = Field(default=1, ge=1)
    """Nodes of the pool the MCO drains and reboots at once when the profile's MachineConfig changes."""

    @property
    def needs_machine_config(self) -> bool:
        """Kernel arguments and units exist only through a MachineConfig (and so a custom pool and a reboot)."""
        return bool(self.kernel_arguments or self.units)


class TimeSlicing(Strict):
    replicas: Count = Field(ge=2, le=64)
    """Pods that share each GPU (`sharing.timeSlicing.resources[nvidia.com/gpu].replicas`): no memory or fault
    isolation between them."""


class GpuSharing(Strict):
    """How a pool's GPUs are shared: exactly one of `time_slicing` or `mig`."""

    time_slicing: TimeSlicing | None = None
    mig: Annotated[str, StringConstraints(pattern=r"^[1-7]g\.[0-9]+gb$")] | None = None
    """The MIG partition every GPU is cut into (e.g. `1g.10gb`), as the GPU Operator's MIG manager names its
    `all-<partition>` layouts; the GPU must support it (catalog)."""

    @model_validator(mode="after")
    def _one_kind(self) -> GpuSharing:
        if (self.time_slicing is None) == (self.mig is None):
            raise ValueError("give exactly one of `time_slicing` or `mig`")
        return self


class MachineHealthCheck(Strict):
    """Remediation of a GPU MachineSet's machines (machine.openshift.io/v1beta1 MachineHealthCheck)."""

    node_startup_timeout: Duration = "30m"
    """How long a new machine may take to become a node: GPU instances boot slowly, and a node of a pool with a
    MachineConfig reboots once more into its pool before it serves."""
    unhealthy_timeout: Duration = "15m"
    """How long a node may be NotReady or Unknown before its machine is replaced: longer than an MCO drain and
    reboot, so a node rebooting into its pool's configuration is not replaced mid-update."""
    max_unhealthy: Count = Field(default=1, ge=1)
    """Remediation stops when more of the set's machines are unhealthy than this (a zone or driver outage is not
    fixed by replacing every machine); at least one, as a percentage of a one-machine set rounds to zero."""


class OpenShiftGpuPool(Strict):
    """GPU machines of one instance type: one MachineSet (and MachineAutoscaler) per zone."""

    name: Name
    instance_type: str
    zones: list[AwsZone] = Field(min_length=1)
    capacity: Capacity = Capacity.ON_DEMAND
    autoscaling: Autoscaling | None = None
    replicas: Count | None = Field(default=None, ge=0)
    """Fixed machines per zone, for a pool without `autoscaling`."""
    tuning: Name | list[Name] | None = None
    """The tuning profile (MachineConfigPool) its nodes join; none joins the plain `worker-gpu` pool."""
    efa: bool = False
    """Make the machine's network interface EFA (`networkInterfaceType: EFA`). The Machine API gives an OpenShift
    machine one interface, so it gets one EFA device of the instance's N (a p5.48xlarge has 32)."""
    root_volume_gb: Count = Field(default=300, ge=120, le=16384)
    """Encrypted gp3 root volume: driver builds and container images of ML workloads are large."""
    production_critical: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    capacity_reservation_id: Annotated[str, StringConstraints(pattern=CAPACITY_RESERVATION_PATTERN)] | None = None
    """An EC2 Capacity Reservation (`cr-…`) the machines launch into (`capacityReservationId`): an On-Demand
    Capacity Reservation with `capacity: on-demand`, the Capacity Block with `capacity: capacity-block`. A
    reservation lives in one zone, so such a pool has one zone."""
    sharing: GpuSharing | None = None
    """Time-slicing or MIG through the GPU Operator's device plugin (node labels `nvidia.com/device-plugin.config`
    / `nvidia.com/mig.config`). Quota, cost and the capacity view still count physical GPUs."""
    health_check: MachineHealthCheck | None = Field(default_factory=lambda: MachineHealthCheck())
    """A MachineHealthCheck per MachineSet that replaces machines whose node stops being Ready; null: none."""


class ScaleDown(Strict):
    enabled: bool = True
    delay_after_add: Duration = "20m"
    """GPU nodes take minutes to load the driver: do not judge a new node idle before it serves."""
    unneeded_time: Duration = "10m"
    utilization_threshold: Annotated[str, StringConstraints(pattern=UTILIZATION_PATTERN)] = "0.5"


class AutoscalerMode(str, Enum):
    CREATE = "create"
    """gpu-fleet creates `ClusterAutoscaler default` (discover found none) and deletes it with the stack."""
    PATCH = "patch"
    """`ClusterAutoscaler default` exists: gpu-fleet force-applies only `resourceLimits.gpus` (merged with
    `existing_gpu_limits`), plus `maxNodesTotal` when set and scale-down when `manage_scale_down`."""


class GpuLimit(Strict):
    """One `resourceLimits.gpus` entry of the live `ClusterAutoscaler default` (what `discover` prints)."""

    type: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    """The `cluster-api/accelerator` node label value the entry limits, as the cluster has it (the operator's
    webhook only warns about a value no label can have, such as its own example's `nvidia.com/gpu`)."""
    min: Count = Field(ge=0)
    max: Count = Field(ge=1)


class ClusterAutoscaler(Strict):
    mode: AutoscalerMode = AutoscalerMode.CREATE
    max_nodes_total: Count | None = Field(default=None, ge=1)
    max_node_provision_time: Duration = "15m"
    """GPU machines boot, build the driver and advertise `nvidia.com/gpu` before they count as provisioned."""
    scale_down: ScaleDown = Field(default_factory=ScaleDown)
    existing_gpu_limits: list[GpuLimit] = Field(default_factory=list)
    """Patch mode: the `resourceLimits.gpus` entries the cluster already has (printed by `gpu-fleet openshift
    discover`). The list is atomic under server-side apply, so gpu-fleet applies it whole: these entries, with
    gpu-fleet's own for its accelerators in place of any of the same type."""
    manage_scale_down: bool = False
    """Patch mode: also apply `scale_down` and `max_node_provision_time`, which are cluster-wide (they govern
    every node group, CPU workers too). Off by default: the cluster's own settings stay."""


class Approval(str, Enum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"
    """Every InstallPlan waits for someone to approve it (`oc patch installplan … approved: true`), the first one
    too: approve it while the first `pulumi up` waits for the installed CSV. The Subscription pins `startingCSV`,
    so that first plan installs exactly the pinned version."""


class Operator(Strict):
    manage: bool = True
    """Install through OLM (namespace, OperatorGroup, Subscription); false when the operator is already installed."""
    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
    source: str | None = None
    """The CatalogSource the package comes from: `redhat-operators` (NFD) / `certified-operators` (GPU Operator)
    unless set, e.g. the oc-mirror catalog of a disconnected cluster."""
    source_namespace: str = "openshift-marketplace"
    """The namespace of that CatalogSource."""
    approval: Approval = Approval.AUTOMATIC
    """InstallPlan approval of upgrades after the first install."""
    starting_csv: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)] | None = None
    """The CSV the first install starts at; needed with `approval: manual` where gpu-fleet pins none (NFD, or the
    GPU Operator on another channel than the pinned one)."""


class Operators(Strict):
    nfd: Operator = Field(default_factory=lambda: Operator(channel=NFD_OLM_CHANNEL))
    gpu_operator: Operator = Field(default_factory=lambda: Operator(channel=GPU_OPERATOR_OLM_CHANNEL))


class OpenShiftAddons(Strict):
    priority_classes: bool = True
    namespaces: list[TeamNamespace] = Field(default_factory=list)


class OpenShiftCluster(Strict):
    name: Name
    kind: OpenShiftKind = OpenShiftKind.SELF_MANAGED
    kubeconfig: Kubeconfig
    version: Annotated[str, StringConstraints(pattern=OCP_VERSION_PATTERN)]
    """The cluster's OpenShift minor version in quotes ("4.20"): what the ClusterAutoscaler and operators may use."""
    infrastructure_id: Annotated[str, StringConstraints(pattern=INFRA_ID_PATTERN)]
    region: Annotated[str, StringConstraints(pattern=AWS_REGION_PATTERN)]
    ami: Annotated[str, StringConstraints(pattern=AMI_ID_PATTERN)]
    boot_images: BootImages = BootImages.MANAGED
    iam_instance_profile: str
    security_groups: list[AwsReference] = Field(min_length=1)
    subnets: dict[AwsZone, AwsReference] = Field(min_length=1)
    """Zone -> the private subnet worker machines use there."""
    root_volume_kms_key: str | None = None
    """The KMS key ARN the workers' root volumes are encrypted with (`blockDevices[].ebs.kmsKey.arn` of the
    installer's worker MachineSets, from install-config `rootVolume.kmsKeyARN`; `discover` copies it). The GPU
    machines' root volumes use it too; unset, EBS uses the account's default key."""
    autoscaler: ClusterAutoscaler = Field(default_factory=ClusterAutoscaler)
    tuning: list[TuningProfile] = Field(default_factory=list)
    gpu_pools: list[OpenShiftGpuPool] = Field(default_factory=list)
    operators: Operators = Field(default_factory=Operators)
    addons: OpenShiftAddons = Field(default_factory=OpenShiftAddons)


class OpenShift(Strict):
    clusters: list[OpenShiftCluster] = Field(min_length=1)


def secret_keys(section: OpenShift) -> dict[str, str]:
    """Secret config keys the section refers to -> the key path that refers to each."""
    return {c.kubeconfig.secret: f"openshift.clusters[{c.name}].kubeconfig.secret"
            for c in section.clusters if c.kubeconfig.secret is not None}
