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

# --- GPU fabric (multi-node training networking) ----------------------------------------------------------

GPUDIRECT_COMMIT = "992db81257553607f1477945f1b3219632991829"
"""GoogleCloudPlatform/container-engine-accelerators at master of 2026-06-11 ("bump tcpxo-daemon version to 1.0.21"),
the newest stored snapshot. The installer manifests below are read at this commit; each last changed at:
nccl-tcpx-installer.yaml 22f1e65 (2024-06-12, NCCL plugin v3.1.9), nccl-tcpxo-installer.yaml 685dca2 (2026-01-09,
plugin v1.0.15, NCCL 2.28.7), nri-device-injector.yaml 3491157 (2026-05-29, image by digest), nccl-rdma-installer.yaml
2da1c92 (2026-05-06, gIB v1.1.1). To move the pin, read the diff from this commit to the new one."""
_GPUDIRECT = f"https://raw.githubusercontent.com/GoogleCloudPlatform/container-engine-accelerators/{GPUDIRECT_COMMIT}/"
NCCL_TCPX_INSTALLER = _GPUDIRECT + "gpudirect-tcpx/nccl-tcpx-installer.yaml"
"""A3 High: DaemonSet `nccl-tcpx-installer` (kube-system), copying the TCPX NCCL plugin onto the node."""
NCCL_TCPXO_INSTALLER = _GPUDIRECT + "gpudirect-tcpxo/nccl-tcpxo-installer.yaml"
"""A3 Mega: DaemonSet `nccl-tcpxo-installer` (aperture devices, import-helper, the FasTrak NCCL plugin)."""
NRI_DEVICE_INJECTOR = _GPUDIRECT + "nri_device_injector/nri-device-injector.yaml"
"""A3 High and Mega: DaemonSet `device-injector`, which hands the receive-datapath daemon the GPU devices."""
NCCL_RDMA_INSTALLER = _GPUDIRECT + "gpudirect-rdma/nccl-rdma-installer.yaml"
"""A3 Ultra and A4: DaemonSet `nccl-rdma-installer` copying the gIB NCCL plugin to /home/kubernetes/bin/gib."""

TCPX_IMAGES = {
    "daemon": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.12",
    "nccl": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9",
}
"""A3 High's receive-datapath daemon and NCCL test image, as gpudirect-tcpx/nccl-test-latest.yaml pairs them with
the v3.1.9 installer (at GPUDIRECT_COMMIT)."""
TCPXO_IMAGES = {
    "daemon": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21",
    "nccl": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15",
}
"""A3 Mega's daemon and NCCL test image, as gpudirect-tcpxo/nccl-test-latest.yaml pairs them (at GPUDIRECT_COMMIT)."""
GIB_DIAGNOSTIC_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib-diagnostic:v1.1.1"
"""A3 Ultra / A4 NCCL test image (gIB, nccl-tests, sshd and Open MPI), as gpudirect-rdma/nccl-test.yaml uses it."""

EFA_DEVICE_PLUGIN = ChartPin("aws-efa-k8s-device-plugin", "v0.5.30", "https://aws.github.io/eks-charts")
"""aws/eks-charts `stable/aws-efa-k8s-device-plugin` at bfe91c4 (2026-07-21): chart v0.5.30, app v0.5.20; its values
are in ../shared/reference/charts/aws-efa-k8s-device-plugin."""
MPI_OPERATOR_VERSION = "v0.8.0"
"""kubeflow/mpi-operator: the MPIJob CRD in ../shared/reference is this release's; the fabric check runs on it."""
MPI_OPERATOR = ("https://raw.githubusercontent.com/kubeflow/mpi-operator/"
                f"{MPI_OPERATOR_VERSION}/deploy/v2beta1/mpi-operator.yaml")
NCCL_TESTS_EFA_IMAGE = ("public.ecr.aws/hpc-cloud/nccl-tests:"
                        "cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9")
"""AWS's EFA + NCCL test image (EFA installer, aws-ofi-nccl, NCCL, nccl-tests, Open MPI) that the EKS user guide's
MPIJob runs as `:latest`; pinned to a release tag (CUDA 12.8, runs on the AL2023 NVIDIA AMI's driver)."""
FABRIC_CHECK_IMAGES = (*TCPX_IMAGES.values(), *TCPXO_IMAGES.values(), GIB_DIAGNOSTIC_IMAGE, NCCL_TESTS_EFA_IMAGE)
"""Every image `gpu-fleet fabric-check` prints, as upstream tags them: gpufleet/fabric_check.py runs each through
`components.images.pinned`, so it runs by the digest `components.images.DIGESTS` verifies (or, listed there as
`unverified` with the reason, by its tag)."""
NCCL_TCPX_CONFIG = _GPUDIRECT + "gpudirect-tcpx/nccl-config.yaml"
"""A3 High's NCCL test scripts (ConfigMap `nccl-configmap`: allgather.sh, run-nccl.sh with the TCPX environment),
which the fabric check's pods mount; last changed 0e5609b (2026-06-02, "Finalize NCCL config for GKE 1.34+")."""

# --- EKS managed add-ons ------------------------------------------------------------------------------------

EKS_ADDONS = ("vpc-cni", "eks-pod-identity-agent", "kube-proxy", "coredns", "aws-ebs-csi-driver",
              "eks-node-monitoring-agent")
