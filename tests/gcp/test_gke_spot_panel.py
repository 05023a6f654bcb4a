"""GKE's spot / on-demand panel reads what GKE really has: gpu-fleet's kubelet node inventory, split by the
`cloud.google.com/gke-spot` node label (GKE exports no node kube-state-metrics; observability-review.md §9)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from components.gcp.dashboard import cloud_monitoring_dashboard
from components.kubernetes.monitoring import dashboards
from components.kubernetes.monitoring.dashboards import GKE_MANAGED
from components.kubernetes.monitoring.gmp import CAPACITY_LABEL, GKE_SPOT_LABEL, gpu_node_inventory_monitoring
from gpufleet.report import Plan
from tests.support.promtool import PROMTOOL, needs_promtool

PANEL = "GPUs on spot and on-demand nodes"


def _spot_query() -> str:
    (panel,) = [p for s in dashboards.sections(GKE_MANAGED) for p in s.panels if p.title == PANEL]
    (query,) = panel.queries
    return query.expr


def test_the_inventory_splits_gpu_nodes_on_the_spot_label() -> None:
    on_demand, spot = gpu_node_inventory_monitoring(), gpu_node_inventory_monitoring(spot=True)
    assert on_demand["metadata"]["name"] == "gpufleet-gpu-nodes"  # the object the heartbeat rule already reads
    assert {"key": GKE_SPOT_LABEL, "operator": "DoesNotExist"} in on_demand["spec"]["selector"]["matchExpressions"]
    assert {"key": GKE_SPOT_LABEL, "operator": "In", "values": ["true"]} in \
        spot["spec"]["selector"]["matchExpressions"]
    stamped = {obj["metadata"]["name"]: {r["targetLabel"]: r["replacement"] for r in
                                         obj["spec"]["endpoints"][0]["metricRelabeling"] if "targetLabel" in r}
               for obj in (on_demand, spot)}
    assert stamped == {"gpufleet-gpu-nodes": {"gpu_fleet_inventory": "gpu", CAPACITY_LABEL: "on-demand"},
                       "gpufleet-gpu-nodes-spot": {"gpu_fleet_inventory": "gpu", CAPACITY_LABEL: "spot"}}
    # The panel groups by the label the inventory stamps, and it is in the Cloud Monitoring dashboard.
    assert f"count by ({CAPACITY_LABEL})" in _spot_query()
    tiles = cloud_monitoring_dashboard(GKE_MANAGED, environment="test")["mosaicLayout"]["tiles"]
    assert any(t["widget"].get("title") == PANEL for t in tiles)


@needs_promtool
def test_the_panel_counts_each_gpu_once_by_capacity(tmp_path: Path) -> None:
    """8 H100 on a spot node, one L4 on an on-demand node shared by two pods (two series, one GPU)."""
    assert PROMTOOL is not None
    inputs = [
        {"series": 'kubelet_node_name{node="spot-a", gpu_fleet_inventory="gpu", gpu_fleet_capacity="spot"}',
         "values": "1x10"},
        {"series": 'kubelet_node_name{node="od-b", gpu_fleet_inventory="gpu", gpu_fleet_capacity="on-demand"}',
         "values": "1x10"},
        *({"series": f'DCGM_FI_DEV_FB_USED{{node="spot-a", gpu="{i}", namespace="research", pod="train"}}',
           "values": "1000x10"} for i in range(8)),
        *({"series": f'DCGM_FI_DEV_GPU_UTIL{{node="od-b", gpu="0", namespace="serve", pod="{pod}"}}',
           "values": "50x10"} for pod in ("a", "b")),
    ]
    test = {"interval": "1m", "input_series": inputs, "promql_expr_test": [{
        "expr": _spot_query(), "eval_time": "5m",
        "exp_samples": [{"labels": '{gpu_fleet_capacity="spot"}', "value": 8},
                        {"labels": '{gpu_fleet_capacity="on-demand"}', "value": 1}]}]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": []}))
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]}))
    done = subprocess.run([PROMTOOL, "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dev_plans_both_inventories(dev_plan: Plan) -> None:
    names = {r.inputs["metadata"]["name"]: r.name for r in dev_plan.resources
             if r.type == "kubernetes:monitoring.googleapis.com/v1:ClusterNodeMonitoring"
             and r.inputs["metadata"]["name"].startswith("gpufleet-gpu-nodes")}
    assert names == {"gpufleet-gpu-nodes": "us-central1-dev-1-monitoring-gpu-nodes",
                     "gpufleet-gpu-nodes-spot": "us-central1-dev-1-monitoring-gpu-nodes-spot"}
