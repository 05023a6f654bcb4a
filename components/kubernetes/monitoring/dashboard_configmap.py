"""The GPU fleet dashboard as a ConfigMap in a cluster: for Grafana's dashboard sidecar, or for the OpenShift console.

kube-prometheus-stack's Grafana loads every ConfigMap labelled `grafana_dashboard: "1"` from any namespace (chart
88.5.3 `grafana.sidecar.dashboards.{label, labelValue, searchNamespace: ALL}`); the OpenShift console shows every
ConfigMap labelled `console.openshift.io/dashboard: "true"` in `openshift-config-managed` under Observe >
Dashboards. Both take the dashboard JSON as a data key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.conventions import LABEL_CLUSTER
from components.kubernetes.monitoring.dashboards import (
    OPENSHIFT,
    UID,
    MetricLabels,
    console_dashboard,
    grafana_dashboard,
)

GRAFANA_LABEL = ("grafana_dashboard", "1")
"""kube-prometheus-stack's sidecar label and value (reference values.yaml `grafana.sidecar.dashboards`)."""
CONSOLE_LABEL = ("console.openshift.io/dashboard", "true")
CONSOLE_NAMESPACE = "openshift-config-managed"


class DashboardForm(str, Enum):
    GRAFANA = "grafana"
    """Grafana JSON for kube-prometheus-stack's sidecar."""
    OPENSHIFT_CONSOLE = "openshift-console"
    """The console's legacy-panel JSON, in openshift-config-managed."""


@dataclass(frozen=True)
class DashboardConfigMapArgs:
    form: DashboardForm
    """Grafana's sidecar form or the OpenShift console's."""
    cluster: str
    """The cluster's key in the fleet (`<region>-<cluster>`)."""
    labels: MetricLabels
    """How this cluster's GPU metrics name node, namespace and capacity type."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    namespace: str = CONSOLE_NAMESPACE
    """Where the ConfigMap goes (Grafana's sidecar searches every namespace; the console reads only its own)."""
    gpu_software: pulumi.Resource | None = None
    """What creates the namespace (the GPU software, whose exporter the dashboard shows); None: it exists."""
    daily_budget_usd: float | None = None
    """The daily GPU budget the cost stat is read against; None: no budget thresholds."""
    thresholds: tuple[float, ...] = ()
    """Shares of the daily budget where the cost stat turns orange, then red."""


class DashboardConfigMap(pulumi.ComponentResource):
    config_map_name: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardConfigMapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:monitoring:DashboardConfigMap", name, None, opts)
        if args.form is DashboardForm.GRAFANA:
            key, value = GRAFANA_LABEL
            body = grafana_dashboard(args.labels, daily_budget_usd=args.daily_budget_usd, thresholds=args.thresholds)
        else:
            key, value = CONSOLE_LABEL
            body = console_dashboard(args.labels)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-gpus",
            metadata={"name": UID, "namespace": args.namespace,
                      "labels": {key: value, LABEL_CLUSTER: args.cluster, "app.kubernetes.io/managed-by": "gpu-fleet"}},
            data={f"{UID}.json": json.dumps(body, sort_keys=True)},
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[args.gpu_software] if args.gpu_software is not None else []),
        )
        self.config_map_name = config_map.metadata.name
        self.register_outputs({"config_map_name": self.config_map_name})


def openshift_console_dashboard(name: str, *, cluster: str, provider: k8s.Provider,
                                labels: MetricLabels = OPENSHIFT,
                                opts: pulumi.ResourceOptions | None = None) -> DashboardConfigMap:
    """The dashboard in an OpenShift cluster's console (for the OpenShift composer).

    Platform monitoring scrapes the GPU Operator's dcgm-exporter through its ServiceMonitor, which gpu-fleet's
    ClusterPolicy gives the same relabelings as on EKS: `node`, and the workload's namespace as `namespace`; the
    platform's kube-state-metrics reports the nodes' `gpu-fleet/capacity` label.
    """
    return DashboardConfigMap(name, DashboardConfigMapArgs(form=DashboardForm.OPENSHIFT_CONSOLE, cluster=cluster,
                                                           labels=labels, provider=provider), opts=opts)
