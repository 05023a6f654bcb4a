"""Pinned versions of everything gpu-fleet installs into clusters, in one place.

The reference copies of these charts' default values live in `../shared/reference/charts`; tests check
every value key gpu-fleet sets against them, so a bump here is a bump there too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChartPin:
    chart: str
    version: str
    repository: str


GPU_OPERATOR = ChartPin("gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia")
DCGM_EXPORTER = ChartPin("dcgm-exporter", "4.8.3", "https://nvidia.github.io/dcgm-exporter/helm-charts")

COS_DRIVER_INSTALLER = (
    "https://raw.githubusercontent.com/GoogleCloudPlatform/container-engine-accelerators/"
    "master/nvidia-driver-installer/cos/daemonset-preloaded.yaml"
)
"""Google's driver installer for COS nodes, which NVIDIA's GKE guide pairs with the operator's driver.enabled=false."""
