"""The images gpu-fleet causes to run, by digest where one is verified, and the transform for upstream manifests.

A tag can be moved by whoever controls the registry; a digest names the bytes that were reviewed. Upstream manifests
are kept as verbatim copies (`components/manifests/`, each read at the commit `components.versions` pins) and go
through `pin_manifest` before gpu-fleet applies them, so what runs is what the table below says.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.kubernetes.conventions import GPU_TAINT, POOL_TOLERATION

MANIFESTS = Path(__file__).parent / "manifests"
"""Verbatim upstream copies; the header of each entry in `components.versions` names its commit."""


@dataclass(frozen=True)
class ImagePin:
    pinned: str | None
    """`repo:tag@sha256:<digest>` to run instead, or None when no digest could be verified offline (`unverified`)."""
    source: str
    """Where the digest was read, and when; for an unverified entry, why it is not pinned yet."""


UBUNTU_NOBLE = "docker.io/library/ubuntu:24.04@sha256:561618e2c15bf2397621dd04f96926663a3b5616c189cf7e38db7e82f5c538ea"
"""`ubuntu:noble` (= 24.04) multi-arch index, as docker-library/repo-info @01470af repos/ubuntu/remote/noble.md records
it (build of 2026-07-31, 12 platforms); the TCPXO installer's init container only needs `nsenter` from it (it
runs its script in the host's namespaces)."""

_UNVERIFIED = "unverified: no source readable offline records this tag's digest (checked the container-engine-" \
    "accelerators history, 2026-12-01); resolve with `crane digest <image>` and add it here"

DIGESTS: dict[str, ImagePin] = {
    "ubuntu": ImagePin(UBUNTU_NOBLE, "docker-library/repo-info @01470af, repos/ubuntu/remote/noble.md (2026-07-31)"),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9": ImagePin(None, _UNVERIFIED),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15": ImagePin(None, _UNVERIFIED),
    "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib:v1.1.1": ImagePin(None, _UNVERIFIED),
    "cos-nvidia-installer:fixed": ImagePin(
        None, "preloaded: GKE's COS image carries it and the manifest sets imagePullPolicy Never, so no registry is "
        "asked and no digest applies (daemonset-preloaded.yaml @f2cf419)"),
}
"""Image reference as an upstream manifest or chart writes it -> what gpu-fleet runs. Images already written by
digest upstream (pause, nri-device-injector, nvidia-partition-gpu) need no entry."""

NODE_AGENT_TOLERATIONS: list[dict[str, str]] = [
    {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"}, dict(POOL_TOLERATION)]
"""What a node installer or device plugin tolerates instead of upstream's `operator: Exists` (every taint): GKE taints
GPU node pools `nvidia.com/gpu=present:NoSchedule` (GKE docs, "About GPUs": the taint GKE adds), and gpu-fleet's
dedicated pools add `gpu-fleet/pool`. Nothing else is needed: the DaemonSet controller itself adds the
`node.kubernetes.io/*` tolerations (not-ready, unreachable, disk/memory/pid-pressure, unschedulable and, with
hostNetwork, network-unavailable) to every DaemonSet pod (Kubernetes docs, DaemonSet "Taints and tolerations")."""


WAS_CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"
"""The type these manifests were applied as before (from a GitHub URL): the ConfigGroups alias it, so that the
installers' DaemonSets in kube-system keep their URNs instead of being created anew and the old ones deleted."""


def is_digest_pinned(image: str) -> bool:
    return "@sha256:" in image


def pinned(image: str) -> str:
    """The reference to run: upstream's if it is already by digest, else the table's digest, else unchanged."""
    if is_digest_pinned(image):
        return image
    pin = DIGESTS.get(image)
    return pin.pinned if pin is not None and pin.pinned is not None else image


def exemption(image: str) -> str | None:
    """Why a tag-only image is allowed to run (its table entry's source), or None when it is not in the table."""
    pin = DIGESTS.get(image)
    return pin.source if pin is not None and pin.pinned is None else None


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    return spec.get("template", {}).get("spec") if obj.get("kind") != "Pod" else spec


def pin_manifest(obj: dict[str, Any]) -> dict[str, Any]:
    """An upstream object as gpu-fleet applies it: images by digest, tolerations narrowed to NODE_AGENT_TOLERATIONS."""
    out = copy.deepcopy(obj)
    pod = _pod_spec(out)
    if pod is None:
        return out
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        container["image"] = pinned(container["image"])
    if any("key" not in t and t.get("operator") == "Exists" for t in pod.get("tolerations", [])):
        pod["tolerations"] = [dict(t) for t in NODE_AGENT_TOLERATIONS]
    return out


def load_manifest(url: str) -> list[dict[str, Any]]:
    """The objects of the pinned upstream manifest at `url`, read from its vendored copy, through `pin_manifest`."""
    docs = yaml.safe_load_all((MANIFESTS / url.rsplit("/", 1)[-1]).read_text())
    return [pin_manifest(d) for d in docs if d]


def pod_images(obj: dict[str, Any]) -> list[str]:
    """Every image a workload object's pods run (init containers included)."""
    pod = _pod_spec(obj) or {}
    return [c["image"] for c in [*pod.get("initContainers", []), *pod.get("containers", [])] if "image" in c]
