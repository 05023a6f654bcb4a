"""The GPU fleet dashboard, defined once: sections of panels, each a title, PromQL queries and a unit.

Rendered three ways from this one definition: Grafana JSON built with grafana-foundation-sdk (shipped as a
ConfigMap that kube-prometheus-stack's Grafana sidecar loads), OpenShift console JSON (the legacy Grafana panel
types the console draws), and, in the GCP wing, a Cloud Monitoring dashboard. Every query names only metrics
dcgm-exporter exports by default (`../shared/reference/metrics`), the cost recording rules, Prometheus' own
`ALERTS`, and two kube-state-metrics series for the spot / on-demand split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models.common import DataSourceRef

from components.kubernetes.monitoring.budget_guard import COST_RULE, spend_24h
from components.kubernetes.monitoring.rules import CLUSTER_COST_RULE

GPU_RULE = "namespace:gpufleet_gpu_allocated:sum"
"""Recording rule (observability rules): GPUs allocated in each namespace."""
UID = "gpu-fleet-gpus"
TITLE = "GPU fleet"
TAGS = ["gpu", "dcgm", "gpu-fleet"]
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
GRID_WIDTH = 24


@dataclass(frozen=True)
class MetricLabels:
    """How the GPUs' metrics name their node, the workload's namespace and the node's capacity type."""

    node: str
    """The node label the alerts carry and the per-node panels filter on (one goes from an alert to its node)."""
    namespace: str
    """The workload's namespace: `namespace` on GKE managed DCGM, `exported_namespace` when a ServiceMonitor
    or PodMonitoring scrapes the exporter with honorLabels false (the exporter's own namespace wins)."""
    capacity: str | None
    """The label for spot vs on-demand: kube-state-metrics' `kube_node_labels` one, or on GKE (whose managed
    kube-state-metrics covers pods and workloads, not nodes) the one gpu-fleet's kubelet inventory stamps; None:
    no panel."""
    kubelet_inventory: bool = False
    """The capacity label is on gpu-fleet's GKE node inventory (`kubelet_node_name`), not on kube-state-metrics."""


NODE = "node"
"""Every platform's scrape names the node `node`: the ServiceMonitors' relabeling (prometheus_stack.
SCRAPE_RELABELINGS; the GPU Operator's on OpenShift gets the same) and the GKE exporter path's ClusterPodMonitoring
target metadata; the alerts key on it (rules `_NODE`). dcgm-exporter's own `hostname` (4.8.3, `Hostname` before
#655) is the exporter pod's view and differs between versions."""
GPU = f"{NODE}, gpu"
"""One physical GPU: its node and index. Time-shared GPUs repeat the series per pod and MIG instances carry their
parent's index (dcgm-exporter render_metrics.go @d5e5f51), so counting by these counts each GPU once."""

DCGM_EXPORTER = MetricLabels(node=NODE, namespace="namespace", capacity="label_karpenter_sh_capacity_type")
"""dcgm-exporter 4.8.3 on EKS, scraped by gpu-fleet's ServiceMonitors, whose relabelings drop the target's
`namespace` so the workload's keeps its name (prometheus_stack.SCRAPE_RELABELINGS). Karpenter labels its nodes
`karpenter.sh/capacity-type`, which the stack's kube-state-metrics allow-lists (prometheus_stack
`KSM_NODE_LABELS`)."""
OPENSHIFT = MetricLabels(node=NODE, namespace="namespace", capacity="label_gpu_fleet_capacity")
"""The GPU Operator's dcgm-exporter on OpenShift. Platform kube-state-metrics exports every node label
(`--metric-labels-allowlist=...nodes=[*]`, openshift/cluster-monitoring-operator `assets/kube-state-metrics/
deployment.yaml`), and gpu-fleet's MachineSets label GPU nodes `gpu-fleet/capacity` (openshift/machines.py)."""
GKE_MANAGED = MetricLabels(node=NODE, namespace="namespace", capacity="gpu_fleet_capacity", kubelet_inventory=True)
"""GKE (managed DCGM or the exporter path): no node kube-state-metrics; the spot / on-demand split reads the kubelet
inventory gpu-fleet scrapes from GPU nodes, one ClusterNodeMonitoring for nodes with `cloud.google.com/gke-spot`
and one for those without, each stamping `gpu_fleet_capacity` (gmp.gpu_node_inventory_monitoring)."""


