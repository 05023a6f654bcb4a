"""The project's Binary Authorization policy: only the images gpu-fleet runs are admitted (CIS GKE 5.10).

Binary Authorization has one policy per project (a singleton), which every cluster created with
`evaluation_mode = PROJECT_SINGLETON_POLICY_ENFORCE` evaluates. Its default rule denies every image; the
allow-list names the repositories of the images gpu-fleet causes to run, and Google's global policy admits
GKE's own system images. `enforced` blocks (and audit-logs) the rest; `dry-run` only audit-logs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.config.gke import BinaryAuthorizationMode
from components.versions import GIB_DIAGNOSTIC_IMAGE, TCPX_IMAGES, TCPXO_IMAGES

CHART_REGISTRIES = ("nvcr.io/nvidia",)
"""Where the GKE add-on charts pull from: every `repository:` of the gpu-operator and dcgm-exporter charts'
values (../shared/reference/charts/*/values.yaml at the pinned versions) is nvcr.io/nvidia or below it."""
MANIFEST_IMAGES = (
    # GoogleCloudPlatform/container-engine-accelerators at GPUDIRECT_COMMIT (992db81) and
    # COS_DRIVER_INSTALLER_COMMIT: the images of the installer manifests gpu-fleet applies.
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9",
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15",
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib:v1.1.1",
    "docker.io/library/ubuntu",  # gpudirect-tcpxo/nccl-tcpxo-installer.yaml's init container, `image: "ubuntu"`
    "gke.gcr.io/pause:3.8@sha256:880e63f94b145e46f1b1082bb71b85e21f16b99b180b9996407d61240ceb9830",
    "gcr.io/gke-release/nri-device-injector@sha256:6e79483d52abdc28454bf186320b10a56b0f117a10e8d65d5c74dbb821a76970",
    "gcr.io/gke-release/nvidia-partition-gpu@sha256:de12f85ebfb4fb6c1893cd30c23aab662a72fa0448f97ef74fccb82d7522ef17",
)
ENFORCEMENT = {
    BinaryAuthorizationMode.ENFORCED: "ENFORCED_BLOCK_AND_AUDIT_LOG",
    BinaryAuthorizationMode.DRY_RUN: "DRYRUN_AUDIT_LOG_ONLY",
}


def fleet_images() -> list[str]:
    """Every image reference gpu-fleet's own code and the manifests it applies name on GKE."""
    return sorted({*MANIFEST_IMAGES, *TCPX_IMAGES.values(), *TCPXO_IMAGES.values(), GIB_DIAGNOSTIC_IMAGE})


def repository(image: str) -> str:
    """`registry/path/name` of an image reference, without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def allow_patterns(images: Iterable[str], registries: Iterable[str] = CHART_REGISTRIES) -> list[str]:
    """Binary Authorization name patterns admitting `images` and everything under `registries`.

    Each image's repository is admitted with any tag or digest; `registries` with `**` (the policy YAML
    reference: `*` matches within one directory, `**` across directories).
    """
    under = [f"{r}/**" for r in registries]
    own = {f"{repository(i)}*" for i in images if not any(repository(i).startswith(f"{r}/") for r in registries)}
    return sorted({*under, *own})


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
