"""A hardened regional GKE cluster for GPU work, its system node pool and a Kubernetes provider.

Private nodes, Workload Identity, shielded nodes, Dataplane V2, image streaming, VPA, managed Prometheus,
KMS-encrypted Secrets, cost allocation and a maintenance policy are on; the node service account is the
cluster's own, least-privilege one, and nothing uses it before its roles have propagated. The kubeconfig
reaches the control plane through GKE's DNS endpoint (IAM-gated), so a CI runner needs no allow-listed
address. GPU pools and add-ons are separate components that receive `provider` and the cluster's name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumiverse_time as time

from components import catalog
from components.config.addons import DcgmSource, GpuStack
from components.config.gke import SYSTEM_POOL_NAME, GkeCluster, Maintenance, ReleaseChannel
from components.gcp.network import pods_range_name, services_range_name

NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
"""GKE's least-privilege node role, plus pulling images from Artifact Registry."""
NODE_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
"""With a custom service account, IAM roles (not scopes) bound what nodes can do."""
IAM_PROPAGATION = "30s"
"""How long new IAM bindings get before a node uses them: cluster-toolkit waits 30 s after creating the node
service account and its roles (GoogleCloudPlatform/cluster-toolkit PR #6237), or node pool creation fails
with 'Service account ... does not exist' or nodes boot without their roles."""
UPGRADE_EVENTS = ["UPGRADE_AVAILABLE_EVENT", "UPGRADE_EVENT", "SECURITY_BULLETIN_EVENT"]
KMS_ROTATION = "7776000s"
"""90 days: the secrets-encryption key's rotation period."""
_DAY_ORDER = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@dataclass(frozen=True)
class GkeClusterArgs:
    project: str
    """The GCP project the cluster, its service account and its KMS key live in."""
    region: str
    """The cluster's region (a regional cluster)."""
    network_id: pulumi.Input[str]
    """The fleet VPC (components.gcp.network)."""
    subnet_id: pulumi.Input[str]
    """The region's subnet, holding the cluster's pods and services ranges."""
    spec: GkeCluster
    """The cluster's validated config."""
    release_channel: ReleaseChannel
    """GKE release channel (`gke.release_channel`)."""
    deletion_protection: bool
    """GKE deletion protection on the cluster (`gke.deletion_protection`)."""
    labels: dict[str, str]
    """GCP resource labels (environment, cluster class, ...)."""
    multi_networking: bool = False
    """GKE multi-networking, which GPU fabric pools need for their extra NICs (it runs on Dataplane V2, always on)."""
    security_group: str | None = None
    """Google Groups for RBAC: the gke-security-groups@<domain> group (None: off)."""
    min_master_version: str | None = None
    """Lowest GKE version (validated against the fabric pools' needs); None: the release channel's default."""


def hardened_node_settings(service_account: pulumi.Input[str]) -> dict[str, Any]:
    """Node-config settings every node of the fleet shares.

    The cluster's own service account, Shielded VM with Secure Boot, the GKE metadata server (Workload
    Identity), no legacy metadata endpoints and no unauthenticated kubelet read-only port (CIS GKE 3.2.4).
    """
    return {
        "service_account": service_account,
        "oauth_scopes": NODE_SCOPES,
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "metadata": {"disable-legacy-endpoints": "true"},
        "kubelet_config": {"insecure_kubelet_readonly_port_enabled": "FALSE"},
    }


