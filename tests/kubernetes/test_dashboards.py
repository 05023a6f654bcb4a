"""Issue 11 section 3: one dashboard definition, every query parses and names only metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import promql_parser
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.gcp.dashboard import COLUMNS, cloud_monitoring_dashboard
from components.kubernetes.monitoring import dashboards
from components.kubernetes.monitoring.budget_guard import COST_RULE
from components.kubernetes.monitoring.dashboard_configmap import (
    CONSOLE_NAMESPACE,
    GRAFANA_LABEL,
    openshift_console_dashboard,
)
from components.kubernetes.monitoring.dashboards import DCGM_EXPORTER, GKE_MANAGED, GPU_RULE, MetricLabels
from components.kubernetes.monitoring.rules import CLUSTER_COST_RULE
from gpufleet.report import Plan
from tests.support.plans import REFERENCE, ROOT, budgets_of, gke_of
from tests.support.small_stacks import one_gke_region

PROMTOOL = shutil.which("promtool")
RECORDING_RULES = {COST_RULE, GPU_RULE, CLUSTER_COST_RULE}
"""The cost recording rules of the observability rules (namespace: USD/h and GPUs allocated; cluster: every GPU)."""
OTHER_METRICS = {
    "ALERTS": "Prometheus' own series of pending and firing alerts",
    "kube_node_labels": "kube-state-metrics (kube-prometheus-stack ships it); node labels need its allow-list",
    "kube_node_status_allocatable": "kube-state-metrics: allocatable nvidia.com/gpu per node",
    "kubelet_node_name": "the kubelet's own (kubernetes pkg/kubelet/metrics), GKE's GPU node inventory (gmp.py)",
}
TEMPLATE_VARIABLES = {"$node": ".*", "$team": ".*"}


def exported_metrics() -> set[str]:
    """What dcgm-exporter 4.8.3 exports by default: the uncommented fields of both reference counter lists."""
    names: set[str] = set()
    for path in sorted((REFERENCE / "metrics").glob("dcgm-*.csv")):
        for line in path.read_text().splitlines():
            field = line.split(",")[0].strip()
            if field and not line.startswith("#") and line.split(",")[1].strip() != "label":
                names.add(field)
    return names


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def concrete(expr: str) -> str:
    for variable, value in TEMPLATE_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


ALL_LABELS = [DCGM_EXPORTER, GKE_MANAGED]


def every_query(labels: MetricLabels) -> list[str]:
    """Every query of every rendered form (Grafana with its filters, Cloud Monitoring without)."""
    grafana = dashboards.grafana_dashboard(labels, daily_budget_usd=50_000, thresholds=(0.7, 0.9))
    found = [t["expr"] for p in grafana["panels"] for t in p.get("targets", [])]
    monitoring = cloud_monitoring_dashboard(labels, environment="test")
    for tile in monitoring["mosaicLayout"]["tiles"]:
        widget = tile["widget"]
        for kind in ("xyChart", "timeSeriesTable"):
            found += [d["timeSeriesQuery"]["prometheusQuery"] for d in widget.get(kind, {}).get("dataSets", [])]
        if "scorecard" in widget:
            found.append(widget["scorecard"]["timeSeriesQuery"]["prometheusQuery"])
    return found


def test_the_sdk_is_the_pinned_grafana_12_build() -> None:
    """A plain install picks the 10.1 build (its epoch sorts first); the pin is Grafana `next`: schemaVersion 41."""
    assert metadata.version("grafana-foundation-sdk") == "1769699241"
    pin = re.search(r'"grafana-foundation-sdk==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin is not None and pin.group(1) == "1769699241"
    assert dashboards.grafana_dashboard(DCGM_EXPORTER)["schemaVersion"] == 41


@pytest.mark.parametrize("labels", ALL_LABELS, ids=["dcgm-exporter", "gke-managed"])
def test_every_query_parses_and_names_only_metrics_that_exist(labels: MetricLabels) -> None:
    known = exported_metrics() | RECORDING_RULES | set(OTHER_METRICS)
    assert "DCGM_FI_DEV_XID_ERRORS" in known and "DCGM_FI_PROF_NVLINK_TX_BYTES" not in known  # the lists as read
    queries = every_query(labels)
    assert len(queries) > 30
    for expr in queries:
        names = metric_names(concrete(expr))  # raises on a query that does not parse
        assert names, expr
        assert names <= known, (expr, names - known)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (CI installs Debian's `prometheus` package)")
def test_every_query_parses_with_promtool(tmp_path: Path) -> None:
    """Prometheus' own parser agrees: each query as a recording rule, `promtool check rules`."""
    queries = sorted({concrete(q) for labels in ALL_LABELS for q in every_query(labels)})
    rules = [{"record": f"gpu_fleet:dashboard_query_{i}", "expr": q} for i, q in enumerate(queries)]
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([str(PROMTOOL), "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_the_dashboard_covers_what_the_seeds_ask_for() -> None:
    """Fleet overview; per node and per team: utilisation, memory, temperature, power, PCIe, NVLink, XID; cost per
    team; spot vs on-demand; firing alerts (seeds 001, 002, 003)."""
    parts = {s.title: s for s in dashboards.sections(DCGM_EXPORTER)}
    assert list(parts) == ["Fleet overview", "Per node", "Per team (namespace)", "Cost", "Alerts"]
    needs = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
             "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
             "DCGM_FI_DEV_XID_ERRORS"}
    for section, by in (("Per node", "node"), ("Per team (namespace)", "namespace")):  # node: as the alerts
        exprs = [q.expr for p in parts[section].panels for q in p.queries]
        assert needs <= set().union(*(metric_names(concrete(e)) for e in exprs)), section
        assert all(by in e for e in exprs if "DCGM_" in e), section
    cost = [q.expr for p in parts["Cost"].panels for q in p.queries]
    assert any(COST_RULE in e and "by (namespace)" in e for e in cost)
    assert any("label_karpenter_sh_capacity_type" in e for e in cost)
    assert any("ALERTS" in q.expr for p in parts["Alerts"].panels for q in p.queries)


def test_the_spend_panel_turns_at_the_budgets_thresholds() -> None:
    grafana = dashboards.grafana_dashboard(DCGM_EXPORTER, daily_budget_usd=40_000, thresholds=(0.7, 0.9))
    (spend,) = [p for p in grafana["panels"] if p["title"] == "GPU spend in the last 24 hours"]
    steps = spend["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (28_000, "orange"), (36_000, "red")]


# --- the forms each platform gets ----------------------------------------------------------------------------


def test_eks_gets_a_grafana_configmap_beside_the_exporter(prod_plan: Plan) -> None:
    (config_map,) = [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:ConfigMap"
                     and r.inputs["metadata"].get("namespace") not in ("openshift-config-managed",
                                                                       "nvidia-gpu-operator")]
    meta = config_map.inputs["metadata"]
    assert meta["labels"][GRAFANA_LABEL[0]] == GRAFANA_LABEL[1] == "1"  # kube-prometheus-stack's sidecar label
    assert meta["labels"]["gpu-fleet/cluster"] == "us-east-1-ml-aws" and meta["namespace"] == "gpu-monitoring"
    sidecar = yaml.safe_load((REFERENCE / "charts/kube-prometheus-stack/values.yaml").read_text())["grafana"][
        "sidecar"]["dashboards"]
    assert (sidecar["label"], sidecar["labelValue"], sidecar["searchNamespace"]) == ("grafana_dashboard", "1", "ALL")
    body = json.loads(config_map.inputs["data"]["gpu-fleet-gpus.json"])
    assert body == json.loads(json.dumps(dashboards.grafana_dashboard(DCGM_EXPORTER)))
    assert config_map.name == "us-east-1-ml-aws-dashboard-gpus"


def test_gke_gets_one_cloud_monitoring_dashboard(prod_plan: Plan) -> None:
    (board,) = [r for r in prod_plan.resources if r.type == "gcp:monitoring/dashboard:Dashboard"]
    assert board.inputs["project"] == "acme-ml-prod"
    body = json.loads(board.inputs["dashboardJson"])
    assert body["displayName"] == "GPU fleet (prod)"
    assert {f["labelKey"] for f in body["dashboardFilters"]} == {"cluster", "location", "namespace", "node",
                                                                 "modelName"}
    tiles = [t for t in body["mosaicLayout"]["tiles"] if "collapsibleGroup" not in t["widget"]]
    cells: set[tuple[int, int]] = set()
    for t in tiles:
        assert t["xPos"] >= 0 and t["xPos"] + t["width"] <= COLUMNS, t
        mine = {(x, y) for x in range(t["xPos"], t["xPos"] + t["width"])
                for y in range(t["yPos"], t["yPos"] + t["height"])}
        assert not mine & cells, t["widget"]["title"]  # no two widgets overlap
        cells |= mine
    legends = {d.get("legendTemplate") for t in tiles for d in t["widget"].get("xyChart", {}).get("dataSets", [])}
    # Managed Prometheus keeps namespace on the monitored resource, node (target metadata) on the metric.
    assert {"${resource.labels.namespace}", "${metric.labels.node}"} <= legends
    (spend,) = [t["widget"]["scorecard"] for t in tiles if t["widget"]["title"] == "GPU spend in the last 24 hours"]
    assert [th["value"] for th in spend["thresholds"]] == [28_000, 36_000]  # GCP's 40,000 a day at 70% and 90%


def test_openshift_gets_a_console_dashboard_the_console_can_draw() -> None:
    body = dashboards.console_dashboard(DCGM_EXPORTER)
    types = {p["type"] for p in body["panels"]}
    assert types <= {"row", *dashboards.CONSOLE_PANEL_TYPES.values()}, types
    assert {p["title"] for p in body["panels"]} >= {"GPU temperature", "Last XID error per GPU", "Firing alerts"}

    created: dict[str, dict[str, Any]] = {}

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            created[args.typ] = args.inputs
            return f"{args.name}-id", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, []

    pulumi.runtime.set_mocks(Mocks(), preview=False)

    @pulumi.runtime.test
    def declare() -> pulumi.Output[Any]:
        provider = k8s.Provider("ocp-k8s", kubeconfig="{}")
        dashboard = openshift_console_dashboard("us-east-1-ocp-dashboard", cluster="us-east-1-ocp",
                                                provider=provider, labels=DCGM_EXPORTER)
        return dashboard.config_map_name.apply(lambda _: None)

    declare()
    config_map = created["kubernetes:core/v1:ConfigMap"]
    assert config_map["metadata"]["namespace"] == CONSOLE_NAMESPACE == "openshift-config-managed"
    assert config_map["metadata"]["labels"]["console.openshift.io/dashboard"] == "true"
    assert json.loads(config_map["data"]["gpu-fleet-gpus.json"]) == json.loads(json.dumps(body))


def test_dashboards_can_be_turned_off(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    prod_doc["config"]["gpu-fleet:dashboards"] = {"cloud_monitoring": False, "grafana": False,
                                                     "openshift_console": False}
    plan = plan_doc(one_gke_region(prod_doc), "prod")  # every platform's dashboards, one GKE region's worth
    assert not [r for r in plan.resources if "ashboard" in r.type]


# --- the plan and the review comment ---------------------------------------------------------------------------


def test_the_review_comment_lists_dashboards_and_budgets_a_change_adds_removes_or_changes(
        dev_plan: Plan, dev_doc: dict[str, Any], plan_doc: Any) -> None:
    from gpufleet import report

    # dev (183 resources, against the run's one plan of it) has each kind prod has: a Cloud Monitoring dashboard, an
    # EKS cluster's Grafana one, an AWS and a GCP budget; its GCP budget is its monthly_usd's share, so both move.
    budgets_of(dev_doc).update(daily_usd=600, monthly_usd=14_000)
    dev_doc["config"]["gpu-fleet:dashboards"]["grafana"] = False
    gke_of(dev_doc)["regions"][0]["clusters"][0]["addons"]["namespaces"].append({"name": "inference", "gpus": 2})
    budgets_of(dev_doc)["teams"] = [{"name": "inference", "daily_usd": 100}]
    plan = plan_doc(dev_doc, "dev")
    md = report.markdown(plan, dev_plan.to_json())
    section = md.split("**Dashboards and budgets changed**", 1)[1].split("\n\n**", 1)[0].split("<details>", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| cluster")]
    assert "| us-west-2-dev-aws | dashboard | Grafana dashboard `gpu-fleet-gpus` (gpu-monitoring) | removed |" in rows
    # AWS's share (0.15) of the daily budget, 600 (was 500), at budgets.aws.thresholds.
    assert ("| AWS account | budget | DAILY AWS budget 90.00 USD, alerts at 80%, 100% (actual) | changed (was: "
            "DAILY AWS budget 75.00 USD, alerts at 80%, 100% (actual)) |") in rows
    # A team's guard alerts at its default thresholds (80% and 100%) of its daily_usd.
    assert any("team inference: spend in 24 hours over 80.00 USD (80% of the daily budget) | added |" in r
               for r in rows)
    # GCP's share (0.85) of the monthly budget, 14,000 (was 12,000).
    assert any(r.startswith("| GCP billing account 01A2B3-C4D5E6-F7A8B9 | budget | monthly billing budget "
                            "11,900.00 USD") and "changed (was: monthly billing budget 10,200.00 USD" in r
               for r in rows)
    assert not any("Cloud Monitoring dashboard" in r for r in rows)  # unchanged: not listed
    # Without a base the comment lists what there is; an unchanged plan lists no change.
    assert "| us-west-2-dev-aws | dashboard | Grafana dashboard `gpu-fleet-gpus` (gpu-monitoring) |" in \
        report.markdown(dev_plan)
    assert "<summary>Dashboards and budgets: none changed" in report.markdown(dev_plan, dev_plan.to_json())