GPU_SERIES = "DCGM_FI_DEV_GPU_UTIL or DCGM_FI_DEV_FB_USED"
"""Series every GPU reports (MIG instances leave utilisation blank, not memory)."""
IDLE_GPUS = (f'count((max by ({GPU}) (max_over_time(DCGM_FI_DEV_GPU_UTIL{{GPU_I_ID=""}}[30m])) < 5) or '
             f'(max by ({GPU}) (max_over_time(DCGM_FI_PROF_GR_ENGINE_ACTIVE{{GPU_I_ID!=""}}[30m])) < 0.05)) '
             "or vector(0)")
"""GPUs under 5% for 30 minutes, once each: whole GPUs by utilisation, MIG GPUs by their instances' graphics
engine activity (a 0-1 ratio; utilisation is not reported on MIG, NVIDIA/dcgm-exporter#216)."""

@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    """A Grafana unit id (percent, celsius, watt, mbytes, Bps, currencyUSD, short)."""
    kind: str = "timeseries"
    """timeseries, stat or table."""
    width: int = 12
    """Of Grafana's 24 columns."""
    description: str = ""
    thresholds: tuple[float, ...] = ()
    """Values where a stat turns orange, then red (a budget's warning shares)."""


@dataclass(frozen=True)
class Section:
    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def sections(labels: MetricLabels, *, node_filter: str = "", namespace_filter: str = "",
             daily_budget_usd: float | None = None, thresholds: tuple[float, ...] = ()) -> list[Section]:
    """The dashboard: fleet overview, per node, per team, cost, alerts.

    `node_filter` / `namespace_filter` are selector matchers added to per-node and per-team queries (Grafana's
    `hostname=~"$node"`); Cloud Monitoring filters with dashboard filters instead and passes none.
    """
    n, ns = labels.node, labels.namespace
    node = "{" + node_filter + "}" if node_filter else ""
    team = "{" + ", ".join(m for m in (f'{ns}!=""', namespace_filter) if m) + "}"
    cost_team = "{" + namespace_filter.replace(f"{ns}=~", "namespace=~") + "}" if namespace_filter else ""
    budget = tuple(round(t * daily_budget_usd, 2) for t in thresholds) if daily_budget_usd else ()
    return [
        _fleet_overview(budget=budget),
        _per_node(n, node=node),
        _per_team(ns, team=team, cost_team=cost_team),
        _cost(labels, cost_team=cost_team),
        _alerts(),
    ]


def _fleet_overview(*, budget: tuple[float, ...]) -> Section:
    """Counts, averages and spend across the fleet; `budget` are the 24-hour spend stat's thresholds in USD."""
    return Section("Fleet overview", (
        Panel("GPUs reporting", (Query(f"count(count by ({GPU}) ({GPU_SERIES}))"),), kind="stat", width=4,
              description="Physical GPUs (a time-shared GPU or a MIG GPU once)."),
        Panel("Average GPU utilisation", (Query("avg(DCGM_FI_DEV_GPU_UTIL)"),), unit="percent", kind="stat",
              width=4),
        Panel("Idle GPUs (under 5% for 30 minutes)",
              (Query(IDLE_GPUS),), kind="stat", width=4,
              description="Paid for and unused: seed 002/003's idle threshold (a MIG GPU when all its instances "
                          "are idle)."),
        Panel("GPU cost now", (Query(f"sum({CLUSTER_COST_RULE})"),), unit="currencyUSD", kind="stat", width=4,
              description="USD per hour of every GPU paid for, held by a pod or idle, at the catalog's prices "
                          "(cost recording rule)."),
        Panel("GPU spend in the last 24 hours", (Query(spend_24h()),), unit="currencyUSD", kind="stat", width=4,
              thresholds=budget,
              description="Turns orange and red at the daily budget's warning shares (gpu-fleet:budgets)."),
        Panel("Firing GPU alerts", (Query('count(ALERTS{alertstate="firing", alertname=~"Gpu.*"}) or vector(0)'),),
              kind="stat", width=4),
        Panel("GPU utilisation by GPU model",
              (Query("avg by (modelName) (DCGM_FI_DEV_GPU_UTIL)", "{{modelName}}"),), unit="percent", width=12),
        Panel("GPU memory used by GPU model",
              (Query("100 * sum by (modelName) (DCGM_FI_DEV_FB_USED) / sum by (modelName) "
                     "(DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)", "{{modelName}}"),), unit="percent", width=12),
    ))


