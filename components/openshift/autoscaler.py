"""The cluster autoscaler's GPU limits: `ClusterAutoscaler default` (autoscaling.openshift.io/v1).

OpenShift honours only the object named `default`. Its `resourceLimits.gpus[].type` is matched against the
nodes' `cluster-api/accelerator` label and counts GPUs (not nodes); gpu-fleet sets one entry per accelerator,
whose maximum is what the cluster's GPU MachineSets can reach together. Where `default` already exists
(`autoscaler.mode: patch`, which `gpu-fleet openshift discover` detects) gpu-fleet server-side-applies its own
fields onto it instead of creating it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from components import catalog
from components.config.openshift import OpenShiftCluster
from components.openshift.machines import accelerator

AUTOSCALER_API = "autoscaling.openshift.io/v1"
AUTOSCALER_NAME = "default"


def gpu_limits(cluster: OpenShiftCluster) -> list[dict[str, Any]]:
    """`resourceLimits.gpus`: per accelerator label, 0 to the GPUs every MachineSet of that GPU can reach."""
    most: dict[str, int] = defaultdict(int)
    for pool in cluster.gpu_pools:
        nodes = pool.autoscaling.max_nodes if pool.autoscaling is not None else (pool.replicas or 0)
        most[accelerator(pool.instance_type)] += nodes * len(pool.zones) * \
            catalog.machine_type(pool.instance_type).gpus
    return [{"type": t, "min": 0, "max": n} for t, n in sorted(most.items()) if n > 0]


def cluster_autoscaler_spec(cluster: OpenShiftCluster) -> dict[str, Any]:
    a = cluster.autoscaler
    limits: dict[str, Any] = {"gpus": gpu_limits(cluster)}
    if a.max_nodes_total is not None:
        limits["maxNodesTotal"] = a.max_nodes_total
    return {
        "resourceLimits": limits,
        "maxNodeProvisionTime": a.max_node_provision_time,
        "scaleDown": {"enabled": a.scale_down.enabled, "delayAfterAdd": a.scale_down.delay_after_add,
                      "unneededTime": a.scale_down.unneeded_time,
                      # The CRD types it as a string (pattern 0.[0-9]+); a number is refused.
                      "utilizationThreshold": a.scale_down.utilization_threshold},
    }
