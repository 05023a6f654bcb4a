"""Issue 24 §1: every image a chart's subcharts run is listed, as each subchart's own template renders it.

kube-prometheus-stack's grafana, kube-state-metrics and prometheus-node-exporter, and the GPU Operator's
node-feature-discovery, checked against their real values (tests/support/subchart_values, verbatim upstream at the
versions the parents' Chart.yaml in ../shared/reference pin) with the parent's and gpu-fleet's values over them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from components import images, versions
from components.kubernetes import gpu_addons
from components.kubernetes.monitoring.prometheus_stack import prometheus_stack_values
from tests.support.k8s_schemas import helm_merged
from tests.support.subcharts import SUBCHARTS, dependency, parent_values


def _kps_values() -> dict[str, Any]:
    return prometheus_stack_values(cluster="c", storage_class="s", existing_alertmanager_secret=False)


PARENTS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    versions.KUBE_PROMETHEUS_STACK.chart: ("kube-prometheus-stack", _kps_values),
    versions.GPU_OPERATOR.chart: ("gpu-operator", gpu_addons.gpu_operator_values),
}
"""Chart -> (its directory in ../shared/reference/charts, gpu-fleet's values for it)."""
ENTRIES = [(chart, e) for chart in PARENTS for e in images.CHART_IMAGES[chart] if e.subchart is not None]


def _values(chart: str, subchart: str, ours: dict[str, Any] | None = None) -> dict[str, Any]:
    """The subchart's values as Helm gives them to it: its defaults, the parent's block, gpu-fleet's block."""
    directory, values_fn = PARENTS[chart]
    mine = values_fn() if ours is None else ours
    defaults = helm_merged(SUBCHARTS[subchart].read("values.yaml"), parent_values(directory).get(subchart) or {})
    return helm_merged(defaults, mine.get(subchart) or {})


def _at(values: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        values = values[key]
    return values


def _rendered(subchart: str, path: tuple[str, ...], values: dict[str, Any]) -> str:
    """The `image:` the subchart's template prints for the block at `path` (each rule cited from its template)."""
    block = _at(values, path)
    app = str(SUBCHARTS[subchart].read("Chart.yaml")["appVersion"])
    assert not (values.get("global") or {}).get("imageRegistry")
    if subchart == "kube-state-metrics":  # _helpers.tpl `kube-state-metrics.image`: "%s/%s:%s@%s", sha verbatim
        ref = f"{block['registry']}/{block['repository']}:{block.get('tag') or 'v' + app}"
        return f"{ref}@{block['sha']}" if block.get("sha") else ref
    if subchart == "prometheus-node-exporter":  # `prometheus-node-exporter.image`: "%s/%s:%s%s@%s", sha forbidden
        assert not block.get("sha")
        suffix = "-distroless" if block.get("distroless") else ""
        ref = f"{block['registry']}/{block['repository']}:{block.get('tag') or 'v' + app}{suffix}"
        return f"{ref}@{block['digest']}" if block.get("digest") else ref
    if subchart == "grafana":  # _pod.tpl: "{registry}/{repository}:{tag | default appVersion}@sha256:{sha}"
        ref = f"{block['registry']}/{block['repository']}:{block.get('tag') or app}"
        return f"{ref}@sha256:{block['sha']}" if block.get("sha") else ref
    assert subchart == "node-feature-discovery"  # templates/worker.yaml: "{repository}:{tag | default appVersion}"
    return f"{block['repository']}:{block.get('tag') or app}"


def test_vendored_subcharts_are_what_the_parents_pin() -> None:
    for s in SUBCHARTS.values():
        assert (s.sha256("values.yaml"), s.sha256("Chart.yaml")) == (s.values_sha256, s.chart_sha256), s.name
        dep = dependency(s.parent, s.name)
        assert str(dep["version"]) == s.version
        chart = s.read("Chart.yaml")
        assert chart["name"] == s.name
        if s.name == "node-feature-discovery":
            assert chart["appVersion"] == f"v{s.version}"
        else:
            assert str(chart["version"]) == s.version
        # The table's condition is the one Chart.yaml installs the subchart by.
        (chart_name,) = [c for c, (d, _) in PARENTS.items() if d == s.parent]
        conditions = {e.condition for e in images.CHART_IMAGES[chart_name] if e.subchart == s.name}
        assert conditions == {tuple(dep["condition"].split("."))}, s.name


@pytest.mark.parametrize(("chart", "entry"), ENTRIES, ids=[f"{c}:{'.'.join(e.path)}" for c, e in ENTRIES])
def test_subchart_images_as_the_subchart_renders_them(chart: str, entry: images.ChartImage) -> None:
    """The default block names the table's image; with gpu-fleet's values it renders what `runs` reports, by the
    table's digest when one is verified."""
    sub, inner = entry.path[0], entry.path[1:]
    assert entry.subchart == sub
    directory, values_fn = PARENTS[chart]
    assert _rendered(sub, inner, _values(chart, sub, {})) == entry.image
    ours = values_fn()
    rendered = _rendered(sub, inner, _values(chart, sub, ours))
    assert rendered == entry.runs(ours)
    pin = images.DIGESTS[entry.image]
    assert rendered == (f"{entry.image}@{pin.digest}" if pin.digest else entry.image)
    assert entry.enabled(helm_merged(parent_values(directory), ours))


def _image_blocks(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(node, dict):
        if isinstance(node.get("repository"), str) and node["repository"]:
            yield path
        for k, v in node.items():
            yield from _image_blocks(v, (*path, str(k)))


OFF: dict[tuple[str, tuple[str, ...]], Callable[[dict[str, Any]], bool]] = {
    # kube-rbac-proxy sidecars only with kubeRBACProxy.enabled (both charts' deployment/daemonset templates).
    ("kube-state-metrics", ("kubeRBACProxy", "image")): lambda v: v["kubeRBACProxy"]["enabled"] is False,
    ("prometheus-node-exporter", ("kubeRBACProxy", "image")): lambda v: v["kubeRBACProxy"]["enabled"] is False,
    # daemonset.yaml: the permission-fix init container only with a fix or an extra command.
    ("prometheus-node-exporter", ("permissionInitContainer", "image")): lambda v: not (
        v["permissionInitContainer"]["fixes"]["rapl"] or v["permissionInitContainer"]["fixes"]["slabinfo"]
        or v["permissionInitContainer"]["extraCommands"]),
    # templates/tests/test.yaml: a `helm.sh/hook: test` pod, run by `helm test` only (a Release never does).
    ("grafana", ("testFramework", "image")): lambda v: v["testFramework"].get("hookType", "test") == "test",
    # _pod.tpl: init-chown-data only with persistence, download-dashboards only with `dashboards`.
    ("grafana", ("initChownData", "image")): lambda v: not v["persistence"]["enabled"],
    ("grafana", ("downloadDashboardsImage",)): lambda v: not v.get("dashboards"),
    # image-renderer-deployment.yaml: only with imageRenderer.enabled.
    ("grafana", ("imageRenderer", "image")): lambda v: v["imageRenderer"]["enabled"] is False,
}
"""Image blocks of the subcharts that do not run with the parent's and gpu-fleet's values, and the check of that."""


@pytest.mark.parametrize("subchart", sorted(SUBCHARTS))
def test_every_image_block_of_a_subchart_is_listed_or_off(subchart: str) -> None:
    (chart,) = [c for c, (d, _) in PARENTS.items() if d == SUBCHARTS[subchart].parent]
    values = _values(chart, subchart)
    listed = {e.path[1:] for e in images.CHART_IMAGES[chart] if e.subchart == subchart}
    off = {path for (name, path) in OFF if name == subchart}
    assert set(_image_blocks(SUBCHARTS[subchart].read("values.yaml"))) == listed | off
    assert not listed & off
    for path in off:
        assert OFF[(subchart, path)](values), (subchart, path)


def test_a_subchart_turned_off_runs_no_image() -> None:
    chart, ours = versions.KUBE_PROMETHEUS_STACK.chart, _kps_values()
    everything = images.release_images(chart, ours)
    assert "docker.io/grafana/grafana:13.2.0" in everything
    off = images.release_images(chart, {**ours, "grafana": {**ours["grafana"], "enabled": False},
                                        "kubeStateMetrics": {"enabled": False}})
    assert not [i for i in off if "grafana" in i or "kiwigrid" in i or "kube-state-metrics" in i]
    assert len(off) == len(everything) - 3
    no_nfd = images.release_images(versions.GPU_OPERATOR.chart, {"nfd": {"enabled": False}})
    assert not [i for i in no_nfd if "node-feature-discovery" in i]
