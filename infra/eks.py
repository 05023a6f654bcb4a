"""The EKS composer: per region an AWS provider, per cluster a VPC, the cluster, Karpenter, GPU pools and add-ons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import versions
from components.aws.cluster import EksClusterArgs, EksClusterComponent
from components.aws.cpu_pool import KarpenterCpuPool, KarpenterCpuPoolArgs
from components.aws.efa import Efa, EfaArgs
from components.aws.gpu_pool import KarpenterGpuPool, KarpenterGpuPoolArgs
from components.aws.iam import partition_of
from components.aws.karpenter import Karpenter, KarpenterArgs
from components.aws.network import Vpc, VpcArgs
from components.capacity.rows import PriceBook
from components.config.addons import DCGM_NAMESPACE, OPERATOR_NAMESPACE
from components.config.budgets import TeamBudget
from components.config.dashboards import Dashboards
from components.config.eks import (
    CapacityType,
    Eks,
    EksCluster,
    GpuSoftware,
    creates_placement_group,
    efa_interfaces,
)
from components.config.model import PriceOverride
from components.config.observability import Observability
from components.config.prices import Discount
from components.kubernetes.gpu_addons import GpuAddons, GpuAddonsArgs
from components.kubernetes.monitoring.budget_guard import with_team_guard
from components.kubernetes.monitoring.dashboard_configmap import (
    DashboardConfigMap,
    DashboardConfigMapArgs,
    DashboardForm,
)
from components.kubernetes.monitoring.dashboards import DCGM_EXPORTER
from components.kubernetes.monitoring.karpenter_rules import ReservedPool, karpenter_rule_groups
from components.kubernetes.monitoring.prometheus_stack import PrometheusStack, PrometheusStackArgs
from components.kubernetes.monitoring.rules import MetricSource, RuleGroup, RuleTargets, gpu_rule_groups
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, nic_bandwidths, price_book
from components.kubernetes.nvidia import NvidiaSoftware, NvidiaSoftwareArgs

STORAGE_CLASS = "gp3"
"""The default StorageClass EksClusterComponent creates (encrypted gp3): Prometheus' volume comes from it."""


