"""What a stack may say about in-cluster software (GPU stack, DCGM, alerts, team namespaces, storage).

These sections are shared by every platform; `components.kubernetes` installs them through a provider.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import Field

from components.config.base import Count, Name, Strict

OPERATOR_NAMESPACE = "gpu-operator"
DCGM_NAMESPACE = "gpu-monitoring"
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", "gmp-system",
                                 "gmp-public", OPERATOR_NAMESPACE, DCGM_NAMESPACE})
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
    """GKE managed DCGM metrics (monitoring_config component DCGM), scraped by managed Prometheus."""
    EXPORTER = "exporter"
    """NVIDIA dcgm-exporter (standalone chart, or the GPU Operator's own) scraped by a PodMonitoring."""

class TeamNamespace(Strict):
    name: Name
    gpus: Count = Field(ge=0)
    """Hard cap on requests.nvidia.com/gpu and limits.nvidia.com/gpu in the namespace."""


class StorageClassSpec(Strict):
    name: Name = "ml-storage"
    disk_type: Literal["pd-standard", "pd-balanced", "pd-ssd"] = "pd-ssd"
    """Persistent Disk types, the ones regional (replicated) volumes support."""
    regional: bool = True


class GpuAlerts(Strict):
    """Thresholds of the DCGM alert rules.

    Defaults from the seeds: utilization 85% and memory 90% over 5 minutes (002), GPUs idle 30 minutes (002, 003).
    """

    enabled: bool = True
    utilization_percent: Count = Field(default=85, ge=1, le=100)
    memory_percent: Count = Field(default=90, ge=1, le=100)
    idle_percent: Count = Field(default=5, ge=0, le=100)
    idle_minutes: Count = Field(default=30, ge=5)


class Addons(Strict):
    gpu_stack: GpuStack = GpuStack.GKE
    dcgm: DcgmSource = DcgmSource.MANAGED
    alerts: GpuAlerts = Field(default_factory=GpuAlerts)
    """Prometheus alert rules on DCGM metrics, evaluated by managed Prometheus (with `dcgm: exporter`)."""
    priority_classes: bool = True
    namespaces: list[TeamNamespace] = Field(default_factory=list)
    storage_class: StorageClassSpec | None = Field(default_factory=StorageClassSpec)
