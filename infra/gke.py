"""The GKE composer: the fleet VPC, then for each region and cluster a hardened cluster, its GPU pools and add-ons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.capacity.rows import PriceBook
from components.config.addons import DcgmSource, GpuStack
from components.config.fabric import gpu_vpcs, pool_fabric, pool_nics
from components.config.gke import CapacityModel, Gke, GkeCluster
from components.config.model import PriceOverride
from components.config.observability import Observability, Receiver, ReceiverType, Severity
from components.config.prices import Discount
from components.gcp.binary_authorization import (
    BinaryAuthorization,
    BinaryAuthorizationArgs,
    allow_patterns,
    fleet_images,
)
from components.gcp.budget import OnCallChannel
from components.gcp.capacity_signals import AlertChannel, GkeCapacitySignals, GkeCapacitySignalsArgs, GpuPoolTarget
from components.gcp.cluster import GkeClusterArgs, GkeClusterComponent
from components.gcp.gpu_fabric import GkeGpuFabric, GkeGpuFabricArgs
from components.gcp.gpu_network import GpuNetworks, GpuNetworksArgs
from components.gcp.network import ClusterRanges, Network, NetworkArgs, RegionSubnet
from components.gcp.node_pool import GpuNodePool, GpuNodePoolArgs
from components.gcp.oncall_channels import GcpOnCallChannels, GcpOnCallChannelsArgs
from components.kubernetes.gpu_addons import GpuAddons, GpuAddonsArgs
from components.kubernetes.monitoring.gmp import GmpMonitoring, GmpMonitoringArgs
from components.kubernetes.monitoring.rules import (
    MetricSource,
    NetworkSource,
    NodeInventory,
    RuleGroup,
    RuleTargets,
    gpu_rule_groups,
)
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, nic_bandwidths, price_book


@dataclass(frozen=True)
class GkeFleet:
    network_id: pulumi.Output[str]
    cluster_names: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> the GKE cluster's name."""
    kubeconfigs: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> its kubeconfig (a secret)."""


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
    signals = obs.alerts.enabled and any(_watches_capacity(c) for r in gke.regions for c in r.clusters)
    channels = _alert_channels(obs, project, labels, credentials or {}, budget_channels or {}) if signals else []
    book = price_book(prices or [], discounts)
    network = Network(
        gke.network.name,
        NetworkArgs(
            project=project,
            network_name=gke.network.name,
            mtu=gke.network.mtu,
            nat_min_ports_per_vm=gke.network.nat.min_ports_per_vm,
            nat_max_ports_per_vm=gke.network.nat.max_ports_per_vm,
            regions=[
                RegionSubnet(
                    region=r.name,
                    cidr=r.subnet_cidr,
                    clusters=[ClusterRanges(c.name, c.pods_cidr, c.services_cidr) for c in r.clusters],
                )
                for r in gke.regions
            ],
        ),
    )

    # One Binary Authorization policy per project (a singleton), evaluated by every cluster.
    BinaryAuthorization(f"{gke.network.name}-binauthz", BinaryAuthorizationArgs(
        project=project, mode=gke.binary_authorization.mode, patterns=allow_patterns(fleet_images())))

    # GPU fabric: the extra VPCs of every family in use, shared by its pools in all regions.
    vpcs = gpu_vpcs(gke)
    gpu_net = GpuNetworks(f"{gke.network.name}-gpu", GpuNetworksArgs(project=project, vpcs=vpcs)) if vpcs else None

    cluster_names: dict[str, pulumi.Output[str]] = {}
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    for region in gke.regions:
        for spec in region.clusters:
            key = f"{region.name}-{spec.name}"
            cluster_labels = {**labels, "cluster-class": spec.cluster_class.value}
            nics = {pool.name: pool_nics(gke.network.name, region.name, pool) for pool in spec.gpu_pools}
            cluster = GkeClusterComponent(
                key,
                GkeClusterArgs(
                    project=project,
                    region=region.name,
                    network_id=network.network_id,
                    subnet_id=network.subnet_ids[region.name],
                    spec=spec,
                    release_channel=gke.release_channel,
                    deletion_protection=gke.deletion_protection,
                    labels=cluster_labels,
                    multi_networking=any(nics.values()),
                    min_master_version=gke.min_master_version,
                    security_group=gke.security_group,
                ),
            )
            pools = [
                GpuNodePool(
                    f"{key}-{pool.name}",
                    GpuNodePoolArgs(
                        project=project,
                        region=region.name,
                        cluster_name=cluster.cluster_name,
                        cluster_key=spec.name,
                        spec=pool,
                        gpu_stack=spec.addons.gpu_stack,
                        service_account=cluster.node_service_account,
                        labels=cluster_labels,
                        depends_on=[cluster.iam_ready],
                        gpu_nics=[(gpu_net.network_names[n.network], gpu_net.subnet_names[n.subnet])
                                  for n in nics[pool.name]] if gpu_net else [],
                    ),
                    opts=pulumi.ResourceOptions(parent=cluster),
                )
                for pool in spec.gpu_pools
            ]
            cluster_nics = list({n.object_name: n for ns in nics.values() for n in ns}.values())
            if gpu_net is not None and cluster_nics:
                GkeGpuFabric(
                    f"{key}-fabric",
                    GkeGpuFabricArgs(nics=cluster_nics, network_names=gpu_net.network_names,
                                     subnet_names=gpu_net.subnet_names, provider=cluster.provider,
                                     transports=[f.transport for p in spec.gpu_pools if (f := pool_fabric(p))],
                                     depends_on=[cluster.system_pool, *gpu_net.ready]),
                    opts=pulumi.ResourceOptions(parent=cluster),
                )
            GpuAddons(
                f"{key}-addons",
                GpuAddonsArgs(spec=spec.addons, provider=cluster.provider, depends_on=list(pools),
                              system_nodes=[cluster.system_pool],
                              gpus=bool(spec.gpu_pools or spec.auto_provisioning.gpu_limits)),
                opts=pulumi.ResourceOptions(parent=cluster),
            )
            GmpMonitoring(
                f"{key}-monitoring",
                GmpMonitoringArgs(cluster=key, groups=_rule_groups(obs, region.name, spec, book),
                                  receivers=dict(obs.receivers), credentials=dict(credentials or {}),
                                  provider=cluster.provider, deadmans_switch=obs.deadmans_switch),
                opts=pulumi.ResourceOptions(parent=cluster),
            )
            if signals:
                _capacity_signals(key, region.name, spec, obs, project=project, labels=labels, channels=channels,
                                  cluster=cluster)
            cluster_names[key] = cluster.cluster_name
            kubeconfigs[key] = cluster.kubeconfig
    return GkeFleet(network.network_id, cluster_names, kubeconfigs)


def _rule_groups(obs: Observability, region: str, spec: GkeCluster, book: PriceBook) -> list[RuleGroup]:
    """The cluster's GPU rules, priced as its GPU pools; none for a cluster without GPUs.

    Over GKE managed DCGM, or dcgm-exporter (standalone or the operator's). A cluster without GPU pools or
    auto-provisioned GPUs has no DCGM series to watch. Node traffic is judged on the pools' machine types that
    have a host NIC bandwidth in the catalog (auto-provisioned machines are chosen by GKE, so none of theirs).
    """
    if not spec.gpu_pools and not spec.auto_provisioning.gpu_limits:
        return []
    managed = spec.addons.gpu_stack is GpuStack.GKE and spec.addons.dcgm is DcgmSource.MANAGED
    pools = [PoolPricing((p.machine_type,), region, spot=p.capacity is CapacityModel.SPOT) for p in spec.gpu_pools]
    machines = sorted({p.machine_type for p in spec.gpu_pools})
    return gpu_rule_groups(obs.alerts, RuleTargets(MetricSource.GKE_MANAGED if managed else MetricSource.DCGM_EXPORTER,
                                                   gpu_prices(pools, book), nic_bandwidths(machines),
                                                   network_source=NetworkSource.KUBELET_CADVISOR,
                                                   inventory=NodeInventory.GKE_KUBELET, heartbeat=True))


def _watches_capacity(spec: GkeCluster) -> bool:
    """A cluster gets capacity signals when it has GPU pools or auto-provisions GPUs."""
    return bool(spec.gpu_pools) or (spec.auto_provisioning.enabled and bool(spec.auto_provisioning.gpu_limits))


def _capacity_signals(key: str, region: str, spec: GkeCluster, obs: Observability, *, project: str,
                      labels: dict[str, str], channels: list[AlertChannel], cluster: GkeClusterComponent) -> None:
    """The cluster's GPU stockout, scale-up error and spot preemption alerts in Cloud Monitoring."""
    if not _watches_capacity(spec):
        return
    GkeCapacitySignals(
        f"{key}-capacity",
        GkeCapacitySignalsArgs(
            project=project, cluster=key, cluster_name=spec.name, region=region,
            pools=[GpuPoolTarget(p.name, tuple(p.zones), p.capacity is CapacityModel.SPOT) for p in spec.gpu_pools],
            auto_provisioning_gpus=spec.auto_provisioning.enabled and bool(spec.auto_provisioning.gpu_limits),
            channels=channels, unreached=_unreached(obs), runbook_base_url=obs.alerts.runbook_base_url,
            labels=labels),
        opts=pulumi.ResourceOptions(parent=cluster),
    )


_PAGED = frozenset({Severity.CRITICAL, Severity.WARNING})
"""The severities of GKE's capacity alerts: a receiver that takes neither gets no channel for them."""


def _capacity_receivers(obs: Observability) -> dict[str, Receiver]:
    """Receivers that take capacity alerts: every namespace's (they are about nodes), at a severity the alerts have."""
    return {n: r for n, r in sorted(obs.receivers.items()) if not r.namespaces and _PAGED & set(r.severities)}


def _unreached(obs: Observability) -> list[str]:
    """Receivers Cloud Monitoring cannot notify: Slack incoming webhooks and plain webhooks.

    A webhook's URL (its token) would be a channel label in clear, and Cloud Monitoring's Slack channel takes a Slack
    app's token, not an incoming webhook.
    """
    return [n for n, r in _capacity_receivers(obs).items() if r.type in (ReceiverType.SLACK, ReceiverType.WEBHOOK)]


def _alert_channels(obs: Observability, project: str, labels: dict[str, str],
                    credentials: Mapping[str, pulumi.Output[str]],
                    budget_channels: Mapping[str, list[pulumi.Output[str]]]) -> list[AlertChannel]:
    """Each capacity receiver's Cloud Monitoring channels: the budget's where it has them, else the project's own."""
    specs = []
    for name, r in _capacity_receivers(obs).items():
        if name in budget_channels:
            continue
        if r.type is ReceiverType.PAGERDUTY and r.secret is not None:
            specs.append(OnCallChannel(name, pagerduty_key=pulumi.Output.secret(credentials[r.secret])))
        elif r.type is ReceiverType.EMAIL and r.to:
            specs.append(OnCallChannel(name, emails=tuple(r.to)))
    own = GcpOnCallChannels("oncall-gcp", GcpOnCallChannelsArgs(
        project=project, receivers=specs, environment=labels.get("environment", ""), labels=labels)).channels \
        if specs else {}
    found = {**own, **{n: list(c) for n, c in budget_channels.items()}}
    return [AlertChannel(n, frozenset(r.severities), c) for n, r in _capacity_receivers(obs).items()
            for c in found.get(n, [])]
