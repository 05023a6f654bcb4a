"""The images gpu-fleet causes to run, each by digest where a readable source records one, and the reviewed manifests.

A tag can be moved by whoever controls the registry; a digest names the bytes that were reviewed. Upstream manifests
are applied from reviewed copies in `components/manifests/` (images by digest, tolerations narrowed, each changed line
marked `gpu-fleet:`), and every chart gets its images' digests through its values (`chart_image_values`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from components import versions

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = Path(__file__).parent / "manifests"
"""Reviewed copies of upstream manifests; `VENDORED` names each one's upstream file, commit and sha256."""
PROGRAM_DIR = "infra"
"""`Pulumi.yaml` `main`. The engine runs the program and its provider plugins in that directory, not in the project
root (pulumi/pulumi pkg/engine/project.go `getPwdMain`: "pwd = main" when main is a directory; the plugin context's
Pwd becomes `cmd.Dir`, sdk/go/common/resource/plugin/plugin.go), and pulumi-kubernetes reads a ConfigFile's relative
`file` with `os.ReadFile` from there (provider/pkg/provider/yaml/v2/yaml.go). tests/kubernetes/test_image_pins.py
holds this against Pulumi.yaml."""


@dataclass(frozen=True)
class Vendored:
    file: str
    """Name of the reviewed copy in `components/manifests/`."""
    upstream: str
    """The upstream file at its pinned commit (the URL `components.versions` pins)."""
    sha256: str
    """sha256 of that upstream file, read from the fetched mirror of GoogleCloudPlatform/container-engine-accelerators
    (`git show <commit>:<path> | sha256sum`, 2026-12-01): the copy minus its `gpu-fleet:` edits must hash to it."""


VENDORED: dict[str, Vendored] = {v.upstream: v for v in (
    Vendored("nccl-tcpx-installer.yaml", versions.NCCL_TCPX_INSTALLER,
             "8bbaeb56fccc3e42abcb09a3e56086ff813ed57721dd4c09aa7ac9894922d7b5"),
    Vendored("nccl-tcpxo-installer.yaml", versions.NCCL_TCPXO_INSTALLER,
             "c5eee59c22b48e01cddabd7d2a51a4903baeb4cf93e6949bc72aa2135771653e"),
    Vendored("nri-device-injector.yaml", versions.NRI_DEVICE_INJECTOR,
             "44b410770b9528737172b61f5ad64f0c53e469e5066ac471863caa0ef2965d18"),
    Vendored("nccl-rdma-installer.yaml", versions.NCCL_RDMA_INSTALLER,
             "0c60c38129ff19bbe471252ab07dcda353192ff1bdbeb51c2138d3405de9db5a"),
    Vendored("daemonset-preloaded.yaml", versions.COS_DRIVER_INSTALLER,
             "41c303c5f1c1279eae47f5e183591b12e2cc4176523ad5764ab1081c1b9d27ee"),
)}
"""Pinned upstream manifest URL -> its reviewed copy."""

GKE_NODE_AGENT_TOLERATIONS: list[dict[str, str]] = [
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "cloud.google.com/gke-queued", "operator": "Exists", "effect": "NoSchedule"},
]
"""What the reviewed GKE installers tolerate instead of upstream's `operator: Exists` (every taint): gpu-fleet's GKE
GPU pools carry `nvidia.com/gpu=present:NoSchedule` (components/gcp/node_pool.py, as GKE itself taints GPU pools), and
queued-provisioning pools' nodes `cloud.google.com/gke-queued=true:NoSchedule` (cluster-toolkit @1047080
examples/gke-a3-ultragpu/nccl-jobset-example.yaml tolerates it for that reason). The DaemonSet controller adds the
`node.kubernetes.io/*` tolerations (not-ready, unreachable, pressure, unschedulable, network-unavailable with
hostNetwork) to every DaemonSet pod itself (Kubernetes docs, DaemonSet "Taints and tolerations")."""


def manifest_file(upstream: str) -> str:
    """The `file` a ConfigFile applies for a pinned upstream manifest: its reviewed copy, relative to PROGRAM_DIR.

    Relative, so the plan (and the state) hold no machine's checkout path; posix, so it is the same everywhere.
    """
    copy = posixpath.join("components", "manifests", VENDORED[upstream].file)
    return posixpath.relpath(copy, PROGRAM_DIR)