def maintenance_policy(m: Maintenance) -> gcp.container.ClusterMaintenancePolicyArgs:
    """A weekly recurring window (UTC) and the configured exclusions, in the RFC 3339 / RRULE forms GKE returns.

    The window's first occurrence is anchored on a fixed past date: GKE only reads the time of day and the
    duration from it, and a fixed anchor keeps the input stable from one run to the next.
    """
    hour, minute = (int(x) for x in m.window.start.split(":"))
    start = datetime(2026, 1, 1, hour, minute, tzinfo=UTC)
    end = start + timedelta(hours=m.window.duration_hours)
    days = ",".join(d for d in _DAY_ORDER if d in {w.value for w in m.window.days})
    return gcp.container.ClusterMaintenancePolicyArgs(
        recurring_window=gcp.container.ClusterMaintenancePolicyRecurringWindowArgs(
            start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            recurrence=f"FREQ=WEEKLY;BYDAY={days}",
        ),
        maintenance_exclusions=[
            gcp.container.ClusterMaintenancePolicyMaintenanceExclusionArgs(
                exclusion_name=e.name,
                start_time=e.start,
                end_time=e.end,
                exclusion_options=gcp.container.ClusterMaintenancePolicyMaintenanceExclusionExclusionOptionsArgs(
                    scope=e.scope.value.upper().replace("-", "_"),
                    end_time_behavior=None if e.end else "UNTIL_END_OF_SUPPORT",
                ),
            )
            for e in sorted(m.exclusions, key=lambda e: e.name)
        ] or None,
    )


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
    iam_ready: pulumi.Resource
    """Done once the node service account's roles have propagated: what every node pool waits for."""
    system_pool: gcp.container.NodePool

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:cluster:GkeCluster", name, None, opts)
        self.node_service_account, self.iam_ready = self._node_identity(name, args)
        encryption, key_grants = self._secrets_key(name, args)
        topic = self._upgrade_topic(name, args)
        cluster = self._control_plane(name, args, encryption=encryption, key_grants=key_grants, topic=topic)
        self.system_pool = self._system_pool(name, args, cluster)
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self._kubeconfig_and_provider(name, args, cluster)
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "endpoint": self.endpoint,
            "node_service_account": self.node_service_account,
            "kubeconfig": self.kubeconfig,
        })

    def _node_identity(self, name: str, args: GkeClusterArgs) -> tuple[pulumi.Output[str], time.Sleep]:
        """The cluster's own node service account, its roles, and the wait for them to propagate.

        Returns the account's e-mail and the wait: everything that runs as the account waits for its roles.
        """
        child = pulumi.ResourceOptions(parent=self)
        sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=node_service_account_id(args.region, args.spec.name),
            display_name=f"GKE nodes of {args.spec.name} ({args.region})",
            project=args.project,
            opts=child,
        )
        bindings = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                project=args.project,
                role=role,
                member=sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
            for role in NODE_ROLES
        ]
        ready = time.Sleep(
            f"{name}-iam-propagation",
            create_duration=IAM_PROPAGATION,
            triggers={"service_account": sa.email},
            opts=pulumi.ResourceOptions(parent=self, depends_on=bindings),
        )
        return sa.email, ready

    def _upgrade_topic(self, name: str, args: GkeClusterArgs) -> gcp.pubsub.Topic | None:
        """The Pub/Sub topic GKE's upgrade notifications go to (`maintenance.notifications`), or none."""
        if not args.spec.maintenance.notifications:
            return None
        return gcp.pubsub.Topic(
            f"{name}-upgrades",
            name=f"gke-{args.region}-{args.spec.name}-upgrades",
            project=args.project,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _control_plane(self, name: str, args: GkeClusterArgs, *,
                       encryption: gcp.container.ClusterDatabaseEncryptionArgs, key_grants: list[pulumi.Resource],
                       topic: gcp.pubsub.Topic | None) -> gcp.container.Cluster:
        """The cluster itself, its default pool removed at creation; it waits for the node IAM and the key grant."""
        spec = args.spec
        return gcp.container.Cluster(
            name,
            name=spec.name,
            project=args.project,
            location=args.region,
            network=args.network_id,
            subnetwork=args.subnet_id,
            remove_default_node_pool=True,
            initial_node_count=1,
            # The throwaway default pool must not run as the default compute service account either.
            node_config=gcp.container.ClusterNodeConfigArgs(**hardened_node_settings(self.node_service_account)),
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=pods_range_name(spec.name),
                services_secondary_range_name=services_range_name(spec.name),
            ),
            **_endpoints(spec),
            **_security(args),
            **_node_pool_defaults(),
            datapath_provider="ADVANCED_DATAPATH",
            # Set only where a pool has GPU NICs: GKE switches it on in place (the provider allows the update).
            enable_multi_networking=True if args.multi_networking else None,
            min_master_version=args.min_master_version,
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=args.release_channel.value),
            **_telemetry(spec),
            addons_config=_addons_config(),
            cluster_autoscaling=self._auto_provisioning(spec, self.node_service_account),
            maintenance_policy=maintenance_policy(spec.maintenance),
            notification_config=_upgrade_notifications(topic),
            database_encryption=encryption,
            # GKE cost allocation: per-namespace and per-label GPU cost in the billing export.
            cost_management_config=gcp.container.ClusterCostManagementConfigArgs(enabled=True),
            deletion_protection=args.deletion_protection,
            resource_labels=args.labels,
            # node_config only shapes the default pool, which is removed at creation; GKE then reports
            # another pool's config, and a diff on node_config would replace the whole cluster.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeConfig"],
                                        depends_on=[self.iam_ready, *key_grants]),
        )

    def _system_pool(self, name: str, args: GkeClusterArgs, cluster: gcp.container.Cluster) -> gcp.container.NodePool:
        """The autoscaled pool system pods run on, as the cluster's node service account once its roles exist."""
        sp = args.spec.system_pool
        return gcp.container.NodePool(
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
                **hardened_node_settings(self.node_service_account),
            ),
            # The autoscaler owns the node count; a changed count is not drift, and initial_node_count
            # only matters at creation (changing it would replace the pool).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.iam_ready],
                                        ignore_changes=["nodeCount", "initialNodeCount"]),
        )

    def _kubeconfig_and_provider(self, name: str, args: GkeClusterArgs, cluster: gcp.container.Cluster) -> None:
        """The kubeconfig (a secret) through the DNS endpoint or the IP one, and the provider built from it."""
        context = f"gke_{args.project}_{args.region}_{args.spec.name}"
        if args.spec.dns_endpoint:
            # The DNS endpoint serves a publicly trusted certificate: no CA data, as gcloud writes it.
            server = cluster.control_plane_endpoints_config.apply(_dns_endpoint)
            self.kubeconfig = pulumi.Output.secret(server.apply(lambda host: kubeconfig(context, host, None)))
        else:
            self.kubeconfig = pulumi.Output.secret(
                pulumi.Output.all(cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
                    lambda v: kubeconfig(context, v[0], v[1] or "")
                )
            )
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self)
        )

    def _secrets_key(self, name: str, args: GkeClusterArgs
                     ) -> tuple[gcp.container.ClusterDatabaseEncryptionArgs, list[pulumi.Resource]]:
        """Cloud KMS encryption of Secrets in etcd: the configured key, or a key ring and key of the cluster's own.

        GKE's service agent must be able to use the key before the cluster is created with it.
        """
        enc = args.spec.secrets_encryption
        if not enc.enabled:
            return gcp.container.ClusterDatabaseEncryptionArgs(state="DECRYPTED"), []
        if enc.kms_key is not None:
            return gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=enc.kms_key), []
        child = pulumi.ResourceOptions(parent=self)
        # Key rings and keys cannot be deleted in GCP: a destroyed stack leaves them, and they are only
        # disabled. Their names are the cluster's, so a re-created cluster would collide: protect them.
        ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            name=f"gke-{args.spec.name}",
            project=args.project,
            location=args.region,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-secrets-key",
            name="secrets",
            key_ring=ring.id,
            rotation_period=KMS_ROTATION,
            purpose="ENCRYPT_DECRYPT",
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        number = gcp.organizations.get_project_output(project_id=args.project).number
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=number.apply(lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"),
            opts=child,
        )
        return gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key.id), [grant]

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


