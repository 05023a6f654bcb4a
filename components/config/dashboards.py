"""What a stack may say about dashboards (`gpu-fleet:dashboards`): which platforms get the GPU fleet dashboard."""

from __future__ import annotations

from components.config.base import Strict


class Dashboards(Strict):
    """The GPU fleet dashboard, one definition, in each platform's own form."""

    cloud_monitoring: bool = True
    """GKE: one Cloud Monitoring dashboard over every GKE cluster of the project (GKE runs no Grafana)."""
    grafana: bool = True
    """EKS: a ConfigMap for kube-prometheus-stack's Grafana sidecar in each cluster that runs dcgm-exporter."""
    openshift_console: bool = True
    """OpenShift: a console dashboard (openshift-config-managed) in each cluster."""
