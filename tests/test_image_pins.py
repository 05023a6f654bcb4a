"""Issue 24 §1: every image the plan makes a cluster run is pinned by digest (or carries its recorded reason), and
node installers tolerate only the taints they must. Checked on what the plan emits, against upstream's own files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components import images, versions
from components.aws import efa
from components.kubernetes import gpu_addons, nvidia
from gpufleet import image_list
from gpufleet.report import Plan

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
GPU_FABRIC_URLS = [versions.NCCL_TCPX_INSTALLER, versions.NCCL_TCPXO_INSTALLER, versions.NRI_DEVICE_INJECTOR,
                   versions.NCCL_RDMA_INSTALLER, versions.COS_DRIVER_INSTALLER]


def _groups(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    return {r.name: r.inputs["objs"] for r in plan.resources if r.type == "kubernetes:yaml/v2:ConfigGroup"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_tag_only_image_in_the_plan(stack: str, dev_plan: Plan, prod_plan: Plan) -> None:
    plan = dev_plan if stack == "dev" else prod_plan
    rows = image_list.image_list(plan.resources)
    tag_only = [(r["cluster"], r["image"]) for r in rows if r["pin"] == image_list.TAG_ONLY]
    assert not tag_only, f"tag-only images (pin them in components/images.py): {tag_only}"
    assert plan.to_json()["images"] == rows


def test_prod_lists_the_fabric_installers_images_per_cluster(prod_plan: Plan) -> None:
    rows = image_list.image_list(prod_plan.resources)
    ubuntu = [r for r in rows if r["image"] == images.UBUNTU_NOBLE]
    assert {r["cluster"] for r in ubuntu} == {f"{region}-ml-1-k8s" for region in ("us-central1", "us-east4",
                                                                             "europe-west4")}, ubuntu
    assert all(r["pin"] == "digest" for r in ubuntu)
    sec = image_list.section(prod_plan.resources)
    assert sec.key == "images" and sec.headline is None and len(sec.rows) == len(rows)


def test_tcpxo_init_container_runs_ubuntu_by_digest(prod_plan: Plan) -> None:
    groups = _groups(prod_plan)
    tcpxo = [objs for name, objs in groups.items() if name.endswith("-nccl-tcpxo-installer")]
    assert tcpxo
    for objs in tcpxo:
        (ds,) = [o for o in objs if o["kind"] == "DaemonSet"]
        (init, installer) = ds["spec"]["template"]["spec"]["initContainers"]
        assert init["image"] == images.UBUNTU_NOBLE
        assert installer["image"] in images.DIGESTS and images.exemption(installer["image"]), installer["image"]


def test_vendored_manifests_are_upstreams_with_the_flaws_the_transform_fixes() -> None:
    """The copies are verbatim upstream (tag-only `ubuntu`, tolerate-everything), so the test below can fail."""
    raw = [d for url in GPU_FABRIC_URLS
           for d in yaml.safe_load_all((images.MANIFESTS / url.rsplit("/", 1)[-1]).read_text()) if d]
    assert "ubuntu" in [i for d in raw for i in images.pod_images(d)]
    assert all({"operator": "Exists"} in d["spec"]["template"]["spec"]["tolerations"] for d in raw)


@pytest.mark.parametrize("url", GPU_FABRIC_URLS)
def test_installers_tolerate_only_the_gpu_and_pool_taints(url: str) -> None:
    for obj in images.load_manifest(url):
        pod = obj["spec"]["template"]["spec"]
        assert pod["tolerations"] == images.NODE_AGENT_TOLERATIONS
        assert all(images.is_digest_pinned(i) or images.exemption(i) for i in images.pod_images(obj))


def test_the_plans_installers_are_the_transformed_copies(prod_plan: Plan) -> None:
    for name, objs in _groups(prod_plan).items():
        for obj in objs:
            assert obj["spec"]["template"]["spec"]["tolerations"] == images.NODE_AGENT_TOLERATIONS, name


def _keyless_exists(tolerations: list[dict[str, Any]]) -> bool:
    return any("key" not in t and t.get("operator") == "Exists" for t in tolerations)


@pytest.mark.parametrize("values", [
    nvidia.device_plugin_values(), nvidia.dcgm_exporter_values(),
    nvidia.operator_values(dcgm_exporter=True)["daemonsets"], gpu_addons.dcgm_exporter_values(),
    efa.device_plugin_values()])
def test_device_plugins_and_exporters_tolerate_no_wildcard(values: dict[str, Any]) -> None:
    assert values["tolerations"] and not _keyless_exists(values["tolerations"])


def test_detector_flags_tag_only_chart_values_and_manifests() -> None:
    values = {"image": {"registry": "quay.io", "repository": "prometheus/prometheus", "tag": "v3.14.0", "sha": ""},
              "sidecar": {"image": "busybox:1.36"}}
    found = list(image_list.chart_value_images(values))
    assert found == ["quay.io/prometheus/prometheus:v3.14.0", "busybox:1.36"]
    assert {image_list.pin_status(i) for i in found} == {image_list.TAG_ONLY}
    pinned = {"repository": "public.ecr.aws/karpenter/controller", "tag": "1.14.1", "digest": "sha256:" + "a" * 64}
    assert [image_list.pin_status(i) for i in image_list.chart_value_images(pinned)] == ["digest"]
    ds = {"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{"image": "ubuntu"}],
                                                              "tolerations": [{"operator": "Exists"}]}}}}
    assert images.pod_images(images.pin_manifest(ds)) == [images.UBUNTU_NOBLE]
    assert images.pod_images(ds) == ["ubuntu"]
