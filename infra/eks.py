"""The EKS composer: per region an AWS provider, per cluster a VPC, the cluster, Karpenter, GPU pools and add-ons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import versions
from components.aws.cluster import EksClusterArgs, EksClusterComponent
from components.aws.cpu_pool import KarpenterCpuPool, KarpenterCpuPoolArgs
from components.aws.efa import Efa, EfaArgs, uses_efa
from components.aws.gpu_pool import KarpenterGpuPool, KarpenterGpuPoolArgs
from components.aws.iam import partition_of
from components.aws.karpenter import Karpenter, KarpenterArgs
from components.aws.karpenter_aws import KarpenterAwsArgs
from components.aws.network import Vpc, VpcArgs
from components.aws.rules import eks_rule_groups
from components.capacity.rows import PriceBook
from components.config.budgets import TeamBudget
from components.config.dashboards import Dashboards
from components.config.eks import Eks, EksCluster
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
from components.kubernetes.monitoring.prometheus_stack import PrometheusStack, PrometheusStackArgs
from components.kubernetes.monitoring.targets import price_book
from components.kubernetes.nvidia import NvidiaSoftware, NvidiaSoftwareArgs

STORAGE_CLASS = "gp3"
"""The default StorageClass EksClusterComponent creates (encrypted gp3): Prometheus' volume comes from it."""


@dataclass(frozen=True)
class EksFleet:
    cluster_names: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> the EKS cluster's name."""
    kubeconfigs: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> its kubeconfig (a secret; tokens come from `aws eks get-token`)."""


@dataclass(frozen=True)
class _Shared:
    """What every cluster of the section is composed with."""

    eks: Eks
    labels: dict[str, str]
    partition: str
    dashboards: Dashboards | None
    obs: Observability
    credentials: Mapping[str, pulumi.Output[str]]
    book: PriceBook
    teams: Sequence[TeamBudget]


def compose(eks: Eks, *, labels: dict[str, str], dashboards: Dashboards | None = None,
            observability: Observability | None = None, credentials: Mapping[str, pulumi.Output[str]] | None = None,
            prices: list[PriceOverride] | None = None,
            discounts: Sequence[Discount] = (), teams: Sequence[TeamBudget] = ()) -> EksFleet:
    """Declare the whole `eks:` section; logical names come from region, cluster and pool names only.

    `teams`: the stack's team budgets; each cluster's Prometheus guards those whose namespace it runs.
    """
    shared = _Shared(eks, labels, partition_of(eks.admin_principal_arn), dashboards, observability or Observability(),
                     credentials or {}, price_book(prices or [], discounts), teams)
    fleet = EksFleet({}, {})
    for region in eks.regions:
        provider = aws.Provider(f"aws-{region.name}", region=region.name)
        for spec in region.clusters:
            key = f"{region.name}-{spec.name}"
            cluster = _cluster(key, region.name, spec, shared, pulumi.ResourceOptions(providers=[provider]))
            fleet.cluster_names[key] = cluster.cluster_name
            fleet.kubeconfigs[key] = cluster.kubeconfig
    return fleet


def _cluster(key: str, region: str, spec: EksCluster, shared: _Shared,
             in_region: pulumi.ResourceOptions) -> EksClusterComponent:
    """The cluster's VPC and the cluster, then inside it monitoring, Karpenter and its pools, and the add-ons."""
    eks, tags = shared.eks, {**shared.labels, "gpu-fleet/cluster": spec.name}
    vpc = Vpc(f"{key}-vpc", VpcArgs(cluster_name=spec.name, cidr=spec.vpc_cidr, zones=list(spec.zones), nat=spec.nat,
                                    tags=tags, region=region, partition=shared.partition, flow_logs=eks.flow_logs),
              opts=in_region)
    cluster = EksClusterComponent(key, EksClusterArgs(
        region=region, spec=spec, kubernetes_version=eks.kubernetes_version,
        addon_versions=versions.eks_addon_versions(eks.kubernetes_version, eks.addon_versions),
        admin_principal_arn=eks.admin_principal_arn, deletion_protection=eks.deletion_protection,
        deploy_principal_arn=eks.deploy_principal_arn, preview_principal_arn=eks.preview_principal_arn,
        support_type=eks.support_type, zonal_shift=eks.zonal_shift,
        subnet_ids=[vpc.private_subnet_ids[z] for z in spec.zones], tags=tags), opts=in_region)
    within = pulumi.ResourceOptions(parent=cluster)
    obs = shared.obs
    monitoring = PrometheusStack(f"{key}-monitoring", PrometheusStackArgs(
        cluster=key, groups=with_team_guard(eks_rule_groups(obs.alerts, region, spec, shared.book), shared.teams,
                                            spec.addons.namespaces),
        receivers=dict(obs.receivers), credentials=dict(shared.credentials), storage_class=STORAGE_CLASS,
        provider=cluster.provider, system_nodes=cluster.system_nodes, deadmans_switch=obs.deadmans_switch),
        opts=within)
    karpenter = Karpenter(f"{key}-karpenter", KarpenterArgs(
        aws=KarpenterAwsArgs(cluster_name=cluster.cluster_name, cluster_arn=cluster.cluster_arn, region=region,
                             partition=shared.partition, tags=tags),
        provider=cluster.provider, system_nodes=cluster.system_nodes, zonal_shift=eks.zonal_shift,
        prometheus_operator=monitoring.release), opts=within)
    _pools(key, region, spec, cluster, karpenter, vpc, tags, within)
    nvidia = NvidiaSoftware(f"{key}-nvidia", NvidiaSoftwareArgs(
        software=spec.addons.gpu_software, dcgm_exporter=spec.addons.dcgm_exporter, provider=cluster.provider,
        system_nodes=cluster.system_nodes, prometheus_operator=monitoring.release), opts=within)
    if shared.dashboards is not None and shared.dashboards.grafana and spec.addons.dcgm_exporter:
        # Beside the exporter (its namespace exists once the GPU software is there); Grafana's sidecar
        # searches every namespace.
        DashboardConfigMap(f"{key}-dashboard", DashboardConfigMapArgs(
            form=DashboardForm.GRAFANA, cluster=key, labels=DCGM_EXPORTER, provider=cluster.provider,
            namespace=nvidia.exporter_namespace, gpu_software=nvidia), opts=within)
    # The add-ons every platform shares: priority classes and team namespaces with GPU quotas. The
    # GPU software is NvidiaSoftware's, and the cluster component owns the gp3 storage class.
    GpuAddons(f"{key}-addons", GpuAddonsArgs(provider=cluster.provider, priority_classes=spec.addons.priority_classes,
                                             namespaces=list(spec.addons.namespaces)), opts=within)
    return cluster


