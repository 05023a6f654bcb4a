"""What a stack may say about in-cluster software (GPU stack, DCGM, alerts, team namespaces, storage).

These sections are shared by every platform; `components.kubernetes` installs them through a provider.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field

from components.config.base import MOVED, Count, Name, Strict

OPERATOR_NAMESPACE = "gpu-operator"
DCGM_NAMESPACE = "gpu-monitoring"
MONITORING_NAMESPACE = "monitoring"
"""Where kube-prometheus-stack (EKS) runs: Prometheus, Alertmanager, Grafana and gpu-fleet's rules."""
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "gmp-system",
                                 "gmp-public", OPERATOR_NAMESPACE, DCGM_NAMESPACE, MONITORING_NAMESPACE})
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-", "gmp-")
"""Namespaces Kubernetes, GKE or gpu-fleet's add-ons own (and prefixes of theirs); team namespaces may not
take them."""

class GpuStack(str, Enum):
    """Who runs the GPU software on nodes."""

    GKE = "gke"
    """GKE installs the driver and runs its device plugin; DCGM metrics from GKE managed DCGM or dcgm-exporter."""
    OPERATOR = "operator"
    """NVIDIA GPU Operator (Helm) runs toolkit, device plugin, DCGM exporter; Google's installer the driver."""


class DcgmSource(str, Enum):
    MANAGED = "managed"
    """GKE managed DCGM metrics (monitoring_config component DCGM), scraped by managed Prometheus: utilisation,
    memory and profiling fields only, no XID, ECC or row remapping."""
    EXPORTER = "exporter"
    """NVIDIA dcgm-exporter (standalone chart, or the GPU Operator's own) with gpu-fleet's counters file (XID counts,
    ECC, row remaps, NVLink, throttling), scraped by a ClusterPodMonitoring. The default."""

class TeamNamespace(Strict):
    name: Name
    gpus: Count = Field(ge=0)
    """Hard cap on requests.nvidia.com/gpu and limits.nvidia.com/gpu in the namespace."""


class StorageClassSpec(Strict):
    name: Name = "ml-storage"
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-ssd"
    """Persistent Disk types, the ones regional (replicated) volumes support."""
    regional: bool = True


class Addons(Strict):
    gpu_stack: GpuStack = GpuStack.GKE
    dcgm: DcgmSource = DcgmSource.EXPORTER
    """dcgm-exporter by default: GKE managed DCGM exports no XID, ECC or row-remap field, so a cluster on it has no
    GPU hardware-health alert (issue 19 §2); `managed` remains for clusters that accept that (the plan warns)."""
    alerts: dict[str, object] | None = Field(default=None, json_schema_extra=MOVED)
    """Moved to the fleet-wide `observability.alerts` (one set of thresholds for every cluster); refused here."""
    priority_classes: bool = True
    namespaces: list[TeamNamespace] = Field(default_factory=list)
    storage_class: StorageClassSpec | None = Field(default_factory=StorageClassSpec)
