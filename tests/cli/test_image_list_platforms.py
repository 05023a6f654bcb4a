"""Issue 24 §1: the plan's image list names what a platform picks the images of, each as what it is.

An EKS managed add-on is `name@version` (EKS deploys that version's images from its ECR repository); an OLM
Subscription is `package/channel@startingCSV` from its catalog (OLM resolves and unpacks the bundle and runs the
images its CSV names). A CatalogSource's index image is an image gpu-fleet would name itself: a tag is flagged.
"""

from __future__ import annotations

from typing import Any

from components import versions
from gpufleet import image_list
from gpufleet.offline import Recorded
from gpufleet.report import Plan


def _rows(plan: Plan, kind: image_list.Kind) -> list[dict[str, Any]]:
    return [r for r in image_list.image_list(plan.resources) if r["kind"] == kind.value]


def test_every_eks_managed_add_on_is_listed_under_its_cluster(prod_plan: Plan) -> None:
    addons = [r for r in prod_plan.resources if r.type == image_list.ADDON]
    assert {a.inputs["addonName"] for a in addons} == set(versions.EKS_ADDONS)
    rows = _rows(prod_plan, image_list.Kind.EKS_ADDON)
    assert {(r["image"], r["resource"]) for r in rows} == {
        (f"{a.inputs['addonName']}@{a.inputs['addonVersion']}", a.name) for a in addons}
    # The cluster is the EKS cluster's own Kubernetes provider, as its charts' rows say.
    assert {r["cluster"] for r in rows} == {"us-east-1-ml-aws-k8s"}
    assert "us-east-1-ml-aws-k8s" in {r["cluster"] for r in _rows(prod_plan, image_list.Kind.IMAGE)}
    assert all(r["pin"] == image_list.MANAGED_ADDON for r in rows)


def test_olm_subscriptions_are_listed_with_their_csv_and_catalog(prod_plan: Plan) -> None:
    rows = {r["image"]: r for r in _rows(prod_plan, image_list.Kind.OLM_SUBSCRIPTION)}
    gpu = (f"gpu-operator-certified/{versions.GPU_OPERATOR_OLM_CHANNEL}@{versions.GPU_OPERATOR_OLM_CSV} "
           "from certified-operators (openshift-marketplace)")
    nfd = "nfd/stable@(channel head) from redhat-operators (openshift-marketplace)"
    assert set(rows) == {gpu, nfd}
    assert {r["cluster"] for r in rows.values()} == {"openshift-ocp-ai-k8s"}
    assert rows[gpu]["pin"].startswith("olm: OLM resolves the pinned CSV gpu-operator-certified.v26.7.0 in catalog")
    # NFD's Subscription pins a channel only: the row says OLM installs whatever heads it.
    assert "the head of channel stable (no startingCSV)" in rows[nfd]["pin"]
    # gpu-fleet creates no CatalogSource: the catalogs are the cluster's own (openshift-marketplace's).
    assert not [r for r in prod_plan.resources if r.type == image_list.CATALOG_SOURCE]


def _catalog(image: str) -> Recorded:
    provider = "urn:pulumi:prod::gpu-fleet::pulumi:providers:kubernetes::ocp-k8s::id"
    return Recorded(urn="urn:pulumi:prod::gpu-fleet::kubernetes:operators.coreos.com/v1alpha1:CatalogSource::mirror",
                    type=image_list.CATALOG_SOURCE, name="mirror", parent="", custom=True, provider=provider,
                    inputs={"spec": {"sourceType": "grpc", "image": image}})


def test_a_catalog_index_by_tag_is_flagged_and_by_digest_is_not() -> None:
    tagged = image_list.section([_catalog("registry.example.com/olm/redhat-operator-index:v4.18")])
    assert tagged.mandatory and tagged.headline == "1 image(s) run by tag only"
    assert tagged.data[0]["kind"] == "image" and tagged.data[0]["cluster"] == "ocp-k8s"
    pinned = image_list.section([_catalog("registry.example.com/olm/index:v4.18@sha256:" + "a" * 64)])
    assert not pinned.mandatory and pinned.data[0]["pin"] == "digest"


def test_the_section_counts_images_apart_from_what_platforms_choose(prod_plan: Plan) -> None:
    section = image_list.section(prod_plan.resources)
    chosen = len(_rows(prod_plan, image_list.Kind.EKS_ADDON)) + len(_rows(prod_plan, image_list.Kind.OLM_SUBSCRIPTION))
    assert chosen == len(versions.EKS_ADDONS) + 2
    assert section.headline.endswith(f"; {chosen} add-on(s) or Subscription(s) whose images EKS or OLM choose")
    assert section.columns == ("cluster", "kind", "image", "pin")
    assert {row[1] for row in section.rows} == {"image", "eks-addon", "olm-subscription"}


def _image_keys(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        found = [(*path, k) for k in node if k in ("image", "repository", "version", "digest")]
        return found + [p for k, v in node.items() for p in _image_keys(v, (*path, str(k)))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _image_keys(v, (*path, str(i)))]
    return []


def test_the_operators_instances_name_no_image(prod_plan: Plan) -> None:
    """The ClusterPolicy and NodeFeatureDiscovery gpu-fleet writes leave every operand image to the operator's CSV,
    so the Subscription rows are the whole of what OLM-installed software runs (no image to list beside them)."""
    kinds = ("kubernetes:nvidia.com/v1:ClusterPolicy", "kubernetes:nfd.openshift.io/v1:NodeFeatureDiscovery")
    instances = [r for r in prod_plan.resources if r.type in kinds]
    assert len(instances) == 2
    assert {r.name: _image_keys(r.inputs) for r in instances} == {r.name: [] for r in instances}