def read_manifest(file: str) -> list[dict[str, Any]]:
    """The objects of a ConfigFile's `file`, resolved as the provider resolves it (from PROGRAM_DIR)."""
    text = (PROJECT_ROOT / PROGRAM_DIR / file).resolve().read_text()
    return [d for d in yaml.safe_load_all(text) if d]


@dataclass(frozen=True)
class ImagePin:
    digest: str | None
    """`sha256:<hex>` of the image index (multi-arch) or manifest, or None: not verified offline (`unverified`)."""
    source: str
    """Where the digest was read; for an unverified entry, why it is not pinned yet."""


_CSV = ("NVIDIA/gpu-operator tag v26.7.0 bundle/manifests/gpu-operator-certified.clusterserviceversion.yaml "
        "relatedImages (the operator's own OLM bundle for this release); the published bundle "
        "(redhat-openshift-ecosystem/certified-operators @fd679ff operators/gpu-operator-certified/26.7.0) agrees")
_OPERATOR_CSV = (
    "redhat-openshift-ecosystem/certified-operators @fd679ff operators/gpu-operator-certified/26.7.0/manifests/"
    "gpu-operator-certified.clusterserviceversion.yaml relatedImages gpu-operator-image and "
    "gpu-operator-validator-image (one image: the validator is the operator's), the v26.7.0 bundle OperatorHub "
    "publishes, declaring amd64 and arm64; NVIDIA's maintainer suggests the same digest in that repository's PR #9419, "
    "where the bundle in NVIDIA/gpu-operator's own tree still names ghcr.io/nvidia/gpu-operator:main-latest")
_KPS_SCANS = ("Stuhlmuller/homelab @c56ac31 docs/knowledge-base/operations/monitoring-upgrade-candidates.md (resolved "
              "from quay.io 2026-08-30: the multi-platform index, its linux/amd64 child listed apart); max-vie/shell "
              "@7bbe5fb tar/manifests/watch-supply.json (kube-prometheus-stack 88.5.2's images) agrees")
_NOT_FOUND = ("exact-string searches of the stored repositories for `<image>:<tag>@sha256` and `<image>@sha256` and "
              "of the issues and pages corpora found no digest for this tag (2026-12-01); resolve it with "
              "`crane digest <image>` and add it here")


def _unverified(searched: str) -> str:
    """The reason a tag runs without its digest: where it was looked for, and how to resolve it."""
    return f"unverified: {searched}; {_NOT_FOUND}"


_GCE_AI_INFRA = ("GoogleCloudPlatform/container-engine-accelerators @992db81 (its manifests and release notes) and "
                 "cluster-toolkit @1047080 name Google's gce-ai-infra images by tag only")

