"""Issue 24 §2: the Binary Authorization allow-list is what the GKE plan runs, and no more.

The patterns come from the sources the plan applies (reviewed manifests, the GKE charts' image table, the fabric
check's images); every image the GKE plan, the GPU Operator stack and the fabric check run is admitted by the
patterns the plan registers, and images gpu-fleet does not run (another registry, a sibling repository, an operand
gpu-fleet keeps off) are not.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import images, versions
from components.gcp import binary_authorization as binauthz
from components.kubernetes import gpu_addons
from gpufleet import fabric_check, image_list
from gpufleet.report import Plan
from infra.config import parse
from tests.support.binauthz import admits
from tests.support.fabric_docs import _ultra_doc, _without_secrets
from tests.support.plans import gke_of, gke_only

BINAUTHZ = "gcp:binaryauthorization/policy:Policy"
GKE_CLUSTER = "gpufleet:cluster:GkeCluster"


def _patterns(plan: Plan) -> list[str]:
    (policy,) = [r for r in plan.resources if r.type == BINAUTHZ]
    return [p["namePattern"] for p in policy.inputs["admissionWhitelistPatterns"]]


def _admitted(patterns: list[str], image: str) -> bool:
    return any(admits(p, image) for p in patterns)


def _unnameable_is_preloaded(image: str) -> bool:
    """A reference without a registry can be named by no pattern: only the preloaded, never-pulled one is allowed."""
    return not binauthz.has_registry(image) and (images.exemption(image) or "").startswith("preloaded:")


def test_every_image_the_gke_plan_runs_is_admitted(prod_plan: Plan) -> None:
    patterns = _patterns(prod_plan)
    gke = {r.name for r in prod_plan.resources
           if r.type == image_list.K8S_PROVIDER and f"${GKE_CLUSTER}::" in r.parent}
    rows = [r for r in image_list.image_list(prod_plan.resources) if r["cluster"] in gke]
    assert len({r["cluster"] for r in rows}) >= 6 and len({r["image"] for r in rows}) >= 5
    assert {r["kind"] for r in rows} == {"image"}
    for row in rows:
        assert _admitted(patterns, row["image"]) or _unnameable_is_preloaded(row["image"]), row


def test_the_gpu_operator_stack_runs_only_admitted_images(prod_plan: Plan) -> None:
    """The GKE operator stack: the chart's images with gpu-fleet's values (the operator renders each operand
    `repository/image@digest`), its NFD subchart, and the COS driver installer beside it."""
    patterns = _patterns(prod_plan)
    runs = images.release_images(versions.GPU_OPERATOR.chart, gpu_addons.gpu_operator_values())
    assert any("node-feature-discovery" in i for i in runs)
    installer = images.read_manifest(images.manifest_file(versions.COS_DRIVER_INSTALLER))
    runs += [i for obj in installer for i in images.pod_images(obj)]
    for image in runs:
        assert _admitted(patterns, image) or _unnameable_is_preloaded(image), image
    assert [i for i in runs if not binauthz.has_registry(i)] == ["cos-nvidia-installer:fixed"]


def _fleet(doc: dict[str, Any]) -> Any:
    raw = _without_secrets({k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("gpu-fleet:")})
    return parse(raw, gcp_project=doc["config"]["gcp:project"]).fleet


def _a3_high(doc: dict[str, Any]) -> dict[str, Any]:
    doc = gke_only(doc)
    gke_of(doc)["regions"][0]["clusters"][1]["gpu_pools"][0].update(machine_type="a3-highgpu-8g",
                                                                      zones=["us-central1-b"])
    return doc


@pytest.mark.parametrize(("case", "pool"), [
    ("a3-mega", "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"),
    ("a3-high", "gke.regions[us-central1].clusters[research-1].gpu_pools[a100-research]"),
    ("a3-ultra", "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"),
])
def test_the_fabric_check_runs_only_admitted_images(case: str, pool: str, prod_doc: dict[str, Any],
                                                    prod_plan: Plan) -> None:
    doc = {"a3-mega": gke_only, "a3-high": _a3_high, "a3-ultra": _ultra_doc}[case](prod_doc)
    check = fabric_check.build(_fleet(doc), pool, gcp_project="acme-ml-prod")
    ran = [i for m in check.manifests if m.get("kind") == "Pod" for i in images.pod_images(m)]
    assert ran and set(ran) <= set(binauthz.FABRIC_CHECK_IMAGES)
    assert all(_admitted(_patterns(prod_plan), i) for i in ran), ran


def test_the_allow_list_is_no_broader_than_what_runs(prod_plan: Plan) -> None:
    patterns = _patterns(prod_plan)
    fleet = binauthz.fleet_images()
    assert patterns == binauthz.allow_patterns(fleet)
    assert not [p for p in patterns if "**" in p or p.count("*") != 1 or not p.endswith("*")]
    # Each pattern is one repository gpu-fleet runs, and admits something it runs.
    assert {p.removesuffix("*") for p in patterns} == {binauthz.repository(i) for i in fleet
                                                         if binauthz.has_registry(i)}
    for pattern in patterns:
        assert [i for i in fleet if admits(pattern, i)], pattern
    for image in ("docker.io/library/busybox:1.36", "quay.io/prometheus/node-exporter:v1.9.0",
                  "us-docker.pkg.dev/gce-ai-infra/other/thing:v1", "gke.gcr.io/kube-proxy:v1",
                  # GPU Operator operands gpu-fleet keeps off (driver, sandbox's cc-manager): no longer admitted.
                  "nvcr.io/nvidia/driver:595.91.07", "nvcr.io/nvidia/cloud-native/k8s-cc-manager:v0.4.3",
                  "registry.k8s.io/nfd/other:v1", "nvcr.io/nvidia/k8s/dcgm-exporter/sub:v1"):
        assert not _admitted(patterns, image), image


def test_the_allow_list_follows_its_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chart image added to the table, or a reviewed manifest's image, is admitted with no list to edit."""
    manifests = {i for u in images.VENDORED for o in images.read_manifest(images.manifest_file(u))
                 for i in images.pod_images(o)}
    assert set(binauthz.manifest_images()) == manifests
    assert "docker.io/library/ubuntu" not in binauthz.fleet_images()  # upstream's `image: "ubuntu"`, replaced
    assert any(i.startswith("docker.io/library/ubuntu:24.04@sha256:") for i in manifests)
    extra = images.ChartImage(("exporter", "image"), "nvcr.io/nvidia/k8s/other-exporter:v1", images.DigestKey.TAG)
    chart = versions.DCGM_EXPORTER.chart
    monkeypatch.setitem(images.CHART_IMAGES, chart, (*images.CHART_IMAGES[chart], extra))
    assert "nvcr.io/nvidia/k8s/other-exporter*" in binauthz.allow_patterns(binauthz.fleet_images())