def _per_node(n: str, *, node: str) -> Section:
    """Per-node panels, by the node label `n`; `node` is the selector the dashboard's node filter adds."""
    per_gpu = f"{n}, gpu"
    return Section("Per node", (
        Panel("GPU utilisation", (Query(f"avg by ({n}) (DCGM_FI_DEV_GPU_UTIL{node})", f"{{{{{n}}}}}"),),
              unit="percent"),
        Panel("GPU memory used",
              (Query(f"100 * sum by ({n}) (DCGM_FI_DEV_FB_USED{node}) / sum by ({n}) "
                     f"(DCGM_FI_DEV_FB_USED{node} + DCGM_FI_DEV_FB_FREE{node})", f"{{{{{n}}}}}"),),
              unit="percent"),
        Panel("GPU temperature", (Query(f"max by ({per_gpu}) (DCGM_FI_DEV_GPU_TEMP{node})",
                                        f"{{{{{n}}}}} GPU {{{{gpu}}}}"),), unit="celsius"),
        Panel("GPU power", (Query(f"sum by ({n}) (DCGM_FI_DEV_POWER_USAGE{node})", f"{{{{{n}}}}}"),),
              unit="watt"),
        Panel("PCIe throughput",
              (Query(f"sum by ({n}) (DCGM_FI_PROF_PCIE_TX_BYTES{node})", f"{{{{{n}}}}} TX"),
               Query(f"sum by ({n}) (DCGM_FI_PROF_PCIE_RX_BYTES{node})", f"{{{{{n}}}}} RX")), unit="Bps"),
        Panel("NVLink bandwidth (all links)",
              (Query(f"sum by ({n}) (DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL{node})", f"{{{{{n}}}}}"),),
              description="DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL, a gauge from dcgm-exporter 4.8.3."),
        Panel("Last XID error per GPU", (Query(f"max by ({per_gpu}) (DCGM_FI_DEV_XID_ERRORS{node}) > 0",
                                               f"{{{{{n}}}}} GPU {{{{gpu}}}}"),),
              kind="table", width=24,
              description="The last XID code each GPU reported (the gauge keeps it until the exporter restarts)."),
    ))


def _per_team(ns: str, *, team: str, cost_team: str) -> Section:
    """Per-namespace panels, by the workload's namespace label `ns`.

    `team` and `cost_team` select the namespaces on the GPU series and on the recording rules (which name it
    `namespace`).
    """
    return Section("Per team (namespace)", (
        Panel("GPUs allocated", (Query(f"sum by (namespace) ({GPU_RULE}{cost_team})", "{{namespace}}"),)),
        Panel("GPU utilisation", (Query(f"avg by ({ns}) (DCGM_FI_DEV_GPU_UTIL{team})", f"{{{{{ns}}}}}"),),
              unit="percent"),
        Panel("GPU memory used",
              (Query(f"100 * sum by ({ns}) (DCGM_FI_DEV_FB_USED{team}) / sum by ({ns}) "
                     f"(DCGM_FI_DEV_FB_USED{team} + DCGM_FI_DEV_FB_FREE{team})", f"{{{{{ns}}}}}"),),
              unit="percent"),
        Panel("GPU temperature (hottest)", (Query(f"max by ({ns}) (DCGM_FI_DEV_GPU_TEMP{team})",
                                                  f"{{{{{ns}}}}}"),), unit="celsius"),
        Panel("GPU power", (Query(f"sum by ({ns}) (DCGM_FI_DEV_POWER_USAGE{team})", f"{{{{{ns}}}}}"),),
              unit="watt"),
        Panel("PCIe throughput",
              (Query(f"sum by ({ns}) (DCGM_FI_PROF_PCIE_TX_BYTES{team})", f"{{{{{ns}}}}} TX"),
               Query(f"sum by ({ns}) (DCGM_FI_PROF_PCIE_RX_BYTES{team})", f"{{{{{ns}}}}} RX")), unit="Bps"),
        Panel("NVLink bandwidth (all links)",
              (Query(f"sum by ({ns}) (DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL{team})", f"{{{{{ns}}}}}"),)),
        Panel("GPUs with an XID error",
              (Query(f"count by ({ns}) (DCGM_FI_DEV_XID_ERRORS{team} > 0)", f"{{{{{ns}}}}}"),)),
    ))


