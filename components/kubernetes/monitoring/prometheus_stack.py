"""kube-prometheus-stack for clusters without a managed Prometheus (EKS), with gpu-fleet's rules and receivers.

Prometheus, Alertmanager and Grafana from the pinned chart, the GPU rules as a PrometheusRule, and Alertmanager's
configuration from the stack's receivers.

Prometheus selects every ServiceMonitor, PodMonitor and PrometheusRule in every namespace: the chart's default
selects only objects labelled `release: <release>`, the first pitfall users hit (prometheus-community/helm-charts
#1631, NVIDIA/gpu-operator#363). Alertmanager reads its configuration from a Secret gpu-fleet writes from Pulumi
secrets (`useExistingSecret`), so no credential ever sits in the Helm values. Grafana's dashboard sidecar loads
ConfigMaps labelled `grafana_dashboard: "1"` from every namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images, versions
from components.config.addons import MONITORING_NAMESPACE
from components.config.observability import Receiver
from components.kubernetes.conventions import LABEL_CLUSTER
from components.kubernetes.monitoring.alertmanager import config_yaml
from components.kubernetes.monitoring.rules import RuleGroup, monitoring_outputs, prometheus_rule, rule_names

STACK = "kube-prometheus-stack"
FULLNAME = "kube-prometheus-stack"
"""The chart's fullname (fullnameOverride): it names the Alertmanager object, hence its config Secret."""
ALERTMANAGER_SECRET = f"alertmanager-{FULLNAME}-alertmanager"
"""The Prometheus Operator's default `configSecret`: `alertmanager-<Alertmanager name>`, the Alertmanager being
`<fullname>-alertmanager` (chart templates/_helpers.tpl, `kube-prometheus-stack.alertmanager.crname`)."""
RULES_NAME = "gpufleet-gpu"
DASHBOARD_LABEL = ("grafana_dashboard", "1")
"""ConfigMaps with this label, in any namespace, are Grafana dashboards (the sidecar's defaults, kept explicit)."""
SCRAPE_RELABELINGS: list[dict[str, Any]] = [
    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"},
    {"regex": "namespace|pod|container", "action": "labeldrop"},
]
"""Target relabelings for a DCGM exporter's ServiceMonitor: a `node` label, and no target `namespace`/`pod`/
`container`, so DCGM's own (the workload's) keep their names instead of becoming `exported_*`. The Prometheus
Operator appends these after its own relabelings (pkg/prometheus/promcfg.go, generateServiceMonitorConfig)."""


MANAGED_CONTROL_PLANE_OFF: dict[str, Any] = {
    "defaultRules": {"rules": {"etcd": False, "kubeControllerManager": False, "kubeSchedulerAlerting": False,
                               "kubeSchedulerRecording": False, "kubeProxy": False}},
    "kubeControllerManager": {"enabled": False},
    "kubeScheduler": {"enabled": False},
    "kubeEtcd": {"enabled": False},
    "kubeProxy": {"enabled": False},
}
"""What a managed control plane cannot serve, off: EKS exposes no controller-manager, scheduler or etcd metrics and
its kube-proxy binds metrics to 127.0.0.1 (prometheus-community/helm-charts#4106, aws/containers-roadmap#1298), so
the chart's `absent(up{job=...})` rules (`KubeControllerManagerDown`, `KubeSchedulerDown`, `KubeProxyDown`,
etcd's) would fire from the first day for ever. Keys as the chart's values.yaml names them (88.5.3:
`defaultRules.rules.*`, and each component's `enabled` scrape job)."""
KSM_NODE_LABELS = "nodes=[karpenter.sh/capacity-type]"
"""The node label kube-state-metrics copies into `kube_node_labels` (the subchart's `metricLabelsAllowlist` is empty
by default): the dashboard's spot / on-demand split reads it as `label_karpenter_sh_capacity_type`."""