DIGESTS: dict[str, ImagePin] = {
    # --- images the reviewed GKE manifests run (components/manifests) ---
    "docker.io/library/ubuntu:24.04": ImagePin(
        "sha256:561618e2c15bf2397621dd04f96926663a3b5616c189cf7e38db7e82f5c538ea",
        "docker-library/repo-info @01470af repos/ubuntu/remote/noble.md (build of 2026-07-31, multi-arch index); "
        "replaces the TCPXO installer's `image: \"ubuntu\"` init container, which only needs nsenter"),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15": ImagePin(
        "sha256:4c9f0de3f39455a2ea35e844e0fc92564ca5629f6b03250fde40e8160719dae4",
        "NVIDIA/aicr @005da13 docs/user/container-images.md (its generated image inventory, gke-nccl-tcpxo "
        "component)"),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9": ImagePin(None, _unverified(
        f"{_GCE_AI_INFRA}; NVIDIA/aicr's image inventory has no A3 High (TCPX) component")),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib:v1.1.1": ImagePin(None, _unverified(
        f"{_GCE_AI_INFRA}; NVIDIA/aicr @005da13's inventory records only the arm64 build "
        "nccl-plugin-gib-arm64:v1.1.2 (GB200), not this amd64 v1.1.1 one")),
    "cos-nvidia-installer:fixed": ImagePin(
        None, "preloaded: GKE's COS node image carries it and the manifest sets imagePullPolicy Never, so no "
        "registry is asked and no digest applies (daemonset-preloaded.yaml @f2cf419)"),
    # --- images `gpu-fleet fabric-check` prints (versions.FABRIC_CHECK_IMAGES; TCPX's and TCPXO's NCCL images are
    # the installers' above) ---
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21": ImagePin(
        "sha256:8d9e10fd589a34ab8a0aa64f7e70ad075c8f1c69bea176350f8d211367697e3d",
        "NVIDIA/aicr @005da13 docs/user/container-images.md (its generated image inventory, kubeflow-trainer "
        "component: the A3 Mega receive-datapath daemon its TCPXO training runtime runs beside the workers)"),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.12": ImagePin(None, _unverified(
        f"{_GCE_AI_INFRA} (gpudirect-tcpx/nccl-test-latest.yaml, README release notes); NVIDIA/aicr has no TCPX "
        "component")),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib-diagnostic:v1.1.1": ImagePin(None, _unverified(
        f"{_GCE_AI_INFRA} (gpudirect-rdma/nccl-test.yaml names v1.1.1, cluster-toolkit v1.1.0)")),
    versions.NCCL_TESTS_EFA_IMAGE: ImagePin(None, _unverified(
        "the stored sources that pin public.ecr.aws/hpc-cloud/nccl-tests by digest pin another build, "
        "cuda13.0.2-efa1.48.0-ofiv1.19.0-ncclv2.30.4-1-testsv2.18.3 (sha256:a5390d3f...), not this CUDA 12.8 tag")),
    # --- chart images ---
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless": ImagePin(
        "sha256:613ab03c11d442fd960ff515f547e9921537454a712d08160bc8f677f89f1c35", _CSV),
    "nvcr.io/nvidia/k8s-device-plugin:v0.20.0": ImagePin(
        "sha256:a61ba9fd8efb82f3a79f877f7580e02c1e8e7593f62473644bc9c79e315c3312", _CSV),
    "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0": ImagePin(
        "sha256:f8c647d581f7c8b178efdb7e6c94f5fb6eb12ebc05e2157fa314d327560fcb7a", _CSV),
    "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.15.0": ImagePin(
        "sha256:cab2cf9deafc9602da69d0832a82958a7687f22f4a2f19674099dc9a5c4ea8e2", _CSV),
    "nvcr.io/nvidia/cloud-native/k8s-driver-manager:v0.12.0": ImagePin(
        "sha256:7d98d08a751cc528d1c8c8bdc2f9d9fcd59714b158a3985a5a0262f1620098e4", _CSV),
    "nvcr.io/nvidia/gpu-operator:v26.7.0": ImagePin(
        "sha256:ddba086bb593713ad6f3b207fd0f9b16eb8910134bb656cb1a2e2ae1b5092400", _OPERATOR_CSV),
    "nvcr.io/nvidia/cloud-native/dcgm:4.6.0-1-ubuntu24.04": ImagePin(None, _unverified(
        "both v26.7.0 bundles (NVIDIA's tree and certified-operators @fd679ff) record only the ubi10 build "
        "dcgm:4.6.0-1-ubi10 (sha256:92080d86...), and NVIDIA/aicr @005da13 lists the chart's ubuntu24.04 build by "
        "tag only")),
    "public.ecr.aws/karpenter/controller:1.14.1": ImagePin(
        "sha256:723130949e4cab989461ff07d1be4cd781d63515432494641b33c235f300ae23",
        "aws/karpenter-provider-aws @1d92708 charts/karpenter/values.yaml controller.image.digest (release "
        "v1.14.1, as the packaged OCI chart carries it; ../shared/reference/charts/karpenter)"),
    "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20": ImagePin(None, _unverified(
        "aws/eks-charts (stable/aws-efa-k8s-device-plugin values.yaml, chart v0.5.30) and NVIDIA/aicr @005da13's "
        "inventory name it by tag; its ECR registry answers only with AWS credentials; the one recorded digest of "
        "this repository is v0.3.3's")),
    "quay.io/prometheus/prometheus:v3.14.0-distroless": ImagePin(
        "sha256:50c707e96da5ade383cb1707790576480485e93de06aa60ad8802cb5f744bd0a", _KPS_SCANS),
    "quay.io/prometheus/alertmanager:v0.34.0": ImagePin(
        "sha256:690c7b525f4367aa91f73e2f91c632206d32e97c6384bdbf2fb7a861b420340d", _KPS_SCANS),
    "quay.io/prometheus-operator/prometheus-operator:v0.93.1": ImagePin(
        "sha256:e52bb28fd41c98dd407c7a8cba8bdcfe7eabd7447e250afaf1fe7bb816dedbff", _KPS_SCANS),
    "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1": ImagePin(
        "sha256:428f088fe6fe07ab138bda92113664b04848a1dc408e4d3680a60ecdb55d1a65", _KPS_SCANS),
    "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7": ImagePin(None, _unverified(
        "the stored sources pin its neighbours 1.8.2, 1.8.5 and 1.8.8 by digest (Stuhlmuller/homelab, "
        "max-vie/shell), never 1.8.7")),
    # --- subchart images ---
    "docker.io/grafana/grafana:13.2.0": ImagePin(
        None, "unverified: Grafana publishes no digest list; third-party repositories quote one, but no publisher's "
        "record of 13.2.0's index was found offline (2026-12-01); resolve with `crane digest`"),
    "quay.io/kiwigrid/k8s-sidecar:2.10.1": ImagePin(None, _unverified(
        "no stored repository, chart or page records k8s-sidecar 2.10.1 by digest (find_string and the code corpus)")),
    "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0": ImagePin(
        "sha256:42cfe3723a5f058171c627537fb57a3ea0f26e4380fa18555a95cb1a1b4cfc5b",
        "Stuhlmuller/homelab @c56ac31 docs/knowledge-base/operations/monitoring-upgrade-candidates.md (the multi-arch "
        "index a Trivy scan of 2026-08-30 pulled, its linux/amd64 child sha256:01171220...); the same index is in a "
        "kubepkg PackageSource of another stored repository, which the search index does not name"),
    "quay.io/prometheus/node-exporter:v1.12.1-distroless": ImagePin(
        None, "unverified: one third-party test fixture quotes a digest for this tag, without saying whether it is "
        "the multi-arch index; no publisher's record found offline (2026-12-01)"),
    "registry.k8s.io/nfd/node-feature-discovery:v0.19.0": ImagePin(
        None, "unverified: neither the NFD release nor the GPU Operator v26.7.0 bundle records this tag's digest "
        "(fetched mirrors, 2026-12-01)"),
}
"""`repo:tag` as upstream writes it -> its digest and where it was read. Images upstream already writes by digest
(pause, nri-device-injector, nvidia-partition-gpu) need no entry."""


