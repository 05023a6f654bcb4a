"""The cluster autoscaler's GPU limits: `ClusterAutoscaler default` (autoscaling.openshift.io/v1).

OpenShift honours only the object named `default`. Its `resourceLimits.gpus[].type` is matched against the
nodes' `cluster-api/accelerator` label and counts GPUs (not nodes); gpu-fleet sets one entry per accelerator,
whose maximum is what the cluster's GPU MachineSets can reach together.

Where `default` already exists (`autoscaler.mode: patch`, which `gpu-fleet openshift discover` detects) other
managers own its fields, so an unforced server-side apply of them conflicts on `pulumi up` (preview forces when
there is no previous state, so it passes: pulumi-kubernetes `await.go` `patchForce`). gpu-fleet therefore
applies as little as it needs, forced: `resourceLimits.gpus`, which the CRD leaves without
`x-kubernetes-list-type` (an atomic list: whoever applies it owns all of it), merged with the entries the
cluster has; `maxNodesTotal` only when configured; the cluster-wide scale-down settings only when the user opts in.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from components import catalog
from components.config.openshift import OpenShiftCluster
from components.openshift.machines import accelerator

AUTOSCALER_API = "autoscaling.openshift.io/v1"
AUTOSCALER_NAME = "default"
PATCH_FORCE = "pulumi.com/patchForce"
"""pulumi-kubernetes: "Conflicts will result in an error by default, but can be forced using the
`pulumi.com/patchForce` annotation" (provider/pkg/gen/schema.go, Patch resources)."""


def gpu_limits(cluster: OpenShiftCluster) -> list[dict[str, Any]]:
    """`resourceLimits.gpus`: per accelerator label, 0 to the GPUs every MachineSet of that GPU can reach."""
    most: dict[str, int] = defaultdict(int)
    for pool in cluster.gpu_pools:
        nodes = pool.autoscaling.max_nodes if pool.autoscaling is not None else (pool.replicas or 0)
        most[accelerator(pool.instance_type)] += nodes * len(pool.zones) * \
            catalog.machine_type(pool.instance_type).gpus
    return [{"type": t, "min": 0, "max": n} for t, n in sorted(most.items()) if n > 0]


def merged_gpu_limits(cluster: OpenShiftCluster) -> list[dict[str, Any]]:
    """The whole atomic list: the cluster's entries for other accelerators, and gpu-fleet's for its own.

    An existing entry of one of gpu-fleet's types is replaced rather than summed, so re-running discover after
    an apply (which then prints gpu-fleet's own entry back) changes nothing.
    """
    ours = gpu_limits(cluster)
    types = {g["type"] for g in ours}
    theirs = [{"type": g.type, "min": g.min, "max": g.max}
              for g in cluster.autoscaler.existing_gpu_limits if g.type not in types]
    return sorted([*theirs, *ours], key=lambda g: str(g["type"]))


def _scale_down(cluster: OpenShiftCluster) -> dict[str, Any]:
    s = cluster.autoscaler.scale_down
    # The CRD types utilizationThreshold as a string (pattern 0.[0-9]+); a number is refused.
    return {"enabled": s.enabled, "delayAfterAdd": s.delay_after_add, "unneededTime": s.unneeded_time,
            "utilizationThreshold": s.utilization_threshold}


def cluster_autoscaler_spec(cluster: OpenShiftCluster) -> dict[str, Any]:
    """Create mode: gpu-fleet owns the whole object."""
    a = cluster.autoscaler
    limits: dict[str, Any] = {"gpus": gpu_limits(cluster)}
    if a.max_nodes_total is not None:
        limits["maxNodesTotal"] = a.max_nodes_total
    return {"resourceLimits": limits, "maxNodeProvisionTime": a.max_node_provision_time,
            "scaleDown": _scale_down(cluster)}


def patch_spec(cluster: OpenShiftCluster) -> dict[str, Any]:
    """Patch mode: only the fields gpu-fleet must own, everything else stays with the cluster's managers."""
    a = cluster.autoscaler
    limits: dict[str, Any] = {"gpus": merged_gpu_limits(cluster)}
    if a.max_nodes_total is not None:
        limits["maxNodesTotal"] = a.max_nodes_total
    spec: dict[str, Any] = {"resourceLimits": limits}
    if a.manage_scale_down:
        spec["maxNodeProvisionTime"] = a.max_node_provision_time
        spec["scaleDown"] = _scale_down(cluster)
    return spec
