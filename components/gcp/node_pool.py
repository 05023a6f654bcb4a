"""A GKE GPU node pool whose accelerator type and count come from the catalog, never from the user.

Autoscaling is explicit about per-zone vs total bounds; the pool is tainted `nvidia.com/gpu`, labelled with
its fleet identity (which the capacity view and policies read back), and the autoscaler's node count is
not drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components import catalog
from components.config.addons import GpuStack
from components.config.gke import (
    CapacityModel,
    GpuPool,
    LocalSsdMode,
    LocationPolicy,
    ReservationMode,
    ScalingScope,
    UpgradeStrategy,
)
from components.gcp.cluster import hardened_node_settings
from components.kubernetes.conventions import GPU_TAINT, LABEL_CAPACITY, LABEL_CLUSTER, LABEL_CRITICAL, LABEL_POOL

NO_GKE_DEVICE_PLUGIN = "gke-no-default-nvidia-gpu-device-plugin"
"""Node label that stops GKE's device plugin so the GPU Operator's can run (NVIDIA's GKE guide)."""

_RESERVATION = {
    ReservationMode.ANY: "ANY_RESERVATION",
    ReservationMode.SPECIFIC: "SPECIFIC_RESERVATION",
    ReservationMode.NONE: "NO_RESERVATION",
}
_SHARING = {"time-sharing": "TIME_SHARING", "mps": "MPS"}


@dataclass(frozen=True)
class GpuNodePoolArgs:
    project: str
    region: str
    cluster_name: pulumi.Input[str]
    cluster_key: str
    """The cluster's config name, recorded as a node label for capacity and policy reports."""
    spec: GpuPool
    gpu_stack: GpuStack
    service_account: pulumi.Input[str]
    labels: dict[str, str]
    """GCP resource labels."""
    depends_on: list[pulumi.Resource]
    """What the pool's nodes need first: the node service account's propagated IAM bindings."""
    gpu_nics: list[tuple[pulumi.Input[str], pulumi.Input[str]]] = field(default_factory=list)
    """(network, subnet) of each extra GPU NIC in NIC order (components.config.fabric.pool_nics); empty: none. A
    pool's NICs are fixed at creation: changing them replaces the pool."""


class GpuNodePool(pulumi.ComponentResource):
    pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gpu:GkeGpuNodePool", name, None, opts)
        spec = args.spec
        machine = catalog.machine_type(spec.machine_type)
        gpu = catalog.gpu(machine.gpu)
        if gpu.gke_accelerator is None:
            raise ValueError(f"{machine.name}: {gpu.model} has no GKE accelerator type")  # validated upstream
        queued = spec.capacity is CapacityModel.QUEUED
        # Queued provisioning runs on flex-start VMs too: GKE's command for it passes both flags.
        dws = queued or spec.capacity is CapacityModel.FLEX_START
        reservation = spec.reservation.mode if spec.reservation else ReservationMode.ANY
        if spec.capacity is not CapacityModel.ON_DEMAND:
            reservation = ReservationMode.NONE

        node_labels = {
            LABEL_CLUSTER: args.cluster_key,
            LABEL_POOL: spec.name,
            LABEL_CAPACITY: spec.capacity.value,
            **({LABEL_CRITICAL: "true"} if spec.production_critical else {}),
            **({NO_GKE_DEVICE_PLUGIN: "true"} if args.gpu_stack is GpuStack.OPERATOR else {}),
            **spec.labels,
        }
        driver = "INSTALLATION_DISABLED" if args.gpu_stack is GpuStack.OPERATOR else spec.driver_version.value
        ssds = local_ssds(spec)

        pool = gcp.container.NodePool(
            name,
            name=spec.name,
            project=args.project,
            location=args.region,
            cluster=args.cluster_name,
            node_locations=spec.zones,
            # No capacity bet at create time: the pool starts empty and the autoscaler brings it to its
            # minimum, so a GPU stockout delays nodes instead of failing `pulumi up`, and a total bound over
            # several zones never boots more than its maximum.
            initial_node_count=0,
            autoscaling=_autoscaling(spec),
            # Dynamic Workload Scheduler nodes live at most 7 days and are never repaired in place: GKE's
            # commands for flex-start and queued pools pass --no-enable-autorepair.
            management=gcp.container.NodePoolManagementArgs(auto_repair=not dws, auto_upgrade=True),
            # DWS pools only take GKE's SHORT_LIVED strategy, which GKE sets itself when none is given.
            upgrade_settings=None if dws else _upgrade_settings(spec),
            placement_policy=gcp.container.NodePoolPlacementPolicyArgs(type="COMPACT")
            if spec.compact_placement else None,
            queued_provisioning=gcp.container.NodePoolQueuedProvisioningArgs(enabled=True) if queued else None,
            network_config=gcp.container.NodePoolNetworkConfigArgs(
                additional_node_network_configs=[
                    gcp.container.NodePoolNetworkConfigAdditionalNodeNetworkConfigArgs(network=net, subnetwork=sub)
                    for net, sub in args.gpu_nics
                ],
            ) if args.gpu_nics else None,
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=machine.name,
                image_type="COS_CONTAINERD",
                disk_type=spec.disk_type.value if spec.disk_type else catalog.gcp_limits.boot_disk(machine.name),
                disk_size_gb=spec.disk_size_gb,
                guest_accelerators=[gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                    type=gpu.gke_accelerator,
                    count=machine.gpus,
                    gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                        gpu_driver_version=driver
                    ),
                    gpu_partition_size=spec.mig_partition,
                    gpu_sharing_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                        gpu_sharing_strategy=_SHARING[spec.sharing.strategy.value],
                        max_shared_clients_per_gpu=spec.sharing.max_clients_per_gpu,
                    ) if spec.sharing else None,
                )],
                spot=spec.capacity is CapacityModel.SPOT,
                flex_start=True if dws else None,
                # A queued node's lifetime comes from its ProvisioningRequest (maxRunDurationSeconds).
                max_run_duration="604800s" if dws and not queued else None,
                reservation_affinity=gcp.container.NodePoolNodeConfigReservationAffinityArgs(
                    consume_reservation_type=_RESERVATION[reservation],
                    key="compute.googleapis.com/reservation-name" if reservation is ReservationMode.SPECIFIC
                    else None,
                    values=[spec.reservation.name] if spec.reservation and spec.reservation.name
                    and reservation is ReservationMode.SPECIFIC else None,
                ),
                gvnic=gcp.container.NodePoolNodeConfigGvnicArgs(enabled=spec.gvnic),
                gcfs_config=gcp.container.NodePoolNodeConfigGcfsConfigArgs(enabled=True),
                ephemeral_storage_local_ssd_config=gcp.container.NodePoolNodeConfigEphemeralStorageLocalSsdConfigArgs(
                    local_ssd_count=ssds
                ) if ssds and spec.local_ssd_mode is LocalSsdMode.EPHEMERAL else None,
                local_nvme_ssd_block_config=gcp.container.NodePoolNodeConfigLocalNvmeSsdBlockConfigArgs(
                    local_ssd_count=ssds
                ) if ssds and spec.local_ssd_mode is LocalSsdMode.RAW_BLOCK else None,
                taints=[gcp.container.NodePoolNodeConfigTaintArgs(
                    key=GPU_TAINT[0], value=GPU_TAINT[1], effect=GPU_TAINT[2]
                )],
                labels=node_labels,
                resource_labels=args.labels,
                **hardened_node_settings(args.service_account),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on,
                                        ignore_changes=["nodeCount", "initialNodeCount"]),
        )
        self.pool_name = pool.name
        self.register_outputs({"pool_name": self.pool_name})