def _endpoints(spec: GkeCluster) -> dict[str, Any]:
    """How the control plane is reached: DNS and IP endpoints, private nodes, authorized networks, no client certs."""
    return {
        "control_plane_endpoints_config": gcp.container.ClusterControlPlaneEndpointsConfigArgs(
            dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                allow_external_traffic=spec.dns_endpoint
            ),
            ip_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigIpEndpointsConfigArgs(
                enabled=spec.ip_endpoint
            ),
        ),
        "private_cluster_config": gcp.container.ClusterPrivateClusterConfigArgs(
            enable_private_nodes=True,
            enable_private_endpoint=not spec.public_endpoint,
            master_ipv4_cidr_block=spec.master_cidr,
            master_global_access_config=gcp.container.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(
                enabled=spec.master_global_access
            ),
        ),
        "master_authorized_networks_config": gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[
                gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(
                    cidr_block=n.cidr, display_name=n.name
                )
                for n in spec.authorized_networks
            ],
            gcp_public_cidrs_access_enabled=False,
        ),
        "master_auth": gcp.container.ClusterMasterAuthArgs(
            client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                issue_client_certificate=False
            )
        ),
    }


def _security(args: GkeClusterArgs) -> dict[str, Any]:
    """No legacy ABAC, Workload Identity, shielded nodes, and the CIS items below."""
    return {
        "enable_legacy_abac": False,
        "workload_identity_config": gcp.container.ClusterWorkloadIdentityConfigArgs(
            workload_pool=f"{args.project}.svc.id.goog"
        ),
        "enable_shielded_nodes": True,
        # CIS GKE 5.10 / 5.6.1 / 5.8: the project's Binary Authorization policy, pod-to-pod traffic on a node
        # through the VPC (flow logs, firewall rules), RBAC subjects from Google Groups. All three are
        # updated in place on an existing cluster (see README, "CIS items and waivers").
        "binary_authorization": gcp.container.ClusterBinaryAuthorizationArgs(
            evaluation_mode="PROJECT_SINGLETON_POLICY_ENFORCE"
        ),
        "enable_intranode_visibility": True,
        "authenticator_groups_config": gcp.container.ClusterAuthenticatorGroupsConfigArgs(
            security_group=args.security_group
        ) if args.security_group else None,
    }