def prometheus_stack_values(*, cluster: str, storage_class: str, existing_alertmanager_secret: bool) -> dict[str, Any]:
    """The chart's values: discovery by no release label, retention on a PVC, the cluster as external label.

    And nothing a managed control plane cannot serve.
    """
    return images.chart_image_values(versions.KUBE_PROMETHEUS_STACK.chart, {
        **MANAGED_CONTROL_PLANE_OFF,
        "fullnameOverride": FULLNAME,
        "prometheus": {"prometheusSpec": {
            "serviceMonitorSelectorNilUsesHelmValues": False,
            "podMonitorSelectorNilUsesHelmValues": False,
            "ruleSelectorNilUsesHelmValues": False,
            "probeSelectorNilUsesHelmValues": False,
            "scrapeConfigSelectorNilUsesHelmValues": False,
            "retention": "15d",
            "retentionSize": "45GiB",
            # Alerts and series say which cluster they come from (Alertmanager groups by it).
            "externalLabels": {"cluster": cluster},
            # The chart's default is an emptyDir: every restart would lose the history cost alerts compare with.
            "storageSpec": {"volumeClaimTemplate": {"spec": {
                "storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "50Gi"}}}}},
        }},
        "alertmanager": {"alertmanagerSpec": {"useExistingSecret": existing_alertmanager_secret}},
        "grafana": {"enabled": True, "sidecar": {"dashboards": {
            "enabled": True, "label": DASHBOARD_LABEL[0], "labelValue": DASHBOARD_LABEL[1],
            "searchNamespace": "ALL"}}},
        "kube-state-metrics": {"metricLabelsAllowlist": [KSM_NODE_LABELS]},
    })


@dataclass(frozen=True)
class PrometheusStackArgs:
    cluster: str
    """The cluster's key (`<region>-<name>`): the `cluster` external label, and the plan's name for it."""
    groups: list[RuleGroup]
    """The rule groups to evaluate (empty: alerts are off)."""
    receivers: dict[str, Receiver]
    """The stack's receivers, by name (`observability.receivers`)."""
    credentials: dict[str, pulumi.Output[str]]
    """Each receiver's `secret` key -> its value, a Pulumi secret."""
    storage_class: str
    """The StorageClass Prometheus' volume is provisioned from."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    system_nodes: pulumi.Resource
    """The system node group the stack's pods run on; the chart waits for it."""
    deadmans_switch: Receiver | None = None
    """Where the chart's Watchdog heartbeat goes (`observability.deadmans_switch`); None: dropped."""


class PrometheusStack(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    """The chart, which also installs the monitoring.coreos.com CRDs: ServiceMonitors wait for it."""
    stack: str
    rules: list[str]
    receivers: list[str]

    def __init__(self, name: str, args: PrometheusStackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:monitoring:PrometheusStack", name, None, opts)
        self.stack = STACK
        self.rules = rule_names(args.groups)
        self.receivers = sorted(args.receivers)
        ns = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": MONITORING_NAMESPACE},
                                   opts=pulumi.ResourceOptions(parent=self, provider=args.provider))
        in_ns = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[ns])
        before: list[pulumi.Resource] = [ns, args.system_nodes]
        if args.receivers or args.deadmans_switch is not None:
            before.append(k8s.core.v1.Secret(
                f"{name}-alertmanager",
                metadata={"name": ALERTMANAGER_SECRET, "namespace": MONITORING_NAMESPACE,
                          "labels": {"app.kubernetes.io/managed-by": "gpu-fleet"}},
                type="Opaque",
                string_data={"alertmanager.yaml": config_yaml(args.receivers, args.credentials,
                                                              args.deadmans_switch)},
                opts=in_ns))
        pin = versions.KUBE_PROMETHEUS_STACK
        self.release = k8s.helm.v3.Release(
            f"{name}-release", name=pin.chart, chart=pin.chart, version=pin.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin.repository), namespace=MONITORING_NAMESPACE,
            values=prometheus_stack_values(cluster=args.cluster, storage_class=args.storage_class,
                                           existing_alertmanager_secret=bool(args.receivers) or
                                           args.deadmans_switch is not None),
            atomic=True, timeout=900,
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=before))
        if args.groups:
            obj = prometheus_rule(RULES_NAME, MONITORING_NAMESPACE, args.groups,
                                  labels={"app.kubernetes.io/managed-by": "gpu-fleet", LABEL_CLUSTER: args.cluster})
            k8s.apiextensions.CustomResource(
                f"{name}-rules", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
                spec=obj["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[self.release]))
        self.register_outputs(monitoring_outputs(args.cluster, self.stack, args.groups, self.receivers,
                                                 heartbeat=args.deadmans_switch is not None))
