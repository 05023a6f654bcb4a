"""Issue 8 section 6: the plan records ordering, and reads honestly (n/a for unpriced, counts as counts)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from gpufleet import cli, report
from gpufleet.report import Plan
from tests.support.plans import gke_of, gke_only


def test_every_resource_records_its_dependencies(dev_plan: Plan) -> None:
    doc = dev_plan.to_json()
    urns = {r["urn"] for r in doc["resources"]}
    for r in doc["resources"]:
        assert r["dependencies"] == sorted(r["dependencies"]), r["urn"]
        assert set(r["dependencies"]) <= urns, r["urn"]
    pools = [r for r in doc["resources"] if r["type"] == "gcp:container/nodePool:NodePool"]
    clusters = {r["urn"] for r in doc["resources"] if r["type"] == "gcp:container/cluster:Cluster"}
    assert pools and all(set(p["dependencies"]) & clusters for p in pools)


def _render(plan: Plan) -> str:
    buf = io.StringIO()
    report.render(plan, Console(file=buf, width=200, highlight=False))
    return buf.getvalue()


def test_unpriced_pools_show_n_a_never_zero_dollars(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"].append(
        {"name": "h200", "machine_type": "a3-ultragpu-8g", "capacity": "spot", "zones": ["us-central1-b"],
         "disk_type": "hyperdisk-balanced", "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 1}})
    plan = plan_doc(gke_only(dev_doc))  # dev's GKE side: the unpriced pool and every other one it counts are GKE's
    text = _render(plan)
    (row,) = [ln for ln in text.splitlines() if "h200-141gb" in ln and "us-central1" in ln and "│" in ln
              and "a3-ultragpu" not in ln]
    assert "n/a" in row and "$0.00" not in row, row
    md = report.markdown(plan)
    (mrow,) = [ln for ln in md.splitlines() if ln.startswith("| us-central1 | h200-141gb |")]
    assert "n/a" in mrow and "$0.00" not in mrow, mrow
    assert "1 pool has no price" in " ".join(text.split())


def test_counts_read_as_counts(dev_plan: Plan, tmp_path: Path) -> None:
    text = " ".join(_render(dev_plan).split())
    assert "0-4 nodes" in text and "0-2 nodes" in text
    base = tmp_path / "base.json"
    doc = dev_plan.to_json()
    doc["capacity"] = doc["capacity"][:-1]  # the base lacks one of dev's pools
    base.write_text(json.dumps(doc))
    md = report.markdown(dev_plan, json.loads(base.read_text()))
    assert "- GPU pools changed: 1 pool (1 added)" in md  # the summary under the verdict
    assert cli.EXIT_OK == 0
