"""The images each cluster runs, as the plan registers them: what a security review signs off.

Read from what the program emits (the reviewed manifests a ConfigFile applies, workload objects, each Helm release's
chart images with the values the plan gives it, a CatalogSource's index image) and reported per cluster (the
Kubernetes provider its objects go through), each with its pin: `digest`, or the table's reason it is not pinned yet
(`unverified ...`, `preloaded ...`), or `TAG ONLY`. What a platform chooses the images of is listed as what it is:
an EKS managed add-on as `name@version` (`managed ...`), an OLM Subscription as `package/channel@startingCSV` from its
catalog (`olm ...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Any

from components import images
from gpufleet.offline import Recorded
from gpufleet.sections import Section

_WORKLOADS = ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet",
              "kubernetes:batch/v1:Job", "kubernetes:core/v1:Pod")
ADDON = "aws:eks/addon:Addon"
SUBSCRIPTION = "kubernetes:operators.coreos.com/v1alpha1:Subscription"
CATALOG_SOURCE = "kubernetes:operators.coreos.com/v1alpha1:CatalogSource"
K8S_PROVIDER = "pulumi:providers:kubernetes"
TAG_ONLY = "TAG ONLY"


class Kind(str, Enum):
    """What a row of the list is."""

    IMAGE = "image"
    """An image reference gpu-fleet writes (manifest, workload, chart values, CatalogSource)."""
    EKS_ADDON = "eks-addon"
    """An EKS managed add-on, `name@version`: EKS picks its images."""
    OLM_SUBSCRIPTION = "olm-subscription"
    """An OLM Subscription, `package/channel@startingCSV from catalog`: OLM resolves its images from the bundle."""


MANAGED_ADDON = (
    "managed: EKS deploys the images of this add-on version itself, pulled from the EKS ECR repository it replicates "
    "to each region (EKS user guide, add-ons-images: 'the images are pulled from an Amazon EKS Amazon ECR private "
    "repository'); gpu-fleet pins the version (components/versions.py EKS_ADDON_VERSIONS), EKS the images")
OLM_BUNDLE = (
    "olm: OLM resolves {what} in catalog {catalog}, unpacks that bundle image (its BundlePath) and runs the images its "
    "CSV names (operator-framework/operator-lifecycle-manager @992bb09 pkg/controller/registry/resolver/"
    "step_resolver.go BundleLookup{{Path: op.BundlePath}}, pkg/controller/bundle/bundle_unpacker.go): the bundle, "
    "not gpu-fleet, names them")
"""The reason of an OLM row; `what` is the pinned CSV or, without startingCSV, the channel's head at install time."""


def chart_value_images(values: Any) -> Iterator[str]:
    """Images a chart's values name beyond the chart table: `image: <ref>` strings and `{repository, tag, digest}`."""
    if isinstance(values, dict):
        repo = values.get("repository")
        if isinstance(repo, str) and repo and ("tag" in values or "digest" in values or "sha" in values):
            registry = values.get("registry")
            ref = f"{registry}/{repo}" if isinstance(registry, str) and registry else repo
            digest = values.get("digest") or values.get("sha")
            if digest:
                yield f"{ref}@{digest if str(digest).startswith('sha256:') else 'sha256:' + str(digest)}"
            elif values.get("tag"):
                yield f"{ref}:{values['tag']}"
        for key, value in values.items():
            if key == "image" and isinstance(value, str):
                yield value
            else:
                yield from chart_value_images(value)
    elif isinstance(values, list):
        for item in values:
            yield from chart_value_images(item)


def emitted_images(resource: Recorded) -> list[str]:
    """Every image a registered resource makes a cluster run, as the plan emits it."""
    if resource.type == CATALOG_SOURCE:
        # The index image OLM serves the catalog from (CatalogSource spec.image), run as the catalog's pod.
        image = (resource.inputs.get("spec") or {}).get("image")
        return [str(image)] if image else []
    if resource.type == "kubernetes:yaml/v2:ConfigFile":
        return [i for obj in images.read_manifest(str(resource.inputs["file"])) for i in images.pod_images(obj)]
    if resource.type in _WORKLOADS:
        return images.pod_images(resource.inputs)
    if resource.type == "kubernetes:helm.sh/v3:Release":
        values = resource.inputs.get("values") or {}
        known = images.release_images(str(resource.inputs.get("chart") or ""), values)
        repos = {_repository(i) for i in known}
        return sorted({*known, *(i for i in chart_value_images(values) if _repository(i) not in repos)})
    return []