def _pools(key: str, region: str, spec: EksCluster, cluster: EksClusterComponent, karpenter: Karpenter, vpc: Vpc,
           tags: dict[str, str], within: pulumi.ResourceOptions) -> None:
    """EFA (where a pool uses it), then a Karpenter NodePool per GPU pool and the CPU pool."""
    efa = Efa(f"{key}-efa", EfaArgs(cluster_name=spec.name, vpc_id=vpc.vpc_id, pools=list(spec.gpu_pools),
                                    provider=cluster.provider, system_nodes=cluster.system_nodes, tags=tags),
              opts=within) if uses_efa(spec.gpu_pools) else None
    ami_alias = f"al2023@{spec.ami_version}"
    for pool in spec.gpu_pools:
        KarpenterGpuPool(f"{key}-{pool.name}", KarpenterGpuPoolArgs(
            cluster_name=spec.name, region=region, spec=pool, zones=list(spec.zones), ami_alias=ami_alias,
            node_role_name=karpenter.node_role_name, provider=cluster.provider, controller=karpenter.chart,
            tags=tags, efa=efa, maintenance=spec.maintenance.window), opts=within)
    if spec.cpu_pool.enabled:
        KarpenterCpuPool(f"{key}-cpu", KarpenterCpuPoolArgs(
            cluster_name=spec.name, region=region, spec=spec.cpu_pool, zones=list(spec.zones), ami_alias=ami_alias,
            node_role_name=karpenter.node_role_name, provider=cluster.provider, controller=karpenter.chart,
            tags=tags), opts=within)
