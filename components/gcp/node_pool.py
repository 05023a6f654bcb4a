"""A GKE GPU node pool whose accelerator type and count come from the catalog, never from the user.

Autoscaling is explicit about per-zone vs total bounds; the pool is tainted `nvidia.com/gpu`, labelled with
its fleet identity (which the capacity view and policies read back), and the autoscaler's node count is
not drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import catalog
from components.config.addons import GpuStack
from components.config.fabric import pool_nics
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
from components.gcp.gpu_network import GpuNetworks
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
    """The cluster's GCP project."""
    region: str
    """The cluster's region."""
    cluster_name: pulumi.Input[str]
    """The GKE cluster's name (GkeClusterComponent.cluster_name)."""
    cluster_key: str
    """The cluster's config name, recorded as a node label for capacity and policy reports."""
    spec: GpuPool
    """The pool's validated config."""
    gpu_stack: GpuStack
    """The cluster's GPU stack: with the GPU Operator, GKE's device plugin is turned off on the pool's nodes."""
    service_account: pulumi.Input[str]
    """The cluster's node service account (GkeClusterComponent.node_service_account)."""
    labels: dict[str, str]
    """GCP resource labels."""
    iam_ready: pulumi.Resource
    """Done once the node service account's IAM bindings have propagated (GkeClusterComponent.iam_ready): the pool's
    nodes run as that account."""
    gpu_networks: GpuNetworks | None = None
    """The fleet's GPU VPCs and subnets, which a fabric pool's extra NICs sit on; None: the fleet has none. A pool's
    NICs are fixed at creation: changing them replaces the pool."""
    fleet_network: str = ""
    """The fleet VPC's name (`gke.network.name`): the GPU networks' names derive from it."""


class GpuNodePool(pulumi.ComponentResource):
    pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gpu:GkeGpuNodePool", name, None, opts)
        spec = args.spec
        queued = spec.capacity is CapacityModel.QUEUED
        dws = _dynamic_workload_scheduler(spec)
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
            network_config=_network_config(gpu_nics(args)),
            node_config=_node_config(args),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.iam_ready],
                                        ignore_changes=["nodeCount", "initialNodeCount"]),
        )
        self.pool_name = pool.name
        self.register_outputs({"pool_name": self.pool_name})


def gpu_nics(args: GpuNodePoolArgs) -> list[tuple[pulumi.Input[str], pulumi.Input[str]]]:
    """(network, subnet) of each extra GPU NIC in NIC order (components.config.fabric.pool_nics); empty: none."""
    if args.gpu_networks is None:
        return []
    nets = args.gpu_networks
    return [(nets.network_names[n.network], nets.subnet_names[n.subnet])
            for n in pool_nics(args.fleet_network, args.region, args.spec)]


def _dynamic_workload_scheduler(spec: GpuPool) -> bool:
    """Flex-start VMs: queued provisioning runs on them too (GKE's command for it passes both flags)."""
    return spec.capacity in (CapacityModel.QUEUED, CapacityModel.FLEX_START)


def _network_config(nics: list[tuple[pulumi.Input[str], pulumi.Input[str]]]
                    ) -> gcp.container.NodePoolNetworkConfigArgs | None:
    if not nics:
        return None
    return gcp.container.NodePoolNetworkConfigArgs(
        additional_node_network_configs=[
            gcp.container.NodePoolNetworkConfigAdditionalNodeNetworkConfigArgs(network=net, subnetwork=sub)
            for net, sub in nics
        ],
    )


def _node_labels(args: GpuNodePoolArgs) -> dict[str, str]:
    """The pool's fleet identity (read back by the capacity view and policies), then the config's own labels."""
    spec = args.spec
    return {
        LABEL_CLUSTER: args.cluster_key,
        LABEL_POOL: spec.name,
        LABEL_CAPACITY: spec.capacity.value,
        **({LABEL_CRITICAL: "true"} if spec.production_critical else {}),
        **({NO_GKE_DEVICE_PLUGIN: "true"} if args.gpu_stack is GpuStack.OPERATOR else {}),
        **spec.labels,
    }


def _node_config(args: GpuNodePoolArgs) -> gcp.container.NodePoolNodeConfigArgs:
    """The machine, its GPUs from the catalog, capacity model, disks, GPU taint, labels and hardening."""
    spec = args.spec
    machine = catalog.machine_type(spec.machine_type)
    dws = _dynamic_workload_scheduler(spec)
    ssds = local_ssds(spec)
    return gcp.container.NodePoolNodeConfigArgs(
        machine_type=machine.name,
        image_type="COS_CONTAINERD",
        disk_type=spec.disk_type.value if spec.disk_type else catalog.gcp_limits.boot_disk(machine.name),
        disk_size_gb=spec.disk_size_gb,
        guest_accelerators=[_guest_accelerator(spec, args.gpu_stack)],
        spot=spec.capacity is CapacityModel.SPOT,
        flex_start=True if dws else None,
        # A queued node's lifetime comes from its ProvisioningRequest (maxRunDurationSeconds).
        max_run_duration="604800s" if dws and spec.capacity is not CapacityModel.QUEUED else None,
        reservation_affinity=_reservation_affinity(spec),
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
        labels=_node_labels(args),
        resource_labels=args.labels,
        **hardened_node_settings(args.service_account),
    )


def _guest_accelerator(spec: GpuPool, stack: GpuStack) -> gcp.container.NodePoolNodeConfigGuestAcceleratorArgs:
    """The machine's GPUs as the catalog has them, their driver (none with the GPU Operator), MIG and sharing."""
    machine = catalog.machine_type(spec.machine_type)
    gpu = catalog.gpu(machine.gpu)
    if gpu.gke_accelerator is None:
        raise ValueError(f"{machine.name}: {gpu.model} has no GKE accelerator type")  # validated upstream
    driver = "INSTALLATION_DISABLED" if stack is GpuStack.OPERATOR else spec.driver_version.value
    return gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
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
    )


def _reservation_affinity(spec: GpuPool) -> gcp.container.NodePoolNodeConfigReservationAffinityArgs:
    """The configured reservation for on-demand pools (ANY by default); spot and DWS capacity consume none."""
    reservation = spec.reservation.mode if spec.reservation else ReservationMode.ANY
    if spec.capacity is not CapacityModel.ON_DEMAND:
        reservation = ReservationMode.NONE
    return gcp.container.NodePoolNodeConfigReservationAffinityArgs(
        consume_reservation_type=_RESERVATION[reservation],
        key="compute.googleapis.com/reservation-name" if reservation is ReservationMode.SPECIFIC
        else None,
        values=[spec.reservation.name] if spec.reservation and spec.reservation.name
        and reservation is ReservationMode.SPECIFIC else None,
    )


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
