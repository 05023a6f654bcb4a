"""What a GPU cluster needs inside Kubernetes, installed through the cluster's own provider.

The GPU software stack, DCGM metrics, priority classes, team namespaces with GPU quotas and the ML
storage class. The alert rules that read the DCGM metrics are `components.kubernetes.monitoring`'s.

The GPU stack is either GKE's (driver, device plugin, managed DCGM) or the NVIDIA GPU Operator, pinned in
`components.versions`, with the values NVIDIA documents for GKE's Container-Optimized OS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images, versions
from components.config.addons import (
    DCGM_NAMESPACE,
    OPERATOR_NAMESPACE,
    DcgmSource,
    GpuStack,
    StorageClassSpec,
    TeamNamespace,
)
from components.kubernetes.dcgm_counters import counters_csv, operator_counters

PRIORITY_CLASSES = {
    # Seed 003's four levels; preemption follows the numbers.
    "gpu-critical": (1_000_000, "Production inference and critical training; never preempted by other GPU work"),
    "gpu-high": (10_000, "Priority research and urgent experiments"),
    "gpu-medium": (1_000, "Regular training jobs"),
    "gpu-low": (100, "Batch processing that may be preempted"),
}
GKE_DRIVER_DIR = "/home/kubernetes/bin/nvidia"
"""Where Google's installer puts the driver on COS nodes; the operator's toolkit must look there."""
DCGM_PORT = 9400
CRITICAL_PRIORITY_CLASSES = ("system-node-critical", "system-cluster-critical")
"""Kubernetes' built-in classes that GKE admits only into namespaces with a quota scoped to them."""

_ON_GPU_NODES = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "cloud.google.com/gke-accelerator", "operator": "Exists"}]}]}}}


@dataclass(frozen=True)
class GkeGpuStack:
    """The GPU software GKE's nodes need in-cluster; images that ship their own (EKS, OpenShift) take none."""

    stack: GpuStack
    """GKE's own stack (dcgm-exporter beside it, unless DCGM is GKE's managed one) or the NVIDIA GPU Operator."""
    dcgm: DcgmSource
    """Where DCGM metrics come from: GKE managed DCGM installs nothing, dcgm-exporter its chart."""
    system_pool: pulumi.Resource
    """The system node pool: the operator's controllers and NFD master run there, and Helm waits for them."""
    gpu_pools: list[pulumi.Resource]
    """The GPU node pools the stack's node agents schedule onto."""
    gpus: bool = True
    """The cluster may have GPU nodes (pools or auto-provisioned GPUs); without, no dcgm-exporter is installed."""


@dataclass(frozen=True)
class GpuAddonsArgs:
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    priority_classes: bool
    """Create gpu-fleet's four GPU PriorityClasses (`addons.priority_classes`)."""
    namespaces: list[TeamNamespace]
    """Team namespaces, each with its GPU quota (`addons.namespaces`)."""
    storage_class: StorageClassSpec | None = None
    """The ML StorageClass on GKE's Persistent Disk CSI driver; None: the platform's own (EKS' gp3) or none."""
    gpu_stack: GkeGpuStack | None = None
    """GKE's in-cluster GPU software; None: the node image or another component brings it (EKS, OpenShift)."""


def gpu_operator_values() -> dict[str, Any]:
    """GPU Operator values for GKE COS nodes with Google's driver installer (NVIDIA's GKE guide)."""
    return images.chart_image_values(versions.GPU_OPERATOR.chart, {
        "driver": {"enabled": False},
        "hostPaths": {"driverInstallDir": GKE_DRIVER_DIR},
        "toolkit": {"installDir": GKE_DRIVER_DIR},
        "cdi": {"enabled": True},
        # GKE's managed Prometheus scrapes through a PodMonitoring; there is no Prometheus Operator.
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": False}, "config": operator_counters()},
        # Every operand DaemonSet; the chart's default is the GPU toleration alone (values.yaml
        # `daemonsets.tolerations`), which keeps them off queued-provisioning nodes.
        "daemonsets": {"tolerations": images.GKE_NODE_AGENT_TOLERATIONS},
    })


