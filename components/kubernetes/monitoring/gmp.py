"""GKE managed Prometheus: the GPU rules as `ClusterRules`, and the managed Alertmanager's receivers.

DCGM series carry the workload's namespace (managed DCGM keeps the exporter's labels, and gpu-fleet's own
exporters are scraped by a ClusterPodMonitoring that keeps them too), and a namespaced `Rules` only sees series
of its own namespace (managed Prometheus injects `namespace=<its namespace>` into every selector,
prometheus-engine `pkg/operator/apis/monitoring/v1/rules_config.go`): so the rules are cluster-scoped. The
managed rule-evaluator sends alerts to the managed Alertmanager, which reads its configuration from the Secret
`alertmanager` (key `alertmanager.yaml`) in `gmp-public` and otherwise runs a no-op one
(`pkg/operator/operator_config.go`).

Node traffic for the network saturation rule comes from the kubelet's cAdvisor endpoint, scraped by one
`ClusterNodeMonitoring` per GPU machine type: its node selector (`node.kubernetes.io/instance-type`) is the only
way a node-level scrape can know the machine type (GMP's node scrape relabels nothing but the selector,
`pkg/operator/apis/monitoring/v1/node_types.go`), so each object stamps its type on the series it keeps. It keeps
only the root cgroup's byte counters of the physical interfaces, a few series per node (the pattern of GMP's own
`examples/cadvisor-metrics.yaml`; the managed collector may read the kubelet's `nodes/metrics`, its ClusterRole in
`manifests/operator.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config.observability import Receiver
from components.kubernetes.monitoring.alertmanager import config_yaml
from components.kubernetes.monitoring.rules import (
    INSTANCE_TYPE_LABEL,
    NETWORK_DEVICES,
    RuleGroup,
    gmp_cluster_rules,
    monitoring_outputs,
    network_machine_types,
    reads_gpu_node_inventory,
    rule_names,
)

STACK = "gke-managed-prometheus"
PUBLIC_NAMESPACE = "gmp-public"
ALERTMANAGER_SECRET = "alertmanager"
ALERTMANAGER_KEY = "alertmanager.yaml"
RULES_NAME = "gpufleet-gpu"
NODE_NETWORK_PREFIX = "gpufleet-node-network-"
NODE_NETWORK_INTERVAL = "30s"
"""Two samples inside the rules' 2-minute rate window with room to spare."""
INSTANCE_TYPE_NODE_LABEL = "node.kubernetes.io/instance-type"


GPU_NODE_INVENTORY = "gpufleet-gpu-nodes"
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
"""The node label GKE sets on every GPU node (its value is the accelerator type)."""
GKE_SPOT_LABEL = "cloud.google.com/gke-spot"
"""The node label of GKE Spot VM nodes, `"true"`, absent on others (Google's xpk selects spot capacity by it:
AI-Hypercomputer/xpk@0009c09 `src/xpk/core/capacity.py` `get_capacity_node_selectors_from_capacity_type`)."""
CAPACITY_LABEL = "gpu_fleet_capacity"
"""What the inventory stamps on each GPU node's series: `spot` or `on-demand` (the dashboard's split)."""


def gpu_node_inventory_monitoring(*, spot: bool = False) -> dict[str, Any]:
    """A ClusterNodeMonitoring listing GPU nodes: the kubelet's `kubelet_node_name` of every node with GPUs.

    GKE has no node kube-state-metrics, so this is how the rules know a GPU node exists when its DCGM exporter
    sends nothing, and how the dashboard splits GPUs into spot and on-demand. One series per GPU node (the
    kubelet's `kubelet_node_name{node=...} 1`, pkg/kubelet/metrics), stamped `gpu_fleet_inventory="gpu"` so no
    other kubelet scrape is mistaken for it. A node-level scrape sees no node labels (GMP relabels only what its
    selector chose), so spot and on-demand nodes are two objects, each stamping its `gpu_fleet_capacity`.
    """
    keep = {"action": "keep", "sourceLabels": ["__name__"], "regex": "kubelet_node_name"}
    stamp = {"action": "replace", "targetLabel": "gpu_fleet_inventory", "replacement": "gpu"}
    capacity = {"action": "replace", "targetLabel": CAPACITY_LABEL, "replacement": "spot" if spot else "on-demand"}
    which = ({"key": GKE_SPOT_LABEL, "operator": "In", "values": ["true"]} if spot
             else {"key": GKE_SPOT_LABEL, "operator": "DoesNotExist"})
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterNodeMonitoring",
            "metadata": {"name": GPU_NODE_INVENTORY + ("-spot" if spot else ""),
                         "labels": {"app.kubernetes.io/managed-by": "gpu-fleet"}},
            "spec": {"selector": {"matchExpressions": [{"key": GKE_ACCELERATOR_LABEL, "operator": "Exists"}, which]},
                     "endpoints": [{"path": "/metrics", "scheme": "https", "interval": "60s",
                                    "metricRelabeling": [keep, stamp, capacity]}]}}


