"""The plan and the pull-request comment say, per cluster, which monitoring stack, rules and receivers a change
adds or removes: names only, never a credential."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

from rich.console import Console

from gpufleet import report
from gpufleet.report import Plan
from tests.support.monitoring import SECURE, _with_receivers


def test_the_plan_json_lists_each_clusters_monitoring(dev_plan: Plan) -> None:
    doc = dev_plan.to_json()
    by_cluster = {m["cluster"]: m for m in doc["monitoring"]}
    assert set(by_cluster) == {"us-central1-dev-1", "us-west-2-dev-aws"}
    assert by_cluster["us-central1-dev-1"]["stack"] == "gke-managed-prometheus"
    assert by_cluster["us-west-2-dev-aws"]["stack"] == "kube-prometheus-stack"
    assert "GpuXidError" in by_cluster["us-west-2-dev-aws"]["alerts"]
    assert "GpuXidError" not in by_cluster["us-central1-dev-1"]["alerts"]  # managed DCGM exports no XID
    assert "namespace:gpufleet_gpu_cost_usd_per_hour:sum" in by_cluster["us-central1-dev-1"]["records"]
    assert all(m["receivers"] == [] for m in doc["monitoring"])
    buf = io.StringIO()
    report.render(dev_plan, Console(file=buf, width=200, highlight=False))
    assert "Monitoring per cluster" in buf.getvalue()


def test_the_comment_shows_what_a_change_adds_and_never_a_secret(dev_plan: Plan, dev_doc: dict[str, Any],
                                                                   plan_doc: Any) -> None:
    base = dev_plan.to_json()
    plan = plan_doc(_with_receivers(dev_doc), "dev")
    md = report.markdown(plan, json.loads(json.dumps(base)))
    assert "- Monitoring changed: 2 clusters" in md  # the summary under the verdict
    line = next(ln for ln in md.splitlines() if ln.startswith("| `us-west-2-dev-aws` |"))
    assert "receivers added: `gpu-oncall`, `gpu-team`" in line
    assert SECURE["secure"] not in md and "hooks.slack.com" not in md
    # And back: the target branch had them, the change removes them.
    back = report.markdown(dev_plan, plan.to_json())
    assert "receivers removed: `gpu-oncall`, `gpu-team`" in back


def test_rules_and_stacks_added_or_removed_are_named(dev_plan: Plan, dev_doc: dict[str, Any],
                                                      plan_doc: Any) -> None:
    doc = copy.deepcopy(dev_doc)
    doc["config"]["gpu-fleet:observability"] = {"alerts": {"gpu_idle": {"enabled": False}}}
    md = report.markdown(plan_doc(doc, "dev"), dev_plan.to_json())
    assert md.count("alerts removed: `GpuIdle`") == 2
    base = dev_plan.to_json()
    base["monitoring"] = [m for m in base["monitoring"] if m["cluster"] != "us-west-2-dev-aws"]
    md = report.markdown(dev_plan, base)
    assert "| `us-west-2-dev-aws` | kube-prometheus-stack added: alerts `GpuUtilizationHigh`" in md
    assert "- Monitoring changed: 1 cluster" in md
    assert "<summary>Monitoring changed: none</summary>" in report.markdown(dev_plan, dev_plan.to_json())


def test_a_base_plan_without_monitoring_shows_the_state_without_a_delta(dev_plan: Plan) -> None:
    base = dev_plan.to_json()
    del base["monitoring"]
    md = report.markdown(dev_plan, base)
    assert "no monitoring section: no delta" in md
    assert "| `us-central1-dev-1` | gke-managed-prometheus | 12 | 8 | none | `exporter-absent` |" in md
    # dev's GKE cluster keeps managed DCGM and no stack has a dead man's switch: the plan says both.
    assert "us-central1-dev-1: no GPU hardware-health alert" in md and "no dead man's switch on" in md
