"""The GKE composer: the fleet VPC, then for each region and cluster a hardened cluster, its GPU pools and add-ons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.capacity.rows import PriceBook
from components.config.fabric import gpu_vpcs
from components.config.gke import Gke, GkeCluster
from components.config.model import PriceOverride
from components.config.observability import Observability
from components.config.prices import Discount
from components.gcp.binary_authorization import (
    BinaryAuthorization,
    BinaryAuthorizationArgs,
    allow_patterns,
    fleet_images,
)
from components.gcp.capacity_signals import (
    AlertChannel,
    GkeCapacitySignals,
    GkeCapacitySignalsArgs,
    pool_targets,
    watches_capacity,
)
from components.gcp.cluster import GkeClusterArgs, GkeClusterComponent
from components.gcp.gpu_fabric import GkeGpuFabric, GkeGpuFabricArgs, cluster_nics
from components.gcp.gpu_network import GpuNetworks, GpuNetworksArgs
from components.gcp.network import Network, fleet_network_args
from components.gcp.node_pool import GpuNodePool, GpuNodePoolArgs
from components.gcp.oncall_channels import capacity_alert_channels, unreached_receivers
from components.gcp.rules import gke_rule_groups
from components.kubernetes.gpu_addons import GkeGpuStack, GpuAddons, GpuAddonsArgs
from components.kubernetes.monitoring.gmp import GmpMonitoring, GmpMonitoringArgs
from components.kubernetes.monitoring.targets import price_book


@dataclass(frozen=True)
class GkeFleet:
    network_id: pulumi.Output[str]
    cluster_names: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> the GKE cluster's name."""
    kubeconfigs: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> its kubeconfig (a secret)."""


@dataclass(frozen=True)
class _Shared:
    """What every cluster of the section is composed with."""

    gke: Gke
    project: str
    labels: dict[str, str]
    obs: Observability
    credentials: Mapping[str, pulumi.Output[str]]
    book: PriceBook
    network: Network
    gpu_net: GpuNetworks | None
    channels: list[AlertChannel] | None
    """The capacity alerts' channels; None: no capacity signals."""


def compose(gke: Gke, *, project: str, labels: dict[str, str], observability: Observability | None = None,
            credentials: Mapping[str, pulumi.Output[str]] | None = None,
            prices: list[PriceOverride] | None = None,
            budget_channels: Mapping[str, list[pulumi.Output[str]]] | None = None,
            discounts: Sequence[Discount] = ()) -> GkeFleet:
    """Declare the whole `gke:` section; logical names come from region, cluster and pool names only.

    `budget_channels` are the budget's Cloud Monitoring channels per on-call receiver: GKE's capacity alerts notify
    the same ones, and get channels of their own only for receivers the budget does not notify.
    """
    obs = observability or Observability()
    signals = obs.alerts.enabled and any(watches_capacity(c) for r in gke.regions for c in r.clusters)
    channels = capacity_alert_channels(obs, project=project, labels=labels, credentials=credentials or {},
                                       budget_channels=budget_channels or {}) if signals else None
    book = price_book(prices or [], discounts)
    network = Network(gke.network.name, fleet_network_args(gke, project))
    # One Binary Authorization policy per project (a singleton), evaluated by every cluster.
    BinaryAuthorization(f"{gke.network.name}-binauthz", BinaryAuthorizationArgs(
        project=project, mode=gke.binary_authorization.mode, patterns=allow_patterns(fleet_images())))
    # GPU fabric: the extra VPCs of every family in use, shared by its pools in all regions.
    vpcs = gpu_vpcs(gke)
    gpu_net = GpuNetworks(f"{gke.network.name}-gpu", GpuNetworksArgs(project=project, vpcs=vpcs)) if vpcs else None
    shared = _Shared(gke, project, labels, obs, credentials or {}, book, network, gpu_net, channels)
    fleet = GkeFleet(network.network_id, {}, {})
    for region in gke.regions:
        for spec in region.clusters:
            key = f"{region.name}-{spec.name}"
            cluster = _cluster(key, region.name, spec, shared)
            fleet.cluster_names[key] = cluster.cluster_name
            fleet.kubeconfigs[key] = cluster.kubeconfig
    return fleet


def _cluster(key: str, region: str, spec: GkeCluster, shared: _Shared) -> GkeClusterComponent:
    """One cluster, then inside it its GPU pools, GPU fabric, add-ons, monitoring and capacity signals."""
    gke, labels = shared.gke, {**shared.labels, "cluster-class": spec.cluster_class.value}
    nics = cluster_nics(gke.network.name, region, spec.gpu_pools)
    cluster = GkeClusterComponent(key, GkeClusterArgs(
        project=shared.project, region=region, network_id=shared.network.network_id,
        subnet_id=shared.network.subnet_ids[region], spec=spec, release_channel=gke.release_channel,
        deletion_protection=gke.deletion_protection, labels=labels, multi_networking=bool(nics),
        min_master_version=gke.min_master_version, security_group=gke.security_group))
    within = pulumi.ResourceOptions(parent=cluster)
    pools = [GpuNodePool(f"{key}-{pool.name}", GpuNodePoolArgs(
        project=shared.project, region=region, cluster_name=cluster.cluster_name, cluster_key=spec.name, spec=pool,
        gpu_stack=spec.addons.gpu_stack, service_account=cluster.node_service_account, labels=labels,
        iam_ready=cluster.iam_ready, gpu_networks=shared.gpu_net, fleet_network=gke.network.name), opts=within)
        for pool in spec.gpu_pools]
    if shared.gpu_net is not None and nics:
        GkeGpuFabric(f"{key}-fabric", GkeGpuFabricArgs(
            pools=spec.gpu_pools, fleet_network=gke.network.name, region=region, networks=shared.gpu_net,
            provider=cluster.provider, system_pool=cluster.system_pool), opts=within)
    GpuAddons(f"{key}-addons", GpuAddonsArgs(
        provider=cluster.provider, priority_classes=spec.addons.priority_classes,
        namespaces=list(spec.addons.namespaces), storage_class=spec.addons.storage_class,
        gpu_stack=GkeGpuStack(spec.addons.gpu_stack, spec.addons.dcgm, system_pool=cluster.system_pool,
                              gpu_pools=list(pools), gpus=bool(spec.gpu_pools or spec.auto_provisioning.gpu_limits))),
        opts=within)
    obs = shared.obs
    GmpMonitoring(f"{key}-monitoring", GmpMonitoringArgs(
        cluster=key, groups=gke_rule_groups(obs.alerts, region, spec, shared.book), receivers=dict(obs.receivers),
        credentials=dict(shared.credentials), provider=cluster.provider, deadmans_switch=obs.deadmans_switch),
        opts=within)
    if shared.channels is not None and watches_capacity(spec):
        GkeCapacitySignals(f"{key}-capacity", GkeCapacitySignalsArgs(
            project=shared.project, cluster=key, cluster_name=spec.name, region=region, pools=pool_targets(spec),
            auto_provisioning_gpus=spec.auto_provisioning.enabled and bool(spec.auto_provisioning.gpu_limits),
            channels=shared.channels, unreached=unreached_receivers(obs),
            runbook_base_url=obs.alerts.runbook_base_url, labels=shared.labels), opts=within)
    return cluster
