"""gpu-fleet: a VPC, then for each region and cluster a hardened GKE cluster, its GPU pools and add-ons."""

import pulumi

from components.gke_cluster import GkeClusterArgs, GkeClusterComponent
from components.gpu_addons import GpuAddons, GpuAddonsArgs
from components.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.network import ClusterRanges, Network, NetworkArgs, RegionSubnet
from components.pricing import PriceOverrides
from components.validation import ConfigError
from infra import config

try:
    stack = config.load()
except ConfigError as err:
    raise pulumi.RunError(f"invalid stack configuration ({err.count}):\n{err}") from None

fleet, project = stack.fleet, stack.gcp_project
gke = fleet.gke
assert gke is not None, "validation guarantees a GKE section"
labels = {"environment": fleet.environment, "managed-by": "gpu-fleet", **fleet.labels}

PriceOverrides("prices", fleet.prices)

network = Network(
    gke.network.name,
    NetworkArgs(
        project=project,
        network_name=gke.network.name,
        mtu=gke.network.mtu,
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
                ),
                opts=pulumi.ResourceOptions(parent=cluster),
            )
            for pool in spec.gpu_pools
        ]
        GpuAddons(
            f"{key}-addons",
            GpuAddonsArgs(spec=spec.addons, provider=cluster.provider, depends_on=list(pools)),
            opts=pulumi.ResourceOptions(parent=cluster),
        )
        cluster_names[key] = cluster.cluster_name
        kubeconfigs[key] = cluster.kubeconfig

pulumi.export("network", network.network_id)
pulumi.export("clusters", cluster_names)
pulumi.export("kubeconfigs", pulumi.Output.secret(kubeconfigs))
