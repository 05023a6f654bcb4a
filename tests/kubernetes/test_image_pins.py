"""Issue 24 §1: what runs is what was reviewed.

Every image the plan makes a cluster run (reviewed manifests and every chart's images) is pinned by digest or carries
its recorded reason; the reviewed copies are upstream's files at their pinned commits except the marked lines; the
installers and device plugins tolerate only the taints they must; the ConfigFiles keep type and name, so their
DaemonSets keep their URNs. Checked on what the plan emits, against upstream's own files: ../shared/reference and
tests/support/upstream_manifests (verbatim from the fetched mirror of GoogleCloudPlatform/container-engine-accelerators
at the commits components/versions.py pins).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import images, versions
from components.aws import efa
from components.aws.karpenter import karpenter_values
from components.kubernetes import gpu_addons, nvidia
from components.kubernetes.monitoring.prometheus_stack import prometheus_stack_values
from gpufleet import image_list
from gpufleet.report import Plan

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "charts"
UPSTREAM = ROOT / "tests" / "support" / "upstream_manifests"


def _configfiles(plan: Plan) -> dict[str, str]:
    return {r.name: str(r.inputs["file"]) for r in plan.resources if r.type == "kubernetes:yaml/v2:ConfigFile"}


# --- reviewed copies ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("upstream", sorted(images.VENDORED))
def test_reviewed_copy_is_upstream_except_the_marked_lines(upstream: str) -> None:
    v = images.VENDORED[upstream]
    original = (UPSTREAM / v.file).read_bytes()
    assert hashlib.sha256(original).hexdigest() == v.sha256, "tests/support copy is not the pinned upstream file"
    ours = (images.MANIFESTS / v.file).read_text().splitlines()
    changed = [line for line in difflib.ndiff(original.decode().splitlines(), ours) if line[:2] in ("- ", "+ ")]
    removed = [line[2:].strip() for line in changed if line.startswith("- ")]
    added = [line[2:].strip() for line in changed if line.startswith("+ ")]
    # Upstream lines we replaced: only the tolerate-everything and tag-only image lines.
    assert all(r == '- operator: "Exists"' or re.match(r"-? ?image: ", r) for r in removed), removed
    # Lines we added: `gpu-fleet:` comments, narrowed tolerations, images by digest.
    allowed = re.compile(r'^(# gpu-fleet: .*|- key: [a-z./-]+|operator: Exists|effect: NoSchedule|'
                         r'-? ?image: "?[^"]+@sha256:[0-9a-f]{64}"?)$')
    assert all(allowed.match(a) for a in added), [a for a in added if not allowed.match(a)]
    assert (removed == []) == (added == []), "a copy with no edit should not exist"


def test_pulumi_resolves_the_configfile_path_from_the_program_directory() -> None:
    main = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["main"]
    assert Path(main) == Path(images.PROGRAM_DIR)
    for upstream, v in images.VENDORED.items():
        file = images.manifest_file(upstream)
        assert not Path(file).is_absolute() and "\\" not in file
        assert (ROOT / main / file).resolve() == (images.MANIFESTS / v.file).resolve()


PROD_CONFIGFILE_URNS = {
    f"urn:pulumi:prod::gpu-fleet::gpufleet:gke:GpuFabric$kubernetes:yaml/v2:ConfigFile::{region}-ml-1-fabric-{key}"
    for region in ("europe-west4", "us-central1", "us-east4")
    for key in ("nccl-tcpxo-installer", "nri-device-injector")}
"""The installers' URNs in prod's plan before they were applied from the reviewed copies (tests/golden/plans/prod.json
at 8274a51, when `file` was the GitHub URL). Their DaemonSets are named by the provider from the ConfigFile's URN and
each object's kind, namespace and name, none of which the copies change."""


def test_installers_stay_configfiles_with_their_urns(prod_plan: Plan) -> None:
    urns = {r.urn for r in prod_plan.resources if r.type.startswith("kubernetes:yaml/v2:")}
    assert urns == PROD_CONFIGFILE_URNS


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_configfile_paths_are_relative_and_readable(stack: str, dev_plan: Plan, prod_plan: Plan) -> None:
    plan = dev_plan if stack == "dev" else prod_plan
    for name, file in _configfiles(plan).items():
        assert "://" not in file and not Path(file).is_absolute() and str(ROOT) not in file, (name, file)
        assert images.read_manifest(file), name


def test_upstream_objects_keep_kind_namespace_and_name() -> None:
    for upstream, v in images.VENDORED.items():
        ids = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
               for d in yaml.safe_load_all((UPSTREAM / v.file).read_text()) if d]
        assert [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
                for d in images.read_manifest(images.manifest_file(upstream))] == ids