def _repository(image: str) -> str:
    ref = image.split("@", 1)[0]
    head, _, last = ref.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def platform_chosen(resource: Recorded) -> tuple[Kind, str, str] | None:
    """(kind, reference, pin) of what a platform chooses the images of (EKS add-on, OLM Subscription), else None."""
    if resource.type == ADDON:
        inputs = resource.inputs
        return Kind.EKS_ADDON, f"{inputs.get('addonName')}@{inputs.get('addonVersion')}", MANAGED_ADDON
    if resource.type == SUBSCRIPTION:
        spec = resource.inputs.get("spec") or {}
        csv = spec.get("startingCSV")
        catalog = f"{spec.get('source')} ({spec.get('sourceNamespace')})"
        what = f"the pinned CSV {csv}" if csv else f"the head of channel {spec.get('channel')} (no startingCSV)"
        reference = f"{spec.get('name')}/{spec.get('channel')}@{csv or '(channel head)'} from {catalog}"
        return Kind.OLM_SUBSCRIPTION, reference, OLM_BUNDLE.format(what=what, catalog=catalog)
    return None


def pin_status(image: str) -> str:
    if images.is_digest_pinned(image):
        return "digest"
    return images.exemption(image) or TAG_ONLY


def _cluster(resource: Recorded, providers: dict[str, str]) -> str:
    """The Kubernetes provider a resource goes through.

    For a cloud resource (an EKS add-on), the one its cluster component built beside it (each cluster component
    parents its own provider, STYLE.md).
    """
    parts = resource.provider.split("::")
    if resource.type == ADDON:
        return providers.get(resource.parent, str(resource.inputs.get("clusterName")))
    return parts[3] if len(parts) > 3 else "(default provider)"


def _rows(r: Recorded, cluster: str) -> list[dict[str, Any]]:
    chosen = platform_chosen(r)
    if chosen is not None:
        kind, reference, pin = chosen
        return [{"cluster": cluster, "kind": kind.value, "image": reference, "pin": pin, "resource": r.name}]
    return [{"cluster": cluster, "kind": Kind.IMAGE.value, "image": image, "pin": pin_status(image),
             "resource": r.name} for image in emitted_images(r)]


def image_list(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Per cluster (its Kubernetes provider's name): each image, add-on or Subscription, its pin, and its resource."""
    providers = {r.parent: r.name for r in resources if r.type == K8S_PROVIDER}
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in resources:
        for row in _rows(r, _cluster(r, providers)):
            seen.setdefault((row["cluster"], row["kind"], row["image"]), row)
    return [seen[k] for k in sorted(seen)]


def section(resources: list[Recorded]) -> Section:
    rows = image_list(resources)
    own = [r for r in rows if r["kind"] == Kind.IMAGE.value]
    chosen = len(rows) - len(own)
    tag_only = [r for r in own if r["pin"] == TAG_ONLY]
    unverified = [r for r in own if r["pin"] not in ("digest", TAG_ONLY)]
    pinned = len(own) - len(tag_only) - len(unverified)
    headline = (f"{len(tag_only)} image(s) run by tag only" if tag_only else
                f"{pinned} of {len(own)} image(s) by digest, {len(unverified)} with a recorded reason")
    if chosen:
        headline += f"; {chosen} add-on(s) or Subscription(s) whose images EKS or OLM choose"
    notes = [f"{len(unverified)} image(s) not yet by digest, each with its reason in components/images.py "
             "DIGESTS."] if unverified else []
    if chosen:
        notes.append("EKS managed add-ons are pinned by add-on version and OLM Subscriptions by channel and "
                     "startingCSV; EKS and OLM pick their images (each row's reason says how).")
    return Section(key="images", title="Images each cluster runs", headline=headline, mandatory=bool(tag_only),
                   columns=("cluster", "kind", "image", "pin"),
                   rows=[(r["cluster"], r["kind"], f"`{r['image']}`", r["pin"].split(":")[0]) for r in rows],
                   notes=notes, data=rows)
