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

COS_DRIVER_INSTALLER_COMMIT = "f2cf4197a5c3f0f20133be15d5fad8b7453beed5"
"""GoogleCloudPlatform/container-engine-accelerators at the last commit that changed the COS installer manifest.

Committed 2025-07-02 ("cgpu-manifest"); the file is unchanged on master as of 2026-06-11 (992db81). At that commit
it is an apps/v1 DaemonSet in kube-system that runs the installer image GKE preloads on COS, only on GPU nodes
without GKE's managed driver. To move the pin, read the diff from this commit to the new one.
"""
COS_DRIVER_INSTALLER = (
    "https://raw.githubusercontent.com/GoogleCloudPlatform/container-engine-accelerators/"
    f"{COS_DRIVER_INSTALLER_COMMIT}/nvidia-driver-installer/cos/daemonset-preloaded.yaml"
)
"""Google's driver installer for COS nodes, which NVIDIA's GKE guide pairs with the operator's driver.enabled=false."""

KARPENTER_VERSION = "1.14.1"
"""Karpenter's controller chart and its CRD chart move together (the release publishes both with one version);
the reference CRDs and values in ../shared/reference are this version's."""
KARPENTER = ChartPin("oci://public.ecr.aws/karpenter/karpenter", KARPENTER_VERSION, "")
KARPENTER_CRD = ChartPin("oci://public.ecr.aws/karpenter/karpenter-crd", KARPENTER_VERSION, "")
"""OCI charts: the chart reference carries the registry, so there is no repository."""
NVIDIA_DEVICE_PLUGIN = ChartPin("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin")
"""NVIDIA/k8s-device-plugin v0.20.0 (2026-08-19); gpu-fleet sets none of its values (defaults tolerate the GPU
taint and select nodes labelled nvidia.com/gpu.present=true, which every GPU NodePool sets)."""
KUBE_PROMETHEUS_STACK = ChartPin("kube-prometheus-stack", "88.5.3",
                                 "https://prometheus-community.github.io/helm-charts")
"""prometheus-community/helm-charts 88.5.3 (2026-08-22; Prometheus Operator v0.93.1, Prometheus v3.14.0,
Alertmanager v0.34.0, Grafana chart 12.11.1): the version of the reference values.yaml in ../shared/reference.
Helm installs its CRDs on install only; read the chart's upgrade notes before moving the pin."""

# OpenShift: NFD and the GPU Operator come from OLM catalogs, pinned by channel. The GPU Operator v26.7.0 bundle
# is in channels `stable` and `v26.7` and declares `com.redhat.openshift.versions: v4.18-v4.22`
# (NVIDIA/gpu-operator tag v26.7.0 @10ee5b3, bundle/metadata/annotations.yaml); `stable` would follow the next
# release unreviewed, so the versioned channel is the pin. NFD's bundle has the one channel `stable`
# (openshift/cluster-nfd-operator @0e25cc1 manifests/stable/metadata/annotations.yaml).
GPU_OPERATOR_OLM_CHANNEL = "v26.7"
GPU_OPERATOR_OLM_CSV = "gpu-operator-certified.v26.7.0"
NFD_OLM_CHANNEL = "stable"
OPENSHIFT_VERSIONS = ((4, 18), (4, 22))
"""The OpenShift releases the pinned GPU Operator bundle declares (inclusive)."""