"""Every managed add-on gpu-fleet installs on an EKS cluster (components/aws/cluster.py)."""
EKS_ADDON_VERSION_PATTERN = r"^v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+$"
"""How EKS spells an add-on version (`aws eks describe-addon-versions`: `v1.35.3-eksbuild.13`)."""


@dataclass(frozen=True)
class AddonPin:
    version: str
    """The add-on version EKS installs, `v<upstream>-eksbuild.<n>`."""
    source: str
    """Where the version comes from, and for which Kubernetes minors the source itself vouches."""


_USER_GUIDE = "EKS user guide, newest stored copy (docs.aws.amazon.com/ja_jp/eks/latest/userguide/{page}.md), " \
    "latest add-on version per Kubernetes version"


def _per_minor(page: str, versions: dict[str, str]) -> dict[str, AddonPin]:
    return {minor: AddonPin(v, _USER_GUIDE.format(page=page)) for minor, v in versions.items()}


_KUBE_PROXY = {"1.30": AddonPin("v1.30.14-eksbuild.28", "EKS user guide, an older stored copy "
                                "(docs.amazonaws.cn/zh_cn/eks/latest/userguide/managing-kube-proxy.md, 1.30-1.35); "
                                "the newest copy no longer lists 1.30"), **_per_minor("managing-kube-proxy", {
    "1.31": "v1.31.14-eksbuild.20", "1.32": "v1.32.13-eksbuild.16", "1.33": "v1.33.10-eksbuild.13",
    "1.34": "v1.34.6-eksbuild.13", "1.35": "v1.35.3-eksbuild.13", "1.36": "v1.36.0-eksbuild.14"})}
_COREDNS = _per_minor("managing-coredns", {
    "1.30": "v1.11.4-eksbuild.40", "1.31": "v1.11.4-eksbuild.40", "1.32": "v1.11.4-eksbuild.40",
    "1.33": "v1.12.4-eksbuild.18", "1.34": "v1.13.2-eksbuild.11", "1.35": "v1.14.3-eksbuild.3",
    "1.36": "v1.14.3-eksbuild.3"})
# The four below are one build for every minor: their version does not follow Kubernetes', and EKS publishes
# each build for all supported minors (the user guide's VPC CNI tables list one version for every minor). Where
# the source names one minor only, the source says so; confirm the others with
# `aws eks describe-addon-versions --addon-name <addon> --kubernetes-version <minor>` before a bump.
_ANY_MINOR = {
    "vpc-cni": AddonPin(
        "v1.22.3-eksbuild.1",
        "ministryofjustice/cloud-platform-infrastructure#4678 (2026-07-08), the newest build for EKS 1.33 from "
        "describe-addon-versions; 'the VPC CNI is backward compatible, the latest version works with all Amazon "
        "EKS supported Kubernetes versions' (EKS Best Practices Guide, VPC CNI, quoted in "
        "aws/amazon-vpc-cni-k8s#2747). A minimum for the other minors"),
    "eks-pod-identity-agent": AddonPin(
        "v1.3.9-eksbuild.1",
        "aws/eks-hybrid#763 (2025-10-02), `aws eks describe-addon-configuration --addon-name "
        "eks-pod-identity-agent --addon-version v1.3.9-eksbuild.1`: the newest build a source quotes; only a "
        "minimum (no source found lists the builds per minor)"),
    "aws-ebs-csi-driver": AddonPin(
        "v1.66.0-eksbuild.1",
        "mitodl/ol-infrastructure#5959 (2026-09-21): 'the version AWS currently marks defaultVersion for "
        "Kubernetes 1.36'; the driver states a minimum Kubernetes version only, so the same build for 1.30-1.35"),
    "eks-node-monitoring-agent": AddonPin(
        "v1.7.0-eksbuild.1",
        "aws/eks-node-monitoring-agent release v1.7.0 (2026-08-04, CHANGELOG.md; chart values.yaml "
        "nodeAgent.image.tag at 51af549): the add-on version is the agent's image tag, as zalando-incubator/"
        "kubernetes-on-aws#10793 pins add-on v1.5.2-eksbuild.1 for release v1.5.2. Not tied to a minor"),
}
EKS_ADDON_VERSIONS: dict[str, dict[str, AddonPin]] = {
    minor: {"kube-proxy": _KUBE_PROXY[minor], "coredns": _COREDNS[minor], **_ANY_MINOR} for minor in _KUBE_PROXY
}
"""Kubernetes minor -> add-on -> pinned version, for every minor gpu-fleet accepts (1.30-1.36). A minor added to
`KUBERNETES_VERSIONS` without its pins is refused at plan time until the stack pins each add-on in
`eks.addon_versions`."""


def eks_addon_versions(kubernetes_version: str, overrides: dict[str, str]) -> dict[str, str]:
    """Each add-on's version for a cluster on `kubernetes_version`: the stack's override, else the pin."""
    pinned = {name: pin.version for name, pin in EKS_ADDON_VERSIONS.get(kubernetes_version, {}).items()}
    return {name: overrides.get(name) or pinned[name] for name in EKS_ADDONS if name in overrides or name in pinned}


def unpinned_eks_addons(kubernetes_version: str, overrides: dict[str, str]) -> list[str]:
    """The add-ons with neither a pin for `kubernetes_version` nor an override: the plan refuses them."""
    return [name for name in EKS_ADDONS if name not in eks_addon_versions(kubernetes_version, overrides)]
