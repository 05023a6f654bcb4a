"""NVIDIA software on nodes whose image already carries the driver and container toolkit (EKS's AL2023 NVIDIA AMI).

Either NVIDIA's device plugin (plus dcgm-exporter), or the GPU Operator with its driver and toolkit turned off.
GPU nodes are found by the `nvidia.com/gpu.present` label and tolerated through the GPU taint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images, versions
from components.config.addons import DCGM_NAMESPACE, OPERATOR_NAMESPACE
from components.config.eks import GpuSoftware
from components.kubernetes.conventions import GPU_PRESENT, GPU_TAINT, POOL_TOLERATION
from components.kubernetes.dcgm_counters import counters_csv, operator_counters
from components.kubernetes.monitoring.prometheus_stack import SCRAPE_RELABELINGS

DEVICE_PLUGIN_NAMESPACE = "kube-system"
_GPU_TOLERATION = {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"}
_NODE_AGENT_TOLERATIONS = [_GPU_TOLERATION, dict(POOL_TOLERATION)]
"""GPU node agents also run on dedicated pools, whose nodes carry the `gpu-fleet/pool` taint too."""


def device_plugin_values() -> dict[str, Any]:
    """The chart's default tolerations plus the pool taint.

    v0.20.0 deployments/helm/nvidia-device-plugin/values.yaml:86-93; a list value replaces the default, so the
    defaults are restated.
    """
    return images.chart_image_values(versions.NVIDIA_DEVICE_PLUGIN.chart, {
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, *_NODE_AGENT_TOLERATIONS]})


@dataclass(frozen=True)
class NvidiaSoftwareArgs:
    software: GpuSoftware
    """NVIDIA's device plugin (plus dcgm-exporter) or the GPU Operator (`addons.gpu_software`)."""
    dcgm_exporter: bool
    """Run dcgm-exporter (the standalone chart, or the operator's own)."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    system_nodes: pulumi.Resource
    """The system node group: the charts' controllers run there, and Helm waits for them."""
    prometheus_operator: pulumi.Resource | None = None
    """The release that installs the Prometheus Operator and its CRDs; set, dcgm-exporter is scraped through a
    ServiceMonitor, whose chart waits for it."""


def _service_monitor(enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {"enabled": False}
    return {"enabled": True, "honorLabels": False, "relabelings": SCRAPE_RELABELINGS}


def operator_values(*, dcgm_exporter: bool, service_monitor: bool = False) -> dict[str, Any]:
    """GPU Operator values for images that ship the driver and toolkit (NVIDIA's EKS guidance)."""
    return images.chart_image_values(versions.GPU_OPERATOR.chart, {
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        "dcgmExporter": {"enabled": dcgm_exporter, "serviceMonitor": _service_monitor(service_monitor),
                         "config": operator_counters()},
        # Every operand DaemonSet (device plugin, dcgm-exporter, feature discovery); the chart's default is the
        # GPU toleration alone (gpu-operator values.yaml `daemonsets.tolerations`).
        "daemonsets": {"tolerations": _NODE_AGENT_TOLERATIONS},
    })


def dcgm_exporter_values(*, service_monitor: bool = False) -> dict[str, Any]:
    """dcgm-exporter on GPU nodes only; its chart tolerates only the control-plane taint by default."""
    return images.chart_image_values(versions.DCGM_EXPORTER.chart, {
        "serviceMonitor": _service_monitor(service_monitor),
        "tolerations": _NODE_AGENT_TOLERATIONS,
        "nodeSelector": {GPU_PRESENT: "true"},
        # The chart renders this into the ConfigMap its default volumes mount as the exporter's counters file.
        "customMetrics": counters_csv(),
    })


class NvidiaSoftware(pulumi.ComponentResource):
    exporter_namespace: str
    """Where dcgm-exporter runs (the GPU Operator's namespace, or the standalone chart's): its dashboard goes there."""

    def __init__(self, name: str, args: NvidiaSoftwareArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:addons:NvidiaSoftware", name, None, opts)
        operator = args.software is GpuSoftware.OPERATOR
        self.exporter_namespace = OPERATOR_NAMESPACE if operator else DCGM_NAMESPACE
        after = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.system_nodes])
        monitored = args.prometheus_operator is not None
        crds = [args.prometheus_operator] if args.prometheus_operator is not None else []
        if args.software is GpuSoftware.OPERATOR:
            ns = self._namespace(f"{name}-gpu-operator-ns", OPERATOR_NAMESPACE, args.provider)
            _release(f"{name}-gpu-operator", versions.GPU_OPERATOR, OPERATOR_NAMESPACE,
                     operator_values(dcgm_exporter=args.dcgm_exporter, service_monitor=monitored),
                     pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[ns, *crds])))
        else:
            _release(f"{name}-device-plugin", versions.NVIDIA_DEVICE_PLUGIN, DEVICE_PLUGIN_NAMESPACE,
                     device_plugin_values(), after)
            if args.dcgm_exporter:
                ns = self._namespace(f"{name}-dcgm-ns", DCGM_NAMESPACE, args.provider)
                _release(f"{name}-dcgm-exporter", versions.DCGM_EXPORTER, DCGM_NAMESPACE,
                         dcgm_exporter_values(service_monitor=monitored),
                         pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[ns, *crds])))
        self.register_outputs({})

    def _namespace(self, logical: str, namespace: str, provider: k8s.Provider) -> k8s.core.v1.Namespace:
        """A namespace for node agents (they need host access)."""
        return k8s.core.v1.Namespace(
            logical, metadata={"name": namespace, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
            opts=pulumi.ResourceOptions(parent=self, provider=provider))


def _release(logical: str, pin: versions.ChartPin, namespace: str, values: dict[str, Any],
             opts: pulumi.ResourceOptions) -> None:
    k8s.helm.v3.Release(
        logical, name=pin.chart, chart=pin.chart, version=pin.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository),
        namespace=namespace, values=values, atomic=True, opts=opts)