def is_digest_pinned(image: str) -> bool:
    return "@sha256:" in image


def _normal(image: str) -> str:
    """`ubuntu` -> `docker.io/library/ubuntu:latest`, so an entry matches however upstream spells the reference."""
    ref = image.split("@", 1)[0]
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        return f"docker.io/library/{ref}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{ref}"
    return ref


def pinned(image: str) -> str:
    """`repo:tag@sha256:...` for a tag the table pins; anything else unchanged."""
    pin = DIGESTS.get(image) or DIGESTS.get(_normal(image))
    if is_digest_pinned(image) or pin is None or pin.digest is None:
        return image
    return f"{image}@{pin.digest}"


def exemption(image: str) -> str | None:
    """Why a tag-only image may run (its table entry's reason), or None when the table does not list it."""
    pin = DIGESTS.get(image) or DIGESTS.get(_normal(image))
    return pin.source if pin is not None and pin.digest is None else None


def digest_of(image: str) -> str:
    """The verified digest of a `repo:tag` the table pins (KeyError/ValueError when it has none: a caller bug)."""
    digest = DIGESTS[image].digest
    if digest is None:
        raise ValueError(f"{image} has no verified digest")
    return digest


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    return spec if obj.get("kind") == "Pod" else (spec.get("template") or {}).get("spec") or {}