def _cost(labels: MetricLabels, *, cost_team: str) -> Section:
    """Cost per team at the catalog's prices, and the spot / on-demand split where the labels have it."""
    return Section("Cost", (
        Panel("GPU cost per team", (Query(f"sum by (namespace) ({COST_RULE}{cost_team})", "{{namespace}}"),),
              unit="currencyUSD", description="USD per hour at the catalog's prices (the plan's numbers)."),
        Panel("GPU spend per team, last 24 hours",
              (Query(f"sum by (namespace) (sum_over_time({COST_RULE}{cost_team}[24h:1m])) / 60",
                     "{{namespace}}"),), unit="currencyUSD"),
        *_capacity_panels(labels),
    ))


def _alerts() -> Section:
    """What is firing."""
    return Section("Alerts", (
        Panel("Firing alerts", (Query('sum by (alertname, severity) (ALERTS{alertstate="firing"})'),),
              kind="table", width=24),
    ))


def _capacity_panels(labels: MetricLabels) -> tuple[Panel, ...]:
    """The spot / on-demand split, where kube-state-metrics reports the node's capacity label."""
    if labels.capacity is None:
        return ()
    cap = labels.capacity
    if labels.kubelet_inventory:
        # Each GPU once (by node and index), joined to its node's stamped capacity type.
        gpus = (f"count by ({cap}) (count by ({GPU}) ({GPU_SERIES}) * on ({NODE}) group_left ({cap}) "
                f'max by ({NODE}, {cap}) (kubelet_node_name{{gpu_fleet_inventory="gpu"}}))')
        what = "GPUs reporting DCGM, by their node's `cloud.google.com/gke-spot` label (gpu-fleet's node inventory)."
    else:
        gpus = (f'sum by ({cap}) (kube_node_status_allocatable{{resource="nvidia_com_gpu"}} '
                f"* on (node) group_left ({cap}) kube_node_labels)")
        what = "Allocatable GPUs by the node's capacity-type label (kube-state-metrics)."
    return (Panel("GPUs on spot and on-demand nodes", (Query(gpus, f"{{{{{cap}}}}}"),), width=24,
                  description=what),)


def queries(parts: list[Section]) -> list[str]:
    """Every PromQL expression of the dashboard (for the checks in tests)."""
    return [q.expr for s in parts for p in s.panels for q in p.queries]


# --- Grafana (grafana-foundation-sdk) ------------------------------------------------------------------------


def _target(query: Query, ref: str) -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(query.expr).ref_id(ref).datasource(DATASOURCE)
    return target.legend_format(query.legend) if query.legend else target


