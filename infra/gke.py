"""The GKE composer: the fleet VPC, then for each region and cluster a hardened cluster, its GPU pools and add-ons."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config.gke import Gke
from components.gcp.cluster import GkeClusterArgs, GkeClusterComponent
from components.gcp.network import ClusterRanges, Network, NetworkArgs, RegionSubnet
from components.gcp.node_pool import GpuNodePool, GpuNodePoolArgs
from components.kubernetes.gpu_addons import GpuAddons, GpuAddonsArgs


@dataclass(frozen=True)
class GkeFleet:
    network_id: pulumi.Output[str]
    cluster_names: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> the GKE cluster's name."""
    kubeconfigs: dict[str, pulumi.Output[str]]
    """`<region>-<cluster>` -> its kubeconfig (a secret)."""


def compose(gke: Gke, *, project: str, labels: dict[str, str]) -> GkeFleet:
    """Declare the whole `gke:` section; logical names come from region, cluster and pool names only."""
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

    cluster_names: dict[str, pulumi.Output[str]] = {}
    kubeconfigs: dict[str, pulumi.Output[str]] = {}
    for region in gke.regions:
        for spec in region.clusters:
            key = f"{region.name}-{spec.name}"
            cluster_labels = {**labels, "cluster-class": spec.cluster_class.value}
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
                    ),
                    opts=pulumi.ResourceOptions(parent=cluster),
                )
                for pool in spec.gpu_pools
            ]
            GpuAddons(
                f"{key}-addons",
                GpuAddonsArgs(spec=spec.addons, provider=cluster.provider, depends_on=list(pools),
                              system_nodes=[cluster.system_pool]),
                opts=pulumi.ResourceOptions(parent=cluster),
            )
            cluster_names[key] = cluster.cluster_name
            kubeconfigs[key] = cluster.kubeconfig
    return GkeFleet(network.network_id, cluster_names, kubeconfigs)