def _node_pool_defaults() -> dict[str, Any]:
    """Image streaming and no kubelet read-only port on every pool, and vertical pod autoscaling."""
    return {
        "node_pool_defaults": gcp.container.ClusterNodePoolDefaultsArgs(
            node_config_defaults=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
                gcfs_config=gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsGcfsConfigArgs(enabled=True),
                insecure_kubelet_readonly_port_enabled="FALSE",
            )
        ),
        "vertical_pod_autoscaling": gcp.container.ClusterVerticalPodAutoscalingArgs(enabled=True),
    }


MONITORED_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "SCHEDULER", "CONTROLLER_MANAGER", "STORAGE", "POD",
                        "DAEMONSET", "DEPLOYMENT", "STATEFULSET", "KUBELET", "CADVISOR"]
"""Cloud Monitoring components every cluster exports; `DCGM` joins them over GKE managed DCGM."""


def _telemetry(spec: GkeCluster) -> dict[str, Any]:
    """Managed Prometheus and the monitored components (GKE managed DCGM's among them), system and workload logs."""
    managed_dcgm = spec.addons.gpu_stack is GpuStack.GKE and spec.addons.dcgm is DcgmSource.MANAGED
    return {
        "monitoring_config": gcp.container.ClusterMonitoringConfigArgs(
            enable_components=[*MONITORED_COMPONENTS, *(["DCGM"] if managed_dcgm else [])],
            managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
        ),
        "logging_config": gcp.container.ClusterLoggingConfigArgs(
            enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]
        ),
    }


def _addons_config() -> gcp.container.ClusterAddonsConfigArgs:
    """The Persistent Disk and Cloud Storage FUSE CSI drivers."""
    return gcp.container.ClusterAddonsConfigArgs(
        gce_persistent_disk_csi_driver_config=gcp.container.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
            enabled=True
        ),
        gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
    )


def _upgrade_notifications(topic: gcp.pubsub.Topic | None) -> gcp.container.ClusterNotificationConfigArgs | None:
    """Upgrade and security-bulletin events to the cluster's topic, when it has one."""
    if topic is None:
        return None
    return gcp.container.ClusterNotificationConfigArgs(
        pubsub=gcp.container.ClusterNotificationConfigPubsubArgs(
            enabled=True,
            topic=topic.id,
            filter=gcp.container.ClusterNotificationConfigPubsubFilterArgs(event_types=UPGRADE_EVENTS),
        )
    )


def _dns_endpoint(config: Any) -> str:
    dns = (config.dns_endpoint_config if config is not None else None)
    return str(dns.endpoint) if dns is not None and dns.endpoint else ""


def kubeconfig(context: str, endpoint: str, ca_certificate: str | None) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (no static credentials in state).

    `context` follows gcloud's `gke_<project>_<location>_<name>`, so kubeconfigs of same-named clusters in
    several regions merge without one silently shadowing another. Without `ca_certificate` the server's
    certificate is checked against the system's trusted roots (GKE's DNS endpoint).
    """
    cluster: dict[str, Any] = {"server": f"https://{endpoint}"}
    if ca_certificate is not None:
        cluster["certificate-authority-data"] = ca_certificate
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [{"name": context, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
        }}}],
    })