def _grafana_panel(panel: Panel) -> Any:
    builder: Any
    if panel.kind == "stat":
        builder = stat.Panel()
    elif panel.kind == "table":
        builder = table.Panel()
    else:
        builder = timeseries.Panel()
    builder = builder.title(panel.title).unit(panel.unit).span(panel.width).height(4 if panel.kind == "stat" else 8)
    builder = builder.datasource(DATASOURCE)
    if panel.description:
        builder = builder.description(panel.description)
    if panel.thresholds:
        steps = [dashboard_model.Threshold(color="green")]
        steps += [dashboard_model.Threshold(value=v, color=c)
                  for v, c in zip(panel.thresholds, ("orange", "red"), strict=False)]
        builder = builder.thresholds(
            dashboard.ThresholdsConfig().mode(dashboard_model.ThresholdsMode.ABSOLUTE).steps(steps))
    if panel.unit == "percent" and panel.kind != "table":
        builder = builder.min(0).max(100)
    for i, query in enumerate(panel.queries):
        builder = builder.with_target(_target(query, chr(ord("A") + i)))
    return builder


def grafana_dashboard(labels: MetricLabels, *, daily_budget_usd: float | None = None,
                      thresholds: tuple[float, ...] = ()) -> dict[str, Any]:
    """The dashboard as Grafana JSON (the `next` builds' model: Grafana 12 and later)."""
    parts = sections(labels, node_filter=f'{labels.node}=~"$node"', namespace_filter=f'{labels.namespace}=~"$team"',
                     daily_budget_usd=daily_budget_usd, thresholds=thresholds)
    board = (
        dashboard.Dashboard(TITLE).uid(UID).tags(TAGS).refresh("1m").time("now-6h", "now").timezone("utc")
        .description("GPU utilisation, memory, temperature, power, PCIe/NVLink and XID errors per node and per "
                     "team, GPU cost per team, spot vs on-demand, firing alerts (gpu-fleet)")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(dashboard.QueryVariable("node").label("Node").datasource(DATASOURCE)
                       .query(f"label_values(DCGM_FI_DEV_GPU_UTIL, {labels.node})").multi(True).include_all(True)
                       .all_value(".*"))
        .with_variable(dashboard.QueryVariable("team").label("Team").datasource(DATASOURCE)
                       .query(f"label_values({COST_RULE}, namespace)").multi(True).include_all(True).all_value(".*"))
    )
    for section in parts:
        board = board.with_row(dashboard.Row(section.title))
        for panel in section.panels:
            board = board.with_panel(_grafana_panel(panel))
    built: dict[str, Any] = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    return built


# --- OpenShift console ---------------------------------------------------------------------------------------

CONSOLE_PANEL_TYPES = {"timeseries": "graph", "stat": "singlestat", "table": "table"}
"""The console draws only gauge, grafana-piechart-panel, graph, singlestat and table panels (and rows);
openshift/monitoring-plugin `web/src/components/dashboards/legacy/legacy-dashboard.tsx` drops any other."""


def console_dashboard(labels: MetricLabels) -> dict[str, Any]:
    """The same dashboard in the form the OpenShift console renders: legacy panel types, units on `yaxes`."""
    grafana = grafana_dashboard(labels)
    panels: list[dict[str, Any]] = []
    for number, p in enumerate(grafana["panels"], start=1):
        if p["type"] == "row":
            panels.append({"type": "row", "title": p["title"], "collapsed": False, "panels": [], "id": number,
                           "gridPos": p["gridPos"]})
            continue
        kind = {"timeseries": "timeseries", "stat": "stat", "table": "table"}[p["type"]]
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        panels.append({
            "id": number, "title": p["title"], "type": CONSOLE_PANEL_TYPES[kind], "gridPos": p["gridPos"],
            "span": max(1, p["gridPos"]["w"] // 2), "datasource": None,
            "targets": [{"expr": t["expr"], "legendFormat": t.get("legendFormat", ""), "refId": t["refId"]}
                        for t in p["targets"]],
            "yaxes": [{"format": unit, "show": True}, {"format": "short", "show": False}],
            "legend": {"show": kind == "timeseries"}, "format": unit, "description": p.get("description", ""),
        })
    variables = [v for v in grafana["templating"]["list"] if v["type"] == "query"]
    for v in variables:
        v.pop("datasource", None)  # the console queries its own Prometheus (Thanos querier)
    return {"uid": UID, "title": TITLE, "tags": TAGS, "schemaVersion": 22, "editable": False,
            "time": grafana["time"], "refresh": grafana["refresh"], "templating": {"list": variables},
            "panels": panels}