def test_prod_applies_the_reviewed_tcpxo_installer(prod_plan: Plan) -> None:
    files = _configfiles(prod_plan)
    tcpxo = [f for n, f in files.items() if n.endswith("-nccl-tcpxo-installer")]
    assert len(tcpxo) == 3
    (ds,) = images.read_manifest(tcpxo[0])
    init, installer = ds["spec"]["template"]["spec"]["initContainers"]
    assert init["image"].startswith("docker.io/library/ubuntu:24.04@sha256:")
    assert images.is_digest_pinned(installer["image"])


@pytest.mark.parametrize("upstream", sorted(images.VENDORED))
def test_installers_tolerate_only_the_gpu_and_queued_taints(upstream: str) -> None:
    raw = [d for d in yaml.safe_load_all((UPSTREAM / images.VENDORED[upstream].file).read_text()) if d]
    assert all({"operator": "Exists"} in images.pod_tolerations(d) for d in raw)  # the flaw the copy fixes
    for obj in images.read_manifest(images.manifest_file(upstream)):
        assert images.pod_tolerations(obj) == images.GKE_NODE_AGENT_TOLERATIONS
        assert all(images.is_digest_pinned(i) or images.exemption(i) for i in images.pod_images(obj))


# --- images in the plan -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_tag_only_image_in_the_plan(stack: str, dev_plan: Plan, prod_plan: Plan) -> None:
    plan = dev_plan if stack == "dev" else prod_plan
    rows = image_list.image_list(plan.resources)
    assert rows
    tag_only = [(r["cluster"], r["image"]) for r in rows if r["pin"] == image_list.TAG_ONLY]
    assert not tag_only, f"tag-only images (pin them in components/images.py DIGESTS): {tag_only}"
    assert plan.to_json()["images"] == rows
    unverified = {r["image"]: r["pin"] for r in rows if r["pin"] != "digest" and r["kind"] == "image"}
    assert all(reason.startswith(("unverified:", "preloaded:")) for reason in unverified.values()), unverified
    chosen = {r["image"]: r["pin"] for r in rows if r["kind"] != "image"}
    assert all(reason.startswith(("managed:", "olm:")) for reason in chosen.values()), chosen


def test_the_list_flags_a_tag_only_image() -> None:
    assert image_list.pin_status("quay.io/prometheus/prometheus:v3.14.0") == image_list.TAG_ONLY
    assert image_list.pin_status("ubuntu") == image_list.TAG_ONLY  # upstream's spelling is not exempt
    values = {"sidecar": {"image": "busybox:1.36"}, "x": {"repository": "a.io/b", "tag": "1", "digest": ""}}
    assert sorted(image_list.chart_value_images(values)) == ["a.io/b:1", "busybox:1.36"]


def _reference(chart: str) -> dict[str, Any]:
    return yaml.safe_load((REFERENCE / chart / "values.yaml").read_text())


