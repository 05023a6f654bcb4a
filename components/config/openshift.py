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


class Autoscaling(Strict):
    """A MachineAutoscaler per MachineSet: the bounds are per zone, as each zone is one MachineSet."""

    min_nodes: Count = Field(default=0, ge=0)
    max_nodes: Count = Field(ge=1)


class TuningProfile(Strict):
    """Node tuning for GPU machines: one MachineConfigPool `worker-gpu-<name>` with its MachineConfig.

    A node may belong to one custom pool only (the Machine Config Operator refuses a node in two), so a GPU pool
    takes one profile and everything its nodes need is in that profile.
    """

    name: Name
    kernel_arguments: list[Annotated[str, StringConstraints(pattern=KARG_PATTERN)]] = Field(default_factory=list)
    sysctls: dict[Annotated[str, StringConstraints(pattern=SYSCTL_PATTERN)], str] = Field(default_factory=dict)
    """Written to /etc/sysctl.d/99-gpu-fleet-<profile>.conf."""
    units: dict[Annotated[str, StringConstraints(pattern=UNIT_PATTERN)], str] = Field(default_factory=dict)
    """systemd unit name -> contents (enabled). Drivers and persistence mode are the GPU Operator's, not a unit's."""
    max_unavailable: Count = Field(default=1, ge=1)
    """Nodes of the pool the MCO drains and reboots at once when the profile changes."""


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
    """`ClusterAutoscaler default` exists: gpu-fleet server-side-applies only the fields it owns."""


class GpuLimit(Strict):
    """One `ClusterAutoscaler` `spec.resourceLimits.gpus` entry (autoscaling.openshift.io/v1)."""

    type: Annotated[str, StringConstraints(min_length=1)]
    """The node label value (`cluster-api/accelerator`) the autoscaler counts GPUs by."""
    min: Count = Field(ge=0)
    max: Count = Field(ge=1)


class ClusterAutoscaler(Strict):
    mode: AutoscalerMode = AutoscalerMode.CREATE
    existing_gpu_limits: list[GpuLimit] = Field(default_factory=list)
    """GPU limits the cluster's `ClusterAutoscaler default` already has for accelerators gpu-fleet does not own
    (written by `gpu-fleet openshift discover`): the list is atomic, so a patch of it carries them along."""
    max_nodes_total: Count | None = Field(default=None, ge=1)
    max_node_provision_time: Duration = "15m"
    """GPU machines boot, build the driver and advertise `nvidia.com/gpu` before they count as provisioned."""
    scale_down: ScaleDown = Field(default_factory=ScaleDown)


class Operator(Strict):
    manage: bool = True
    """Install through OLM (namespace, OperatorGroup, Subscription); false when the operator is already installed."""
    channel: Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
    source: str | None = None
    """The OLM CatalogSource the package comes from (`redhat-operators`, `certified-operators`, or a mirror's);
    none: the package's Red Hat catalog (`redhat-operators` for NFD, `certified-operators` for the GPU Operator)."""
    source_namespace: str = "openshift-marketplace"
    """The CatalogSource's namespace (the global catalog namespace unless the mirror put it elsewhere)."""


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
    root_volume_kms_key: str | None = None
    """The KMS key ARN the worker MachineSets encrypt root volumes with (their `blockDevices[].ebs.kmsKey.arn`, set
    when the install used `rootVolume.kmsKeyARN`); none: the account's default EBS key."""
    security_groups: list[AwsReference] = Field(min_length=1)
    subnets: dict[AwsZone, AwsReference] = Field(min_length=1)
    """Zone -> the private subnet worker machines use there."""
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