def location_policy(spec: GpuPool) -> LocationPolicy:
    """The configured policy, else ANY wherever the pool spans zones or needs capacity where it is found."""
    if spec.location_policy is not None:
        return spec.location_policy
    if len(spec.zones) > 1 or spec.capacity is not CapacityModel.ON_DEMAND:
        return LocationPolicy.ANY
    return LocationPolicy.BALANCED


def local_ssds(spec: GpuPool) -> int:
    """Local SSDs to attach: as configured, else all the machine bundles (and bills) with it."""
    if spec.local_ssd_count is not None:
        return spec.local_ssd_count
    return catalog.machine_type(spec.machine_type).local_ssd_gb // catalog.LOCAL_SSD_GB


def _autoscaling(spec: GpuPool) -> gcp.container.NodePoolAutoscalingArgs:
    a = spec.autoscaling
    policy = location_policy(spec).value
    if a.per is ScalingScope.ZONE:
        return gcp.container.NodePoolAutoscalingArgs(
            min_node_count=a.min_nodes, max_node_count=a.max_nodes, location_policy=policy
        )
    return gcp.container.NodePoolAutoscalingArgs(
        total_min_node_count=a.min_nodes, total_max_node_count=a.max_nodes, location_policy=policy
    )


def _upgrade_settings(spec: GpuPool) -> gcp.container.NodePoolUpgradeSettingsArgs:
    u = spec.upgrade
    if u.strategy is UpgradeStrategy.SURGE:
        return gcp.container.NodePoolUpgradeSettingsArgs(
            strategy="SURGE", max_surge=u.max_surge, max_unavailable=u.max_unavailable
        )
    # Blue-green brings up a whole new (green) pool before draining the old one: training keeps running on
    # blue until a batch is drained, at the cost of twice the pool's GPUs for the length of the upgrade.
    return gcp.container.NodePoolUpgradeSettingsArgs(
        strategy="BLUE_GREEN",
        blue_green_settings=gcp.container.NodePoolUpgradeSettingsBlueGreenSettingsArgs(
            standard_rollout_policy=gcp.container.NodePoolUpgradeSettingsBlueGreenSettingsStandardRolloutPolicyArgs(
                batch_node_count=u.batch_node_count, batch_soak_duration=u.batch_soak
            ),
            node_pool_soak_duration=u.node_pool_soak,
        ),
    )
