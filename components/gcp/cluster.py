"""A hardened regional GKE cluster for GPU work, its system node pool and a Kubernetes provider.

Private nodes, Workload Identity, shielded nodes, Dataplane V2, image streaming, VPA and managed Prometheus
are always on; the node service account is the cluster's own, least-privilege one. GPU pools and add-ons
are separate components that receive `provider` and the cluster's name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import catalog
from components.config.addons import DcgmSource, GpuStack
from components.config.gke import SYSTEM_POOL_NAME, GkeCluster, ReleaseChannel
from components.gcp.network import pods_range_name, services_range_name

NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
"""GKE's least-privilege node role, plus pulling images from Artifact Registry."""
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
"""With a custom service account, IAM roles (not scopes) bound what nodes can do."""


@dataclass(frozen=True)
class GkeClusterArgs:
    project: str
    region: str
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    spec: GkeCluster
    """The cluster's validated config."""
    release_channel: ReleaseChannel
    deletion_protection: bool
    labels: dict[str, str]
    """GCP resource labels (environment, cluster class, ...)."""


def hardened_node_settings(service_account: pulumi.Input[str]) -> dict[str, Any]:
    """Node-config settings every node of the fleet shares.

    The cluster's own service account, Shielded VM with Secure Boot, the GKE metadata server (Workload
    Identity) and no legacy metadata endpoints.
    """
    return {
        "service_account": service_account,
        "oauth_scopes": NODE_SCOPES,
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "metadata": {"disable-legacy-endpoints": "true"},
    }


def node_service_account_id(region: str, cluster: str) -> str:
    """A 6-30 character account id that is stable for (region, cluster) and unique in the project."""
    digest = hashlib.sha256(f"{region}/{cluster}".encode()).hexdigest()[:6]
    return f"gf-{cluster[:19].rstrip('-')}-{digest}"


class GkeClusterComponent(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:cluster:GkeCluster", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)

        sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=node_service_account_id(args.region, spec.name),
            display_name=f"GKE nodes of {spec.name} ({args.region})",
            project=args.project,
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                project=args.project,
                role=role,
                member=sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )

        managed_dcgm = spec.addons.gpu_stack is GpuStack.GKE and spec.addons.dcgm is DcgmSource.MANAGED
        components = ["SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER", "STORAGE", "POD",
                      "DAEMONSET", "DEPLOYMENT", "STATEFULSET", "KUBELET", "CADVISOR"]
        if managed_dcgm:
            components.append("DCGM")

        cluster = gcp.container.Cluster(
            name,
            name=spec.name,
            project=args.project,
            location=args.region,
            network=args.network_id,
            subnetwork=args.subnet_id,
            remove_default_node_pool=True,
            initial_node_count=1,
            # The throwaway default pool must not run as the default compute service account either.
            node_config=gcp.container.ClusterNodeConfigArgs(**hardened_node_settings(sa.email)),
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=pods_range_name(spec.name),
                services_secondary_range_name=services_range_name(spec.name),
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=not spec.public_endpoint,
                master_ipv4_cidr_block=spec.master_cidr,
                master_global_access_config=gcp.container.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(
                    enabled=spec.master_global_access
                ),
            ),
            master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                        cidr_block=n.cidr, display_name=n.name
                    )
                    for n in spec.authorized_networks
                ],
                gcp_public_cidrs_access_enabled=False,
            ),
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            enable_legacy_abac=False,
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=f"{args.project}.svc.id.goog"
            ),
            enable_shielded_nodes=True,
            node_pool_defaults=gcp.container.ClusterNodePoolDefaultsArgs(
                node_config_defaults=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                    gcfs_config=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsGcfsConfigArgs(enabled=True)
                )
            ),
            vertical_pod_autoscaling=gcp.container.ClusterVerticalPodAutoscalingArgs(enabled=True),
            datapath_provider="ADVANCED_DATAPATH",
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel.value),
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=components,
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
            ),
            logging_config=gcp.container.ClusterLoggingConfigArgs(
                enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]
            ),
            addons_config=gcp.container.ClusterAddonsConfigArgs(
                gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                    enabled=True
                ),
                gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
            ),
            cluster_autoscaling=self._auto_provisioning(spec, sa.email),
            deletion_protection=args.deletion_protection,
            resource_labels=args.labels,
            # node_config only shapes the default pool, which is removed at creation; GKE then reports
            # another pool's config, and a diff on node_config would replace the whole cluster.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeConfig"]),
        )

        sp = spec.system_pool
        gcp.container.NodePool(
            f"{name}-system",
            name=SYSTEM_POOL_NAME,
            project=args.project,
            location=args.region,
            cluster=cluster.name,
            node_locations=sp.zones,
            initial_node_count=sp.min_nodes_per_zone or 1,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                min_node_count=sp.min_nodes_per_zone, max_node_count=sp.max_nodes_per_zone
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=gcp.container.NodePoolNodeConfigArgs(
                machine_type=sp.machine_type,
                image_type="COS_CONTAINERD",
                labels={"gpu-fleet/role": "system"},
                resource_labels=args.labels,
                **hardened_node_settings(sa.email),
            ),
            # The autoscaler owns the node count; a changed count is not drift, and initial_node_count
            # only matters at creation (changing it would replace the pool).
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeCount", "initialNodeCount"]),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.node_service_account = sa.email
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
                lambda v: kubeconfig(v[0], v[1], v[2] or "")
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True, opts=child
        )
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "node_service_account": self.node_service_account,
            "kubeconfig": self.kubeconfig,
        })

    @staticmethod
    def _auto_provisioning(
        spec: GkeCluster, service_account: pulumi.Output[str]
    ) -> gcp.container.ClusterClusterAutoscalingArgs | None:
        nap = spec.auto_provisioning
        if not nap.enabled:
            return None
        limits = [
            gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="cpu", minimum=0,
                                                                     maximum=nap.cpu_max),
            gcp.container.ClusterClusterAutoscalingResourceLimitArgs(resource_type="memory", minimum=0,
                                                                     maximum=nap.memory_max_gb),
        ] + [
            gcp.container.ClusterClusterAutoscalingResourceLimitArgs(
                resource_type=str(catalog.gpu(lim.gpu).gke_accelerator), minimum=0, maximum=lim.max
            )
            for lim in nap.gpu_limits
        ]
        return gcp.container.ClusterClusterAutoscalingArgs(
            enabled=True,
            resource_limits=limits,
            auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
                service_account=service_account,
                oauth_scopes=NODE_SCOPES,
                shielded_instance_config=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                management=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsManagementArgs(
                    auto_repair=True, auto_upgrade=True
                ),
            ),
        )


def kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (no static credentials in state)."""
    import json

    context = f"gke-{cluster_name}"
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {
            "server": f"https://{endpoint}", "certificate-authority-data": ca_certificate}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
        }}}],
    })
