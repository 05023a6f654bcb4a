"""The GPU fleet dashboard in Cloud Monitoring, for GKE: the shared definition rendered as a Monitoring dashboard.

GKE runs no Grafana: managed Prometheus keeps the metrics in Cloud Monitoring, whose dashboards query them with
PromQL (`timeSeriesQuery.prometheusQuery`) across every cluster of the project, filtered by cluster, location,
namespace and node. The layout follows Google's own DCGM dashboard (GoogleCloudPlatform/monitoring-dashboard-samples
`dashboards/nvidia-gpu/nvidia-dcgm-prometheus.json`): a 48-column mosaic, scorecards, xy charts and tables.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.kubernetes.monitoring.dashboards import TITLE, MetricLabels, Panel, sections

COLUMNS = 48
UNITS = {"percent": "%", "celsius": "Cel", "watt": "W", "mbytes": "MiBy", "Bps": "By/s", "currencyUSD": "USD",
         "short": ""}
"""Grafana unit ids -> Cloud Monitoring's unit overrides (UCUM)."""
RESOURCE_LABELS = frozenset({"project_id", "location", "cluster", "namespace", "job", "instance"})
"""Labels managed Prometheus keeps on the `prometheus_target` resource, not on the metric (legend templates
name them `${resource.labels.X}`)."""


def _legend(template: str) -> str:
    """A Grafana legend (`{{hostname}} TX`) as a Cloud Monitoring legend template (`${metric.labels.hostname} TX`)."""
    def label(match: re.Match[str]) -> str:
        key = match.group(1)
        return f"${{{'resource' if key in RESOURCE_LABELS else 'metric'}.labels.{key}}}"

    return re.sub(r"{{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*}}", label, template)


@dataclass(frozen=True)
class CloudMonitoringDashboardArgs:
    project: str
    labels: MetricLabels
    environment: str
    daily_budget_usd: float | None = None
    """GCP's part of the daily budget, for the spend scorecard's thresholds."""
    thresholds: tuple[float, ...] = ()


def _query(expr: str, unit: str) -> dict[str, Any]:
    return {"prometheusQuery": expr, "unitOverride": UNITS.get(unit, "")}


def _widget(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        scorecard: dict[str, Any] = {"timeSeriesQuery": {**_query(panel.queries[0].expr, panel.unit),
                                                         "outputFullDuration": True}}
        if panel.thresholds:
            scorecard["thresholds"] = [{"value": v, "color": c, "direction": "ABOVE"}
                                       for v, c in zip(panel.thresholds, ("YELLOW", "RED"), strict=False)]
        return {"title": panel.title, "scorecard": scorecard}
    data_sets = [{"timeSeriesQuery": _query(q.expr, panel.unit), "plotType": "LINE", "targetAxis": "Y1",
                  **({"legendTemplate": _legend(q.legend)} if q.legend else {})} for q in panel.queries]
    if panel.kind == "table":
        return {"title": panel.title, "timeSeriesTable": {"dataSets": [
            {"timeSeriesQuery": d["timeSeriesQuery"]} for d in data_sets]}}
    return {"title": panel.title, "xyChart": {"dataSets": data_sets, "yAxis": {"scale": "LINEAR"},
                                              "chartOptions": {"mode": "COLOR"}}}


def cloud_monitoring_dashboard(labels: MetricLabels, *, environment: str, daily_budget_usd: float | None = None,
                               thresholds: tuple[float, ...] = ()) -> dict[str, Any]:
    """The dashboard as Cloud Monitoring's JSON (`projects.dashboards`), one collapsible group per section."""
    tiles: list[dict[str, Any]] = []
    y = 0
    for section in sections(labels, daily_budget_usd=daily_budget_usd, thresholds=thresholds):
        group = {"xPos": 0, "yPos": y, "width": COLUMNS, "height": 0,
                 "widget": {"title": section.title, "collapsibleGroup": {"collapsed": False}}}
        tiles.append(group)
        x, row_height, top = 0, 0, y
        for panel in section.panels:
            width, height = panel.width * COLUMNS // 24, 8 if panel.kind == "stat" else 16
            if x + width > COLUMNS:
                y, x, row_height = y + row_height, 0, 0
            tiles.append({"xPos": x, "yPos": y, "width": width, "height": height, "widget": _widget(panel)})
            x, row_height = x + width, max(row_height, height)
        y += row_height
        group["height"] = y - top
    filters = [{"filterType": "RESOURCE_LABEL", "labelKey": "cluster"},
               {"filterType": "RESOURCE_LABEL", "labelKey": "location"},
               {"filterType": "RESOURCE_LABEL", "labelKey": "namespace"},
               {"filterType": "METRIC_LABEL", "labelKey": labels.node},
               {"filterType": "METRIC_LABEL", "labelKey": "modelName"}]
    return {"displayName": f"{TITLE} ({environment})", "dashboardFilters": filters,
            "mosaicLayout": {"columns": COLUMNS, "tiles": tiles}}


class CloudMonitoringDashboard(pulumi.ComponentResource):
    dashboard_id: pulumi.Output[str]

    def __init__(self, name: str, args: CloudMonitoringDashboardArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:gcp:Dashboard", name, None, opts)
        board = gcp.monitoring.Dashboard(
            f"{name}-gpus",
            project=args.project,
            dashboard_json=json.dumps(cloud_monitoring_dashboard(
                args.labels, environment=args.environment, daily_budget_usd=args.daily_budget_usd,
                thresholds=args.thresholds), sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_id = board.id
        self.register_outputs({"dashboard_id": self.dashboard_id})