def node_network_monitoring(machine_type: str) -> dict[str, Any]:
    """A ClusterNodeMonitoring scraping the host network counters of every node of `machine_type`."""
    keep = {"action": "keep", "sourceLabels": ["__name__", "id", "interface"],
            "regex": f"container_network_(receive|transmit)_bytes_total;/;{NETWORK_DEVICES}"}
    stamp = {"action": "replace", "targetLabel": INSTANCE_TYPE_LABEL, "replacement": machine_type}
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterNodeMonitoring",
            "metadata": {"name": NODE_NETWORK_PREFIX + machine_type,
                         "labels": {"app.kubernetes.io/managed-by": "gpu-fleet"}},
            "spec": {"selector": {"matchLabels": {INSTANCE_TYPE_NODE_LABEL: machine_type}},
                     "endpoints": [{"path": "/metrics/cadvisor", "scheme": "https",
                                    "interval": NODE_NETWORK_INTERVAL, "metricRelabeling": [keep, stamp]}]}}


@dataclass(frozen=True)
class GmpMonitoringArgs:
    cluster: str
    """The cluster's key (`<region>-<name>`), for the plan."""
    groups: list[RuleGroup]
    """The rule groups to evaluate (empty: alerts are off)."""
    receivers: dict[str, Receiver]
    """The stack's receivers, by name (`observability.receivers`)."""
    credentials: dict[str, pulumi.Output[str]]
    """Each receiver's `secret` key -> its value, a Pulumi secret."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    deadmans_switch: Receiver | None = None
    """Where gpu-fleet's Watchdog heartbeat goes (`observability.deadmans_switch`); None: dropped."""


class GmpMonitoring(pulumi.ComponentResource):
    stack: str
    rules: list[str]
    receivers: list[str]

    def __init__(self, name: str, args: GmpMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:monitoring:GmpMonitoring", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.stack = STACK
        self.rules = rule_names(args.groups)
        self.receivers = sorted(args.receivers)
        if args.groups:
            obj = gmp_cluster_rules(RULES_NAME, args.groups)
            k8s.apiextensions.CustomResource(
                f"{name}-rules", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
                spec=obj["spec"], opts=k8s_opts)
        if reads_gpu_node_inventory(args.groups):
            for role, obj in (("gpu-nodes", gpu_node_inventory_monitoring()),
                              ("gpu-nodes-spot", gpu_node_inventory_monitoring(spot=True))):
                k8s.apiextensions.CustomResource(
                    f"{name}-{role}", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
                    spec=obj["spec"], opts=k8s_opts)
        for machine_type in network_machine_types(args.groups):
            obj = node_network_monitoring(machine_type)
            k8s.apiextensions.CustomResource(
                f"{name}-node-network-{machine_type}", api_version=obj["apiVersion"], kind=obj["kind"],
                metadata=obj["metadata"], spec=obj["spec"], opts=k8s_opts)
        if args.receivers or args.deadmans_switch is not None:
            k8s.core.v1.Secret(
                f"{name}-alertmanager",
                metadata={"name": ALERTMANAGER_SECRET, "namespace": PUBLIC_NAMESPACE,
                          "labels": {"app.kubernetes.io/managed-by": "gpu-fleet"}},
                type="Opaque",
                string_data={ALERTMANAGER_KEY: config_yaml(args.receivers, args.credentials, args.deadmans_switch)},
                opts=k8s_opts)
        self.register_outputs(monitoring_outputs(args.cluster, self.stack, args.groups, self.receivers,
                                                 heartbeat=args.deadmans_switch is not None))
