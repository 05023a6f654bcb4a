"""The dashboard composer for the project-wide form: GKE's Cloud Monitoring dashboard.

EKS clusters get theirs in `infra.eks`, beside the exporter whose metrics they show.
"""

from __future__ import annotations

from components.config.model import Fleet
from components.gcp.dashboard import CloudMonitoringDashboard, CloudMonitoringDashboardArgs
from components.kubernetes.monitoring.dashboards import GKE_MANAGED


def compose(fleet: Fleet, *, project: str) -> None:
    """Declare the GKE dashboard when the stack has GKE clusters and asks for it."""
    if fleet.dashboards is None or not fleet.dashboards.cloud_monitoring or fleet.gke is None:
        return
    budgets = fleet.budgets
    daily = budgets.share("gcp") * budgets.daily_usd if budgets and budgets.gcp and budgets.daily_usd else None
    CloudMonitoringDashboard("dashboard-gke", CloudMonitoringDashboardArgs(
        project=project, labels=GKE_MANAGED, environment=fleet.environment, daily_budget_usd=daily,
        thresholds=tuple(budgets.thresholds) if budgets else ()))
