"""The images each cluster runs, as the plan registers them: what a security review signs off.

Read from what the program emits (the reviewed manifests a ConfigFile applies, workload objects, each Helm release's
chart images with the values the plan gives it) and reported per cluster (the Kubernetes provider its objects go
through), each with its pin: `digest`, or the table's reason it is not pinned yet (`unverified ...`, `preloaded ...`),
or `TAG ONLY`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components import images
from gpufleet.offline import Recorded
from gpufleet.sections import Section

_WORKLOADS = ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet",
              "kubernetes:batch/v1:Job", "kubernetes:core/v1:Pod")
TAG_ONLY = "TAG ONLY"


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


def pin_status(image: str) -> str:
    if images.is_digest_pinned(image):
        return "digest"
    return images.exemption(image) or TAG_ONLY


def _cluster(resource: Recorded) -> str:
    parts = resource.provider.split("::")
    return parts[3] if len(parts) > 3 else "(default provider)"


def image_list(resources: list[Recorded]) -> list[dict[str, Any]]:
    """Per cluster (its Kubernetes provider's name): each image, its pin, and which resource runs it."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in resources:
        for image in emitted_images(r):
            seen.setdefault((_cluster(r), image), {"cluster": _cluster(r), "image": image,
                                                   "pin": pin_status(image), "resource": r.name})
    return [seen[k] for k in sorted(seen)]


def section(resources: list[Recorded]) -> Section:
    rows = image_list(resources)
    tag_only = [r for r in rows if r["pin"] == TAG_ONLY]
    unverified = [r for r in rows if r["pin"] not in ("digest", TAG_ONLY)]
    pinned = len(rows) - len(tag_only) - len(unverified)
    headline = (f"{len(tag_only)} image(s) run by tag only" if tag_only else
                f"{pinned} of {len(rows)} image(s) by digest, {len(unverified)} with a recorded reason")
    return Section(key="images", title="Images each cluster runs", headline=headline, mandatory=bool(tag_only),
                   columns=("cluster", "image", "pin"),
                   rows=[(r["cluster"], f"`{r['image']}`", r["pin"].split(":")[0]) for r in rows],
                   notes=[f"{len(unverified)} image(s) not yet by digest, each with its reason in "
                          "components/images.py DIGESTS."] if unverified else [],
                   data=rows)
