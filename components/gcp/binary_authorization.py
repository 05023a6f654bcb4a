"""The project's Binary Authorization policy: only the images gpu-fleet runs are admitted (CIS GKE 5.10).

Binary Authorization has one policy per project (a singleton), which every cluster created with
`evaluation_mode = PROJECT_SINGLETON_POLICY_ENFORCE` evaluates. Its default rule denies every image; the
allow-list names the repository of each image gpu-fleet causes to run on GKE, read from the same sources the plan
applies (the reviewed manifests, the GKE charts' image table, the fabric check's images), so it cannot go stale.
Google's global policy admits GKE's own system images. `enforced` blocks (and audit-logs) the rest; `dry-run` only
audit-logs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import images, versions
from components.config.gke import BinaryAuthorizationMode
from components.versions import GIB_DIAGNOSTIC_IMAGE, TCPX_IMAGES, TCPXO_IMAGES

GKE_CHARTS = (versions.GPU_OPERATOR.chart, versions.DCGM_EXPORTER.chart)
"""The charts gpu-fleet installs on GKE (components/kubernetes/gpu_addons.py: the GPU Operator, or dcgm-exporter
beside GKE's own stack). Their images are `components.images.CHART_IMAGES`, held against the charts' real values
(and the GPU Operator's NFD subchart's) by tests/kubernetes; with the sandbox workloads, the driver, DCGM and the node
status exporter off, the operator deploys no other operand (NVIDIA/gpu-operator v26.7.0 controllers/state_manager.go
`isStateEnabled`)."""
FABRIC_CHECK_IMAGES = tuple(images.pinned(i) for i in (*TCPX_IMAGES.values(), *TCPXO_IMAGES.values(),
                                                         GIB_DIAGNOSTIC_IMAGE))
"""What `gpu-fleet fabric-check` runs on GKE's GPU fabric pools, as it runs them (gpufleet/fabric_check.py builds its
pods from these through `components.images.pinned`: by digest where one is verified)."""
ENFORCEMENT = {
    BinaryAuthorizationMode.ENFORCED: "ENFORCED_BLOCK_AND_AUDIT_LOG",
    BinaryAuthorizationMode.DRY_RUN: "DRYRUN_AUDIT_LOG_ONLY",
}


def manifest_images() -> list[str]:
    """Every image the reviewed GKE manifests run, as their ConfigFiles apply them (by digest where pinned)."""
    return [image for upstream in images.VENDORED for obj in images.read_manifest(images.manifest_file(upstream))
            for image in images.pod_images(obj)]


def chart_images() -> list[str]:
    """Every image the GKE charts run at their pinned versions, subcharts included."""
    return [entry.image for chart in GKE_CHARTS for entry in images.CHART_IMAGES[chart]]


def fleet_images() -> list[str]:
    """Every image reference gpu-fleet may run on GKE: reviewed manifests, chart images, fabric check."""
    return sorted({*manifest_images(), *chart_images(), *FABRIC_CHECK_IMAGES})


def repository(image: str) -> str:
    """`registry/path/name` of an image reference, without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def has_registry(image: str) -> bool:
    """Whether a reference names its registry (`gke.gcr.io/pause`), which an allow-list pattern must start with."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def allow_patterns(images: Iterable[str]) -> list[str]:
    """Binary Authorization name patterns admitting exactly the repositories of `images`, any tag or digest.

    `<repository>*`: the trailing `*` matches within the last path segment only (the AdmissionWhitelistPattern
    reference: `gcr.io/nginx*` matches `gcr.io/nginx@latest` but not `gcr.io/nginx/image`), so the repository's tags
    and digests are admitted and no other directory; `**` (subdirectories too) is never used. A reference without a
    registry (the COS installer's preloaded `cos-nvidia-installer:fixed`, never pulled, applied with the GPU
    Operator stack only) cannot be named by a pattern, which must read `registry/path/to/image`: none is made for
    it (README, "CIS items and waivers": read dry-run's audit log for it before enforcing).
    """
    return sorted({f"{repository(i)}*" for i in images if has_registry(i)})


@dataclass(frozen=True)
class BinaryAuthorizationArgs:
    project: str
    """The project whose singleton policy this is."""
    mode: BinaryAuthorizationMode
    """enforced: images outside the allow-list are refused; dry-run: they are only audit-logged."""
    patterns: list[str]
    """Image name patterns admitted (allow_patterns)."""


class BinaryAuthorization(pulumi.ComponentResource):
    policy_id: pulumi.Output[str]

    def __init__(self, name: str, args: BinaryAuthorizationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gcp:BinaryAuthorization", name, None, opts)
        policy = gcp.binaryauthorization.Policy(
            f"{name}-policy",
            project=args.project,
            description="gpu-fleet: only the images the fleet runs (components/gcp/binary_authorization.py)",
            # Google's global policy admits GKE's system images (the node agents GKE itself runs).
            global_policy_evaluation_mode="ENABLE",
            admission_whitelist_patterns=[
                gcp.binaryauthorization.PolicyAdmissionWhitelistPatternArgs(name_pattern=p) for p in args.patterns
            ],
            default_admission_rule=gcp.binaryauthorization.PolicyDefaultAdmissionRuleArgs(
                evaluation_mode="ALWAYS_DENY", enforcement_mode=ENFORCEMENT[args.mode]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy_id = policy.id
        self.register_outputs({"policy_id": self.policy_id})
