"""Issue 24 §1 for `gpu-fleet fabric-check`: the NCCL test pods and MPIJobs it prints run their images by digest.

Each image the fabric check emits (GKE's TCPX, TCPXO and gIB test pods, EKS's EFA MPIJob) comes from
`components.versions` through `components.images.pinned`, the one table (`DIGESTS`) the plan's images use too: it
runs `repo:tag@sha256:...` where the table verifies the digest, and otherwise its tag only if the table lists it
`unverified` with the reason. Checked on the manifests the command really prints, for one pool of each fabric.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import images, versions
from gpufleet import fabric_check
from infra.config import parse
from tests.support.efa_docs import EKS_POOL
from tests.support.fabric_docs import MEGA, _ultra_doc, _without_secrets
from tests.support.plans import gke_of, gke_only

A3_HIGH = "gke.regions[us-central1].clusters[research-1].gpu_pools[a100-research]"


def _a3_high(doc: dict[str, Any]) -> dict[str, Any]:
    """prod's GKE side with research-1's pool turned into an A3 High pool (TCPX)."""
    doc = gke_only(doc)
    gke_of(doc)["regions"][0]["clusters"][1]["gpu_pools"][0].update(machine_type="a3-highgpu-8g",
                                                                      zones=["us-central1-b"])
    return doc


CASES = {
    "tcpxo": (lambda doc: doc, MEGA),
    "tcpx": (_a3_high, A3_HIGH),
    "gib": (_ultra_doc, MEGA),
    "efa": (lambda doc: doc, f"{EKS_POOL}[h100]"),
}
"""Fabric -> (the edit of prod's stack that gives a pool of it, the pool's config key)."""


def _check(prod_doc: dict[str, Any], case: str) -> fabric_check.FabricCheck:
    edit, pool = CASES[case]
    doc = edit(prod_doc)
    raw = _without_secrets({k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("gpu-fleet:")})
    return fabric_check.build(parse(raw, gcp_project=doc["config"]["gcp:project"]).fleet, pool,
                              gcp_project="acme-ml-prod")


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] == "Pod":
        return [obj["spec"]]
    if obj["kind"] == "MPIJob":
        return [r["template"]["spec"] for r in obj["spec"]["mpiReplicaSpecs"].values()]
    return []


def emitted_images(manifests: list[dict[str, Any]]) -> list[str]:
    """Every image the printed objects run (init containers included)."""
    return [c["image"] for obj in manifests for spec in _pod_specs(obj)
            for c in [*spec.get("initContainers", []), *spec.get("containers", [])]]


def tag_only(refs: list[str]) -> list[str]:
    """The references neither by digest nor listed `unverified` (with its reason) in `images.DIGESTS`."""
    return [r for r in refs if not images.is_digest_pinned(r)
            and not (images.exemption(r) or "").startswith("unverified:")]


@pytest.mark.parametrize("case", sorted(CASES))
def test_fabric_check_runs_no_tag_only_image(case: str, prod_doc: dict[str, Any]) -> None:
    refs = emitted_images(_check(prod_doc, case).manifests)
    assert refs
    assert not tag_only(refs), f"tag-only fabric-check images (pin them in components/images.py DIGESTS): {refs}"
    for ref in refs:
        if images.is_digest_pinned(ref):
            tag, digest = ref.split("@", 1)
            assert images.DIGESTS[tag].digest == digest, ref


def test_every_fabric_check_image_is_checked(prod_doc: dict[str, Any]) -> None:
    """The four pools above run every image versions.FABRIC_CHECK_IMAGES names, so none escapes the check."""
    seen = {r for case in CASES for r in emitted_images(_check(prod_doc, case).manifests)}
    assert seen == {images.pinned(i) for i in versions.FABRIC_CHECK_IMAGES}
    assert all(images.DIGESTS.get(i) for i in versions.FABRIC_CHECK_IMAGES), "each needs its DIGESTS entry"


def test_the_tcpxo_pods_run_the_daemon_and_plugin_by_digest(prod_doc: dict[str, Any]) -> None:
    """NVIDIA/aicr @005da13 docs/user/container-images.md records both A3 Mega images' digests."""
    (pod, _) = [m for m in _check(prod_doc, "tcpxo").manifests if m["kind"] == "Pod"]
    by_name = {c["name"]: c["image"] for c in pod["spec"]["containers"]}
    assert by_name == {
        "tcpxo-daemon": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21"
                        "@sha256:8d9e10fd589a34ab8a0aa64f7e70ad075c8f1c69bea176350f8d211367697e3d",
        "nccl-test": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15"
                     "@sha256:4c9f0de3f39455a2ea35e844e0fc92564ca5629f6b03250fde40e8160719dae4",
    }


def test_an_unlisted_tag_fails_the_check(prod_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A new tag nobody has recorded runs tag-only and is flagged; a listed-unverified one keeps its reason."""
    moved = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.99"
    monkeypatch.setitem(versions.TCPXO_IMAGES, "daemon", moved)
    refs = emitted_images(_check(prod_doc, "tcpxo").manifests)
    assert tag_only(refs) == [moved, moved]
    assert tag_only([versions.GIB_DIAGNOSTIC_IMAGE]) == []
    assert (images.exemption(versions.GIB_DIAGNOSTIC_IMAGE) or "").startswith("unverified:")
