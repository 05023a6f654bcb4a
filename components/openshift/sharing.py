"""GPU sharing per pool through the GPU Operator: time-slicing by device-plugin config, MIG by MIG-manager layout.

Time-slicing: a ConfigMap of named device-plugin configs (`sharing.timeSlicing.resources[nvidia.com/gpu].replicas`,
the shape of NVIDIA/gpu-operator `tests/plugin-config.yaml`), named in `ClusterPolicy.spec.devicePlugin.config`,
and a node label `nvidia.com/device-plugin.config: <config>` on the pool's nodes. Nodes without the label run the
plugin's defaults: the operator sets `FALLBACK_STRATEGIES=empty` and no `DEFAULT_CONFIG` unless one is given
(`controllers/object_controls.go`), so gpu-fleet gives none. MIG: the node label `nvidia.com/mig.config:
all-<partition>`, one of the layouts of the MIG manager's default ConfigMap (`assets/state-mig-manager/
0400_configmap.yaml`), with the ClusterPolicy's `mig.strategy: single` (every GPU of a node cut the same way).
Either way a node still holds its physical GPUs: quota, cost and the capacity view count those.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.config.openshift import OpenShiftCluster, OpenShiftGpuPool

DEVICE_PLUGIN_CONFIGMAP = "gpu-fleet-device-plugin"
DEVICE_PLUGIN_LABEL = "nvidia.com/device-plugin.config"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"


def time_slicing_config_name(replicas: int) -> str:
    return f"time-sliced-{replicas}"


def sharing_labels(pool: OpenShiftGpuPool) -> dict[str, str]:
    """The node labels that select the pool's sharing config."""
    if pool.sharing is None:
        return {}
    if pool.sharing.time_slicing is not None:
        return {DEVICE_PLUGIN_LABEL: time_slicing_config_name(pool.sharing.time_slicing.replicas)}
    return {MIG_CONFIG_LABEL: f"all-{pool.sharing.mig}"}


def device_plugin_configs(cluster: OpenShiftCluster) -> dict[str, str]:
    """Config name -> the device plugin's config file, one per time-slicing factor the pools use."""
    factors = sorted({p.sharing.time_slicing.replicas for p in cluster.gpu_pools
                      if p.sharing is not None and p.sharing.time_slicing is not None})
    return {time_slicing_config_name(n): yaml.safe_dump({
        "version": "v1",
        "sharing": {"timeSlicing": {"renameByDefault": False,
                                    "resources": [{"name": "nvidia.com/gpu", "replicas": n}]}}}, sort_keys=False)
        for n in factors}


def device_plugin_configmap(cluster: OpenShiftCluster, namespace: str) -> dict[str, Any] | None:
    configs = device_plugin_configs(cluster)
    if not configs:
        return None
    return {"metadata": {"name": DEVICE_PLUGIN_CONFIGMAP, "namespace": namespace}, "data": configs}