def _deep_merge(base: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in more.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _at(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        values = values[key]
    return values


def _default(block: dict[str, Any], app_version: str) -> str:
    """The `repo:tag` a default image block names (an empty tag or version is the chart's appVersion)."""
    if "image" in block:  # GPU Operator operand: repository/image:version
        return f"{block['repository']}/{block['image']}:{block.get('version') or app_version}"
    repo = f"{block['registry']}/{block['repository']}" if block.get("registry") else block["repository"]
    return f"{repo}:{block.get('tag') or app_version}"


def _rendered(block: dict[str, Any], app_version: str) -> str:
    """What the template runs for a block: the digest wins where the chart takes one (see images.DigestKey)."""
    if "image" in block and str(block.get("version", "")).startswith("sha256:"):
        return f"{block['repository']}/{block['image']}@{block['version']}"
    digest = block.get("digest") or block.get("sha")
    ref = _default(block, app_version)
    return f"{ref}@{digest if str(digest).startswith('sha256:') else 'sha256:' + str(digest)}" if digest else ref


CHARTS_IN_REFERENCE = {
    versions.DCGM_EXPORTER.chart: ("dcgm-exporter", lambda: gpu_addons.dcgm_exporter_values(), ""),
    versions.KARPENTER.chart: ("karpenter", lambda: karpenter_values(cluster="c", queue="q", zonal_shift=True), ""),
    versions.EFA_DEVICE_PLUGIN.chart: ("aws-efa-k8s-device-plugin", efa.device_plugin_values, ""),
    versions.GPU_OPERATOR.chart: ("gpu-operator", gpu_addons.gpu_operator_values, "v26.7.0"),
    versions.KUBE_PROMETHEUS_STACK.chart: (
        "kube-prometheus-stack",
        lambda: prometheus_stack_values(cluster="c", storage_class="s", existing_alertmanager_secret=False),
        "v0.93.1"),
}
"""Chart -> (its directory in ../shared/reference/charts, gpu-fleet's values, the chart's appVersion)."""


def _digest(ref: str) -> str | None:
    return ref.split("@", 1)[1] if "@" in ref else None


@pytest.mark.parametrize("chart", sorted(CHARTS_IN_REFERENCE))
def test_chart_images_as_the_real_chart_renders_them(chart: str) -> None:
    """Each table entry is an image block of the real chart's values naming that image; with gpu-fleet's values over
    the defaults it renders by digest (the one the table verified), or the table says why not."""
    directory, values_fn, app_version = CHARTS_IN_REFERENCE[chart]
    reference, ours = _reference(directory), values_fn()
    merged = _deep_merge(reference, ours)
    # Subcharts' blocks are held against their own values: tests/kubernetes/test_subchart_images.py.
    for entry in (e for e in images.CHART_IMAGES[chart] if e.subchart is None):
        default = _at(reference, entry.path)
        assert _default({k: v for k, v in default.items() if k not in ("digest", "sha")}, app_version) == \
            entry.image, entry.path
        rendered = _rendered(_at(merged, entry.path), app_version)
        assert _digest(rendered) == _digest(entry.runs(ours)), (entry.path, rendered)
        assert images.is_digest_pinned(rendered) or images.exemption(entry.image), (chart, rendered)
        if images.is_digest_pinned(rendered):
            assert _digest(rendered) == images.DIGESTS[entry.image].digest


def test_kube_prometheus_stack_lists_every_image_block_of_its_values() -> None:
    """Walks the real values for `{registry, repository, tag, sha}` blocks; each is in the table, except those of
    features off by default and in gpu-fleet's values: Thanos (ruler and sidecar), the CRD upgrade job (kubectl,
    busybox), the admission webhook server (the patch job runs)."""
    found: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            if {"repository", "sha"} <= set(node) and "registry" in node:
                found.append(path)
            for k, v in node.items():
                walk(v, (*path, str(k)))

    walk(_reference("kube-prometheus-stack"), ())
    listed = {e.path for e in images.CHART_IMAGES[versions.KUBE_PROMETHEUS_STACK.chart] if e.subchart is None}
    off = {p for p in found if "thanosRuler" in p or "thanosImage" in p or "upgradeJob" in p
           or ("admissionWebhooks" in p and "patch" not in p)}
    assert set(found) - off == listed


def test_device_plugin_chart_renders_tag_at_digest() -> None:
    """NVIDIA/k8s-device-plugin v0.20.0 _helpers.tpl `fullimage`: `repository:tag`; the tag carries the digest."""
    image = nvidia.device_plugin_values()["image"]
    assert f"{image['repository']}:{image['tag']}" == images.pinned("nvcr.io/nvidia/k8s-device-plugin:v0.20.0")
    assert images.is_digest_pinned(image["tag"])


@pytest.mark.parametrize("values", [
    nvidia.device_plugin_values(), nvidia.dcgm_exporter_values(),
    nvidia.operator_values(dcgm_exporter=True)["daemonsets"], gpu_addons.dcgm_exporter_values(),
    efa.device_plugin_values()])
def test_device_plugins_and_exporters_tolerate_no_wildcard(values: dict[str, Any]) -> None:
    assert values["tolerations"]
    assert not any("key" not in t and t.get("operator") == "Exists" for t in values["tolerations"])


def test_every_verified_digest_is_well_formed_and_every_reason_says_why() -> None:
    for image, pin in images.DIGESTS.items():
        assert not images.is_digest_pinned(image) and ":" in image.rsplit("/", 1)[-1], image
        if pin.digest is not None:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin.digest), image
        else:
            assert pin.source.startswith(("unverified:", "preloaded:")), image
        assert pin.source


def test_gke_gpu_agents_tolerate_the_queued_provisioning_taint_too() -> None:
    """A queued-provisioning node carries `cloud.google.com/gke-queued=true:NoSchedule` besides the GPU taint; the GKE
    dcgm-exporter and the GPU Operator's operands tolerate both (and nothing wider), or they miss those nodes."""
    assert gpu_addons.dcgm_exporter_values()["tolerations"] == images.GKE_NODE_AGENT_TOLERATIONS
    assert gpu_addons.gpu_operator_values()["daemonsets"]["tolerations"] == images.GKE_NODE_AGENT_TOLERATIONS