def dcgm_exporter_values() -> dict[str, Any]:
    """dcgm-exporter values for nodes whose driver GKE installed under /home/kubernetes/bin/nvidia.

    As Google runs it on GKE (GoogleCloudPlatform/prometheus-engine `examples/nvidia-dcgm/exporter.yaml`):
    privileged, the driver directory mounted at /usr/local/nvidia with LD_LIBRARY_PATH pointing into it, and
    GPUs matched to pods by device name.
    """
    return images.chart_image_values(versions.DCGM_EXPORTER.chart, {
        "serviceMonitor": {"enabled": False},
        # The chart's default too; named here because the namespace's critical-pods quota must cover it.
        "priorityClassName": "system-node-critical",
        # COS nodes have no NVIDIA container runtime to inject /dev/nvidia*, so NVML needs a privileged container.
        # Merged into the chart's default, whose allowPrivilegeEscalation=false the API server refuses with it.
        "securityContext": {"privileged": True, "allowPrivilegeEscalation": True},
        # The GPU taint and, on queued-provisioning pools' nodes, GKE's `cloud.google.com/gke-queued` one.
        "tolerations": images.GKE_NODE_AGENT_TOLERATIONS,
        "affinity": _ON_GPU_NODES,
        "extraHostVolumes": [{"name": "nvidia-install-dir-host", "hostPath": GKE_DRIVER_DIR}],
        "extraVolumeMounts": [
            {"name": "exporter-metrics-volume", "mountPath": "/etc/dcgm-exporter/default-counters.csv",
             "subPath": "default-counters.csv"},
            {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True},
        ],
        "extraEnv": [
            {"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"},
            # GKE's device plugin names GPUs nvidia0, nvidia1, ... in the kubelet's pod-resources, not by UUID;
            # with the default (`uid`) no metric carries pod and namespace. dcgm-exporter pkg/cmd/app.go
            # (--kubernetes-gpu-id-type: `uid` or `device-name`).
            {"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"},
        ],
        # gpu-fleet's counters file (XID counts, ECC, NVLink, throttling), into the ConfigMap mounted above.
        "customMetrics": counters_csv(),
    })