@dataclass(frozen=True)
class EksFleet:
    cluster_names: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> the EKS cluster's name."""
    kubeconfigs: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> its kubeconfig (a secret; tokens come from `aws eks get-token`)."""


def compose(eks: Eks, *, labels: dict[str, str], dashboards: Dashboards | None = None,
            observability: Observability | None = None, credentials: Mapping[str, pulumi.Output[str]] | None = None,
            prices: list[PriceOverride] | None = None,
            discounts: Sequence[Discount] = (), teams: Sequence[TeamBudget] = ()) -> EksFleet:
    """Declare the whole `eks:` section; logical names come from region, cluster and pool names only.

    `teams`: the stack's team budgets; each cluster's Prometheus guards those whose namespace it runs.
    """
    obs = observability or Observability()
    book = price_book(prices or [], discounts)
    partition = partition_of(eks.admin_principal_arn)
    cluster_names: dict[str, pulumi.Output[str]] = {}
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    for region in eks.regions:
        provider = aws.Provider(f"aws-{region.name}", region=region.name)
        in_region = pulumi.ResourceOptions(providers=[provider])
        for spec in region.clusters:
            key = f"{region.name}-{spec.name}"
            tags = {**labels, "gpu-fleet/cluster": spec.name}
            vpc = Vpc(f"{key}-vpc", VpcArgs(cluster_name=spec.name, cidr=spec.vpc_cidr, zones=list(spec.zones),
                                            nat=spec.nat, tags=tags, region=region.name, partition=partition,
                                            flow_logs=eks.flow_logs), opts=in_region)
            cluster = EksClusterComponent(
                key,
                EksClusterArgs(
                    region=region.name, spec=spec, kubernetes_version=eks.kubernetes_version,
                    addon_versions=versions.eks_addon_versions(eks.kubernetes_version, eks.addon_versions),
                    admin_principal_arn=eks.admin_principal_arn, deletion_protection=eks.deletion_protection,
                    deploy_principal_arn=eks.deploy_principal_arn, preview_principal_arn=eks.preview_principal_arn,
                    support_type=eks.support_type, zonal_shift=eks.zonal_shift,
                    subnet_ids=[vpc.private_subnet_ids[z] for z in spec.zones], tags=tags,
                ),
                opts=in_region,
            )
            within = pulumi.ResourceOptions(parent=cluster)
            monitoring = PrometheusStack(
                f"{key}-monitoring",
                PrometheusStackArgs(cluster=key, groups=with_team_guard(_rule_groups(obs, region.name, spec, book),
                                                                        teams, spec.addons.namespaces),
                                    receivers=dict(obs.receivers), credentials=dict(credentials or {}),
                                    storage_class=STORAGE_CLASS, provider=cluster.provider,
                                    system_nodes=cluster.system_nodes, deadmans_switch=obs.deadmans_switch),
                opts=within,
            )
            karpenter = Karpenter(
                f"{key}-karpenter",
                KarpenterArgs(cluster_name=cluster.cluster_name, cluster_arn=cluster.cluster_arn, region=region.name,
                              partition=partition, provider=cluster.provider, system_nodes=cluster.system_nodes,
                              zonal_shift=eks.zonal_shift, tags=tags, prometheus_operator=monitoring.release),
                opts=within,
            )
            efa_pools = {p.name: n for p in spec.gpu_pools if (n := efa_interfaces(p))}
            grouped = [p.name for p in spec.gpu_pools if creates_placement_group(p)]
            efa = Efa(f"{key}-efa", EfaArgs(cluster_name=spec.name, vpc_id=vpc.vpc_id, pools=grouped,
                                            provider=cluster.provider, system_nodes=cluster.system_nodes, tags=tags),
                      opts=within) if efa_pools else None
            for pool in spec.gpu_pools:
                KarpenterGpuPool(
                    f"{key}-{pool.name}",
                    KarpenterGpuPoolArgs(cluster_name=spec.name, region=region.name, spec=pool,
                                         zones=list(spec.zones), ami_alias=f"al2023@{spec.ami_version}",
                                         node_role_name=karpenter.node_role_name, provider=cluster.provider,
                                         controller=karpenter.chart, tags=tags,
                                         efa_interfaces=efa_pools.get(pool.name, 0),
                                         placement_group=efa.placement_groups.get(pool.name) if efa else None,
                                         maintenance=spec.maintenance.window),
                    opts=within,
                )
            if spec.cpu_pool.enabled:
                KarpenterCpuPool(f"{key}-cpu", KarpenterCpuPoolArgs(
                    cluster_name=spec.name, region=region.name, spec=spec.cpu_pool, zones=list(spec.zones),
                    ami_alias=f"al2023@{spec.ami_version}", node_role_name=karpenter.node_role_name,
                    provider=cluster.provider, controller=karpenter.chart, tags=tags), opts=within)
            nvidia = NvidiaSoftware(
                f"{key}-nvidia",
                NvidiaSoftwareArgs(software=spec.addons.gpu_software, dcgm_exporter=spec.addons.dcgm_exporter,
                                   provider=cluster.provider, system_nodes=cluster.system_nodes,
                                   prometheus_operator=monitoring.release),
                opts=within,
            )
            if dashboards is not None and dashboards.grafana and spec.addons.dcgm_exporter:
                # Beside the exporter (its namespace exists once the GPU software is there); Grafana's sidecar
                # searches every namespace.
                operator = spec.addons.gpu_software is GpuSoftware.OPERATOR
                DashboardConfigMap(f"{key}-dashboard", DashboardConfigMapArgs(
                    form=DashboardForm.GRAFANA, cluster=key, labels=DCGM_EXPORTER, provider=cluster.provider,
                    namespace=OPERATOR_NAMESPACE if operator else DCGM_NAMESPACE, gpu_software=nvidia), opts=within)
            # The add-ons every platform shares: priority classes and team namespaces with GPU quotas. The
            # GPU software is NvidiaSoftware's, and the cluster component owns the gp3 storage class.
            GpuAddons(f"{key}-addons", GpuAddonsArgs(provider=cluster.provider,
                                                     priority_classes=spec.addons.priority_classes,
                                                     namespaces=list(spec.addons.namespaces)), opts=within)
            cluster_names[key] = cluster.cluster_name
            kubeconfigs[key] = cluster.kubeconfig
    return EksFleet(cluster_names, kubeconfigs)


def _rule_groups(obs: Observability, region: str, spec: EksCluster, book: PriceBook) -> list[RuleGroup]:
    """The cluster's GPU rules over dcgm-exporter, priced as its pools (none without GPU pools), and Karpenter's.

    Network saturation is measured against the catalog's bandwidth of every instance type the pools allow.
    """
    karpenter = karpenter_rule_groups(
        [ReservedPool(p.name, tuple(p.instance_types)) for p in spec.gpu_pools
         if CapacityType.RESERVED in p.capacity_types]) if obs.alerts.enabled else []
    if not spec.gpu_pools:
        return karpenter
    pools = [PoolPricing(tuple(p.instance_types), region, spot=set(p.capacity_types) == {CapacityType.SPOT})
             for p in spec.gpu_pools]
    machines = sorted({m for p in spec.gpu_pools for m in p.instance_types})
    return [*gpu_rule_groups(obs.alerts, RuleTargets(MetricSource.DCGM_EXPORTER, gpu_prices(pools, book),
                                                     nic_bandwidths(machines), dcgm=spec.addons.dcgm_exporter)),
            *karpenter]
