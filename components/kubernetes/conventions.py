"""The fleet's node conventions on every platform: the GPU taint and the labels that say which pool a node is.

Node pools set them, add-ons tolerate and select by them, and the capacity view and policies read them back
from registered resources.
"""

from __future__ import annotations

GPU_TAINT = ("nvidia.com/gpu", "present", "NO_SCHEDULE")
"""Key, value and effect (GKE API spelling) of the taint that keeps non-GPU pods off GPU nodes."""
LABEL_CLUSTER = "gpu-fleet/cluster"
LABEL_POOL = "gpu-fleet/pool"
LABEL_CAPACITY = "gpu-fleet/capacity"
LABEL_CRITICAL = "gpu-fleet/production-critical"
GPU_PRESENT = "nvidia.com/gpu.present"
"""Node label NVIDIA's device plugin chart selects by default; EKS GPU pools set it so no feature discovery is
needed, and EKS add-ons select GPU nodes by it."""
LABEL_REGION = "gpu-fleet/region"
"""On an EKS NodePool object (its nodes carry topology labels instead): the region of its cluster."""
LABEL_EFA = "gpu-fleet/efa"
"""Node label of EFA pools ("true"): the EFA device plugin runs only there (it crash-loops on nodes without EFA)."""
LABEL_EFA_INTERFACES = "gpu-fleet/efa-interfaces"
"""On an EKS NodePool object: the EFA interfaces its EC2NodeClass gives each node (what the plan shows as fabric)."""
ACCELERATOR_LABEL = "cluster-api/accelerator"
"""OpenShift node label the cluster autoscaler matches `resourceLimits.gpus[].type` against; it also keeps the
autoscaler from adding a second node while the first one's driver loads (OpenShift BZ 1943194)."""


def accelerator_value(gpu: str) -> str:
    """The `cluster-api/accelerator` value of a catalog GPU: `nvidia-<catalog id>`, a valid label value."""
    return f"nvidia-{gpu}"
FLEET_ALERT_LABEL = ("gpu_fleet", "true")
"""Label (name, value) on every alert and recording rule gpu-fleet ships: Alertmanager routes to the GPU receivers
match on it (with severity), so the platform's own alerts (etcd, API server, kube-prometheus-stack defaults) never
reach the GPU on-call, on a stack gpu-fleet installs and on OpenShift's platform Alertmanager alike."""
POOL_TAINT_KEY = LABEL_POOL
"""Key of the taint (value: the pool's name, NoSchedule) on dedicated EKS GPU pools (training, 8+ GPUs per node):
only pods that tolerate it and select `gpu-fleet/pool=<name>` land there. Node agents tolerate the key."""
POOL_TOLERATION = {"key": POOL_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
"""What every GPU node agent (device plugins, dcgm-exporter) tolerates besides the GPU taint."""