def pod_images(obj: dict[str, Any]) -> list[str]:
    """Every image a workload object's pods run (init containers included)."""
    pod = _pod_spec(obj)
    return [c["image"] for c in [*pod.get("initContainers", []), *pod.get("containers", [])] if "image" in c]


def pod_tolerations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_pod_spec(obj).get("tolerations") or [])


class DigestKey(str, Enum):
    """How a chart takes an image's digest in its values."""

    DIGEST = "digest"
    """A `digest` key beside `repository` and `tag` (dcgm-exporter, Karpenter): rendered `repository@digest`."""
    TAG = "tag"
    """Only `repository:tag` (NVIDIA device plugin, EFA device plugin): the tag becomes `tag@sha256:...`, which the
    container runtime resolves by the digest."""
    VERSION = "version"
    """GPU Operator operands (`repository`, `image`, `version`): a `version` starting `sha256:` renders
    `repository/image@version` (NVIDIA/gpu-operator v26.7.0 api/nvidia/v1/clusterpolicy_types.go `imagePath`)."""
    VERSION_TAG = "version-tag"
    """The GPU Operator's own image and its validator: the chart joins `repository/image:version` itself
    (v26.7.0 deployments/gpu-operator/templates/_helpers.tpl `gpu-operator.fullimage`, `validator.fullimage`, the
    operator Deployment's image and VALIDATOR_IMAGE env), so a bare `sha256:` version would render
    `image:sha256:...`; `version: v26.7.0@sha256:...` renders `repository/image:v26.7.0@sha256:...` there and in
    the ClusterPolicy (`imagePath` joins a non-digest version with `:`)."""
    SHA = "sha"
    """kube-prometheus-stack and its grafana subchart (`registry`, `repository`, `tag`, `sha`): rendered
    `registry/repository:tag@sha256:sha`, so `sha` is the bare hex."""
    SHA_DIGEST = "sha-digest"
    """kube-state-metrics (`registry`, `repository`, `tag`, `sha`), whose helper prints `%s/%s:%s@%s` with `sha`
    as given (prometheus-community/helm-charts kube-state-metrics-8.4.0 templates/_helpers.tpl
    `kube-state-metrics.image`): `sha` holds the whole `sha256:<hex>`."""
    DIGEST_ONLY = "digest-only"
    """prometheus-node-exporter (`registry`, `repository`, `tag`, `distroless`, `digest`): only `digest` is set, the
    registry and the tag (with the `-distroless` suffix the chart appends) stay the chart's
    (prometheus-node-exporter-4.56.1 templates/_helpers.tpl `prometheus-node-exporter.image`, `%s/%s:%s%s@%s`)."""


@dataclass(frozen=True)
class ChartImage:
    path: tuple[str, ...]
    """Values path of the image block (`("controller", "image")`)."""
    image: str
    """`repo:tag` the chart runs there at its pinned version (its default values)."""
    key: DigestKey
    """How this block takes a digest."""
    subchart: str | None = None
    """The dependency whose values hold the block (`path[0]`), or None for the chart's own values."""
    condition: tuple[str, ...] = ()
    """Values path of the Chart.yaml `condition` that installs the subchart (true by default); () : always runs."""

    def overlay(self) -> dict[str, Any]:
        """The values that pin this image by digest, or {} when no digest is verified."""
        pin = DIGESTS.get(self.image)
        if pin is None or pin.digest is None:
            return {}
        repo, tag = self.image.rsplit(":", 1)
        block: dict[str, Any] = {
            DigestKey.DIGEST: {"repository": repo, "tag": tag, "digest": pin.digest},
            DigestKey.TAG: {"repository": repo, "tag": f"{tag}@{pin.digest}"},
            DigestKey.VERSION: {"version": pin.digest},
            DigestKey.VERSION_TAG: {"version": f"{tag}@{pin.digest}"},
            DigestKey.SHA: {"sha": pin.digest.removeprefix("sha256:")},
            DigestKey.SHA_DIGEST: {"sha": pin.digest},
            DigestKey.DIGEST_ONLY: {"digest": pin.digest},
        }[self.key]
        for key in reversed(self.path):
            block = {key: block}
        return block

    def enabled(self, values: dict[str, Any]) -> bool:
        """Whether a release with `values` installs this block's subchart (its condition is true by default)."""
        node: Any = values
        for key in self.condition:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node is not False

    def runs(self, values: dict[str, Any]) -> str:
        """The reference the chart renders for this block with `values` over its defaults."""
        block: Any = values
        for key in self.path:
            block = block.get(key, {}) if isinstance(block, dict) else {}
        repo, tag = self.image.rsplit(":", 1)
        if self.key in (DigestKey.VERSION, DigestKey.VERSION_TAG):
            version = str(block.get("version") or tag)
            return f"{repo}@{version}" if version.startswith("sha256:") else f"{repo}:{version}"
        digest = block.get("digest") if self.key in (DigestKey.DIGEST, DigestKey.DIGEST_ONLY) else block.get("sha")
        if digest:
            return f"{self.image}@{digest if str(digest).startswith('sha256:') else 'sha256:' + str(digest)}"
        shown = str(block.get("tag") or tag)
        return f"{repo}:{shown}"