class GpuAddons(pulumi.ComponentResource):
    namespaces: list[str]

    def __init__(self, name: str, args: GpuAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:addons:GpuAddons", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        if args.priority_classes:
            self._priority_classes(name, k8s_opts)
        self.namespaces = self._team_namespaces(name, args.namespaces, args.provider)
        if args.storage_class is not None:
            self._storage_class(name, args.storage_class, k8s_opts)
        if args.gpu_stack is not None:
            self._gke_gpu_stack(name, args.gpu_stack, args.provider)
        self.register_outputs({"namespaces": self.namespaces})

    def _priority_classes(self, name: str, opts: pulumi.ResourceOptions) -> None:
        for pc, (value, description) in PRIORITY_CLASSES.items():
            k8s.scheduling.v1.PriorityClass(
                f"{name}-{pc}",
                metadata={"name": pc},
                value=value,
                global_default=False,
                description=description,
                opts=opts,
            )

    def _team_namespaces(self, name: str, teams: list[TeamNamespace], provider: k8s.Provider) -> list[str]:
        """Each team's namespace and its GPU quota; returns the namespaces' names."""
        for team in teams:
            ns = k8s.core.v1.Namespace(
                f"{name}-ns-{team.name}",
                metadata={"name": team.name, "labels": {"gpu-fleet/team": team.name}},
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
            # Extended resources take only `requests.` quota items: they cannot be overcommitted, so a
            # `limits.nvidia.com/gpu` item (as seed 000 wrote) is meaningless.
            k8s.core.v1.ResourceQuota(
                f"{name}-quota-{team.name}",
                metadata={"name": "gpu-quota", "namespace": team.name},
                spec={"hard": {"requests.nvidia.com/gpu": str(team.gpus)}},
                opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns]),
            )
        return [team.name for team in teams]

    def _storage_class(self, name: str, sc: StorageClassSpec, opts: pulumi.ResourceOptions) -> None:
        k8s.storage.v1.StorageClass(
            f"{name}-sc-{sc.name}",
            metadata={"name": sc.name},
            provisioner="pd.csi.storage.gke.io",
            parameters={"type": sc.disk_type,
                        "replication-type": "regional-pd" if sc.regional else "none"},
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=opts,
        )

    def _gke_gpu_stack(self, name: str, stack: GkeGpuStack, provider: k8s.Provider) -> None:
        """The GPU Operator, or dcgm-exporter beside GKE's own stack (nothing over GKE managed DCGM)."""
        # A GPU pool with min 0 is ready in seconds; without the system pool in the list Helm's wait would race
        # the first system nodes (and an atomic release rolls back when it loses).
        after_nodes = pulumi.ResourceOptions(parent=self, provider=provider,
                                             depends_on=[stack.system_pool, *stack.gpu_pools])
        if stack.stack is GpuStack.OPERATOR:
            self._gpu_operator(name, provider, after_nodes)
        elif stack.dcgm is DcgmSource.EXPORTER and stack.gpus:
            self._dcgm_exporter(name, provider, after_nodes)

    def _gpu_operator(self, name: str, provider: k8s.Provider, opts: pulumi.ResourceOptions) -> None:
        ns_opts = self._privileged_namespace(f"{name}-gpu-operator-ns", OPERATOR_NAMESPACE, provider, opts)
        quota = _critical_pods_quota(f"{name}-gpu-operator-quota", "gpu-operator-quota", OPERATOR_NAMESPACE, ns_opts)
        k8s.yaml.v2.ConfigFile(f"{name}-cos-driver-installer", file=images.manifest_file(versions.COS_DRIVER_INSTALLER),
                               opts=opts)
        _release(f"{name}-gpu-operator", versions.GPU_OPERATOR, OPERATOR_NAMESPACE, gpu_operator_values(),
                 pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[quota])))
        self._pod_monitoring(name, {"app": "nvidia-dcgm-exporter"}, ns_opts)

    def _dcgm_exporter(self, name: str, provider: k8s.Provider, opts: pulumi.ResourceOptions) -> None:
        ns_opts = self._privileged_namespace(f"{name}-dcgm-ns", DCGM_NAMESPACE, provider, opts)
        quota = _critical_pods_quota(f"{name}-dcgm-quota", "dcgm-exporter-quota", DCGM_NAMESPACE, ns_opts)
        _release(f"{name}-dcgm-exporter", versions.DCGM_EXPORTER, DCGM_NAMESPACE, dcgm_exporter_values(),
                 pulumi.ResourceOptions.merge(ns_opts, pulumi.ResourceOptions(depends_on=[quota])))
        self._pod_monitoring(name, {"app.kubernetes.io/name": "dcgm-exporter"}, ns_opts)

    def _privileged_namespace(self, logical: str, namespace: str, provider: k8s.Provider,
                              opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """A namespace for node agents (they need host access), and options for what goes in it."""
        ns = k8s.core.v1.Namespace(
            logical,
            metadata={"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns]))

    def _pod_monitoring(self, name: str, selector: dict[str, str], opts: pulumi.ResourceOptions) -> None:
        """Managed Prometheus scrapes the exporter keeping its own namespace/pod/container labels (the workload's).

        A namespaced PodMonitoring would set `namespace` to the exporter's and rename the workload's to
        `exported_namespace`; a ClusterPodMonitoring with only `node` as target metadata leaves DCGM's labels as
        GKE managed DCGM has them (prometheus-engine `examples/nvidia-dcgm`), so one set of rules fits both.
        """
        k8s.apiextensions.CustomResource(
            f"{name}-dcgm-monitoring",
            api_version="monitoring.googleapis.com/v1",
            kind="ClusterPodMonitoring",
            metadata={"name": "gpufleet-dcgm-exporter"},
            spec={"selector": {"matchLabels": selector},
                  "endpoints": [{"port": DCGM_PORT, "interval": "30s"}],
                  "targetLabels": {"metadata": ["node"]}},
            opts=opts,
        )


def _critical_pods_quota(logical: str, quota_name: str, namespace: str,
                         opts: pulumi.ResourceOptions) -> k8s.core.v1.ResourceQuota:
    """The quota GKE requires before it admits system-node/cluster-critical pods into a namespace.

    GKE only admits pods of those classes into namespaces holding a ResourceQuota scoped to them (as its own
    `gcp-critical-pods` quotas in kube-system are); NVIDIA's GKE guide creates this one for the operator. The
    quota admits, it should not limit: node agents run one pod per node, so the limit is GKE's own (1G), not the
    guide's 100, which would stop the operator's DaemonSets at a few dozen GPU nodes.
    """
    return k8s.core.v1.ResourceQuota(
        logical,
        metadata={"name": quota_name, "namespace": namespace},
        spec=k8s.core.v1.ResourceQuotaSpecArgs(
            hard={"pods": "1G"},
            scope_selector=k8s.core.v1.ScopeSelectorArgs(match_expressions=[
                k8s.core.v1.ScopedResourceSelectorRequirementArgs(
                    operator="In", scope_name="PriorityClass", values=list(CRITICAL_PRIORITY_CLASSES),
                )
            ]),
        ),
        opts=opts,
    )


def _release(logical: str, pin: versions.ChartPin, namespace: str, values: dict[str, Any],
             opts: pulumi.ResourceOptions) -> None:
    k8s.helm.v3.Release(
        logical,
        name=pin.chart,
        chart=pin.chart,
        version=pin.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository),
        namespace=namespace,
        values=values,
        atomic=True,
        opts=opts,
    )