_KPS = versions.KUBE_PROMETHEUS_STACK.chart
CHART_IMAGES: dict[str, tuple[ChartImage, ...]] = {
    # ../shared/reference/charts/dcgm-exporter/values.yaml `image` (chart 4.8.3).
    versions.DCGM_EXPORTER.chart: (
        ChartImage(("image",), "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless", DigestKey.DIGEST),),
    # NVIDIA/k8s-device-plugin v0.20.0 deployments/helm/nvidia-device-plugin values.yaml `image` (tag "" ->
    # v<appVersion>) and templates/_helpers.tpl `fullimage` (`repository:tag`); gfd and NFD are off by default.
    versions.NVIDIA_DEVICE_PLUGIN.chart: (
        ChartImage(("image",), "nvcr.io/nvidia/k8s-device-plugin:v0.20.0", DigestKey.TAG),),
    # ../shared/reference/charts/karpenter/values.yaml `controller.image` (1.14.1).
    versions.KARPENTER.chart: (
        ChartImage(("controller", "image"), "public.ecr.aws/karpenter/controller:1.14.1", DigestKey.DIGEST),),
    versions.KARPENTER_CRD.chart: (),
    # ../shared/reference/charts/aws-efa-k8s-device-plugin/values.yaml `image` (v0.5.30).
    versions.EFA_DEVICE_PLUGIN.chart: (ChartImage(
        ("image",), "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20",
        DigestKey.TAG),),
    # ../shared/reference/charts/gpu-operator/values.yaml (v26.7.0): the operator and the operands gpu-fleet's
    # values leave on (the driver is off everywhere: GKE's installer or the node image ship it).
    versions.GPU_OPERATOR.chart: (
        ChartImage(("operator",), "nvcr.io/nvidia/gpu-operator:v26.7.0", DigestKey.VERSION_TAG),
        ChartImage(("validator",), "nvcr.io/nvidia/gpu-operator:v26.7.0", DigestKey.VERSION_TAG),
        ChartImage(("toolkit",), "nvcr.io/nvidia/k8s/container-toolkit:v1.20.0", DigestKey.VERSION),
        ChartImage(("devicePlugin",), "nvcr.io/nvidia/k8s-device-plugin:v0.20.0", DigestKey.VERSION),
        ChartImage(("gfd",), "nvcr.io/nvidia/k8s-device-plugin:v0.20.0", DigestKey.VERSION),
        ChartImage(("dcgmExporter",), "nvcr.io/nvidia/k8s/dcgm-exporter:4.6.0-4.8.3-distroless", DigestKey.VERSION),
        ChartImage(("migManager",), "nvcr.io/nvidia/cloud-native/k8s-mig-manager:v0.15.0", DigestKey.VERSION),
        # Its node-feature-discovery 0.19.0 subchart (NVIDIA/gpu-operator v26.7.0 deployments/gpu-operator/Chart.yaml,
        # condition `nfd.enabled`, on by default): master, worker and gc all run `image.repository:image.tag`, the
        # tag defaulting to the appVersion (kubernetes-sigs/node-feature-discovery v0.19.0 @45d276e
        # deployment/helm/node-feature-discovery values.yaml `image`, templates/worker.yaml). With the sandbox
        # workloads, the driver, DCGM and the node status exporter off, these are every operand the operator deploys
        # (v26.7.0 controllers/state_manager.go `isStateEnabled`).
        ChartImage(("node-feature-discovery", "image"), "registry.k8s.io/nfd/node-feature-discovery:v0.19.0",
                   DigestKey.TAG, subchart="node-feature-discovery", condition=("nfd", "enabled")),
    ),
    # ../shared/reference/charts/kube-prometheus-stack/values.yaml (88.5.3; empty tags are the appVersion
    # v0.93.1), then its subcharts at the versions its Chart.yaml pins (prometheus-community/helm-charts tag
    # kube-prometheus-stack-88.5.3 = ea930ba): values as tests/support/subchart_values vendors them.
    _KPS: (
        ChartImage(("prometheusOperator", "image"), "quay.io/prometheus-operator/prometheus-operator:v0.93.1",
                   DigestKey.SHA),
        ChartImage(("prometheusOperator", "prometheusConfigReloader", "image"),
                   "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1", DigestKey.SHA),
        ChartImage(("prometheusOperator", "admissionWebhooks", "patch", "image"),
                   "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7", DigestKey.SHA),
        ChartImage(("prometheus", "prometheusSpec", "image"), "quay.io/prometheus/prometheus:v3.14.0-distroless",
                   DigestKey.SHA),
        ChartImage(("alertmanager", "alertmanagerSpec", "image"), "quay.io/prometheus/alertmanager:v0.34.0",
                   DigestKey.SHA),
        # grafana 12.11.1 (grafana-community/helm-charts @864f779 charts/grafana): `image` (tag "" -> appVersion
        # 13.2.0) and `sidecar.image`, which every sidecar container runs; the parent turns the dashboards and
        # datasources sidecars on (and gpu-fleet the dashboards one). initChownData runs only with persistence,
        # downloadDashboardsImage only with `dashboards`, the image renderer only when enabled: all off.
        ChartImage(("grafana", "image"), "docker.io/grafana/grafana:13.2.0", DigestKey.SHA,
                   subchart="grafana", condition=("grafana", "enabled")),
        ChartImage(("grafana", "sidecar", "image"), "quay.io/kiwigrid/k8s-sidecar:2.10.1", DigestKey.SHA,
                   subchart="grafana", condition=("grafana", "enabled")),
        # kube-state-metrics 8.4.0 (@1982f1c): `image` (tag "" -> v<appVersion 2.20.0>); kube-rbac-proxy is off.
        ChartImage(("kube-state-metrics", "image"), "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0",
                   DigestKey.SHA_DIGEST, subchart="kube-state-metrics", condition=("kubeStateMetrics", "enabled")),
        # prometheus-node-exporter 4.56.1 (@8b8e639): `image` (tag "" -> v<appVersion 1.12.1>, plus `-distroless`,
        # which the parent's values set); kube-rbac-proxy and the permission-fix init container are off.
        ChartImage(("prometheus-node-exporter", "image"), "quay.io/prometheus/node-exporter:v1.12.1-distroless",
                   DigestKey.DIGEST_ONLY, subchart="prometheus-node-exporter", condition=("nodeExporter", "enabled")),
    ),
}
"""Chart name (`ChartPin.chart`) -> the images it runs at the pinned version and how each takes a digest."""


def _merged(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`more` over `base`, copying only the dicts on `more`'s paths (values may hold Outputs, which do not copy)."""
    out = dict(base)
    for key, value in more.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def chart_image_values(chart: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """`values` (a chart's values, not modified) plus the digest of every image of `chart` the table verifies."""
    out = dict(values or {})
    for image in CHART_IMAGES[chart]:
        out = _merged(out, image.overlay())
    return out


def release_images(chart: str, values: dict[str, Any]) -> list[str]:
    """What a release of `chart` with `values` runs, one reference per image block."""
    return [image.runs(values) for image in CHART_IMAGES.get(chart, ()) if image.enabled(values)]
