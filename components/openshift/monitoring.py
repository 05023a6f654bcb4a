"""GPU alerts on OpenShift, in OpenShift's own monitoring, beside the cluster's routing rather than over it.

Platform monitoring already scrapes the GPU Operator's dcgm-exporter (its namespace carries
`openshift.io/cluster-monitoring: "true"`), so gpu-fleet's rules, the same definition as on GKE and EKS, are
*platform* rules: a PrometheusRule in the operator's namespace, evaluated by platform Prometheus over every
namespace's GPUs. (As user-workload rules they could not see them: user-workload Prometheus and Thanos Ruler
enforce `namespace` on every rule, cluster-monitoring-operator `enforcedNamespaceLabel: namespace`.)

Alerts reach people through an `AlertmanagerConfig` (monitoring.coreos.com/v1beta1) in gpu-fleet's own namespace
`gpu-fleet-alerting`, which the platform Alertmanager merges in front of its own routes once the cluster enables
`alertmanagerMain.enableUserAlertmanagerConfig` (OpenShift docs, "Enabling the platform Alertmanager instance for
user-defined alert routing"); `alertmanager-main` itself is never written, so the cluster's receivers, routes and
inhibit rules stay as they are. The operator gives that config's top route `continue: true` and a matcher on
its namespace (prometheus-operator `pkg/alertmanager/amcfg.go`, `namespaceEnforcer`), and the platform
Alertmanager only selects configs outside `openshift.io/cluster-monitoring: "true"` namespaces
(cluster-monitoring-operator `pkg/manifests/manifests.go`). So every gpu-fleet alert carries `gpu_fleet: "true"`
and `namespace: gpu-fleet-alerting` (the workload's namespace moves to `exported_namespace`), and the routes match
both: a platform alert (etcd, API server, nodes) never reaches a GPU receiver. The receivers' credentials are a
Secret beside the config, built from Pulumi secrets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config.observability import NULL_RECEIVER, Receiver, ReceiverType
from components.kubernetes.conventions import FLEET_ALERT_LABEL, LABEL_CLUSTER
from components.kubernetes.monitoring.alertmanager import GROUP_BY
from components.kubernetes.monitoring.rules import RuleGroup, monitoring_outputs, prometheus_rule, rule_names
from components.openshift.operators import GPU_NAMESPACE, MANAGED_BY

TYPE = "gpufleet:monitoring:OpenShiftMonitoring"
STACK = "openshift-platform-monitoring"
RULES_NAME = "gpufleet-gpu"
ALERTING_NAMESPACE = "gpu-fleet-alerting"
"""Where the AlertmanagerConfig and its Secret live: not a cluster-monitoring namespace (the platform
Alertmanager would not select a config there), and the `namespace` every gpu-fleet alert carries."""
ALERTMANAGER_CONFIG_API = "monitoring.coreos.com/v1beta1"
ALERTMANAGER_CONFIG = "gpu-fleet"
RECEIVER_SECRET = "gpu-fleet-receivers"
WORKLOAD_NAMESPACE = "exported_namespace"
"""The alert label that keeps the workload's namespace (Prometheus' own name for a displaced label)."""
_SLACK_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.cluster }})'
_SLACK_TEXT = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n{{ end }}"


@dataclass(frozen=True)
class OpenShiftMonitoringArgs:
    cluster: str
    """The cluster's stable key (config `openshift.clusters[].name`)."""
    groups: Sequence[RuleGroup]
    """gpu-fleet's rule groups for the cluster (alerts, cost recording rules, team guards)."""
    receivers: Mapping[str, Receiver]
    """The stack's receivers, by name."""
    credentials: Mapping[str, pulumi.Input[str]]
    """Each receiver's `secret` config key -> its (secret) value."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    depends_on: Sequence[pulumi.Resource]
    """The GPU Operator's namespace (when gpu-fleet manages it)."""


def fleet_groups(groups: Sequence[RuleGroup]) -> list[RuleGroup]:
    """The groups with gpu-fleet's routing labels.

    `gpu_fleet` on every rule; on alerts also the alerting namespace, the workload's one kept as
    `exported_namespace` (annotations still read the series' own `$labels.namespace`).
    """
    key, value = FLEET_ALERT_LABEL
    out = []
    for g in groups:
        rules = []
        for r in g.rules:
            labels = {**r.labels, key: value}
            if r.alert:
                labels.update({WORKLOAD_NAMESPACE: "{{ $labels.namespace }}", "namespace": ALERTING_NAMESPACE})
            rules.append(replace(r, labels=labels))
        out.append(replace(g, rules=tuple(rules)))
    return out


def _secret_ref(key: str) -> dict[str, str]:
    return {"name": RECEIVER_SECRET, "key": key}


def _receiver(name: str, r: Receiver) -> dict[str, Any]:
    """One receiver in AlertmanagerConfig terms: the credential is a reference into the receivers' Secret."""
    out: dict[str, Any] = {"name": name}
    if r.type is ReceiverType.SLACK:
        slack: dict[str, Any] = {"apiURL": _secret_ref(str(r.secret)), "sendResolved": True, "title": _SLACK_TITLE,
                                 "text": _SLACK_TEXT}
        if r.channel:
            slack["channel"] = r.channel
        out["slackConfigs"] = [slack]
    elif r.type is ReceiverType.PAGERDUTY:
        out["pagerdutyConfigs"] = [{"routingKey": _secret_ref(str(r.secret)), "sendResolved": True}]
    elif r.type is ReceiverType.WEBHOOK:
        out["webhookConfigs"] = [{"urlSecret": _secret_ref(str(r.secret)), "sendResolved": True}]
    else:
        email: dict[str, Any] = {"to": ", ".join(r.to), "from": r.sender, "smarthost": r.smarthost,
                                 "sendResolved": True}
        if r.auth_username:
            email["authUsername"] = r.auth_username
            email["authPassword"] = _secret_ref(str(r.secret))
        out["emailConfigs"] = [email]
    return out


def alertmanager_config(receivers: Mapping[str, Receiver]) -> dict[str, Any]:
    """The AlertmanagerConfig: gpu-fleet's alerts only, to each receiver that lists their severity."""
    key, value = FLEET_ALERT_LABEL
    routes = [{"receiver": name, "continue": True,
               "matchers": [{"name": "severity", "matchType": "=~",
                             "value": "|".join(s.value for s in r.severities)}]}
              for name, r in sorted(receivers.items())]
    return {
        "metadata": {"name": ALERTMANAGER_CONFIG, "namespace": ALERTING_NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
        "spec": {
            "route": {"receiver": NULL_RECEIVER, "matchers": [{"name": key, "matchType": "=", "value": value}],
                      "groupBy": [WORKLOAD_NAMESPACE if g == "namespace" else g for g in GROUP_BY],
                      "groupWait": "30s", "groupInterval": "5m", "repeatInterval": "4h", "routes": routes},
            "receivers": [{"name": NULL_RECEIVER}, *(_receiver(n, r) for n, r in sorted(receivers.items()))],
        },
    }


class OpenShiftMonitoring(pulumi.ComponentResource):
    stack: str
    rules: list[str]
    receivers: list[str]

    def __init__(self, name: str, args: OpenShiftMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.stack = STACK
        groups = fleet_groups(args.groups)
        self.rules = rule_names(groups)
        self.receivers = sorted(args.receivers)
        if groups:
            self._rules(name, args, groups)
        if args.receivers:
            self._routing(name, args)
        self.register_outputs(monitoring_outputs(args.cluster, self.stack, groups, self.receivers))

    def _rules(self, name: str, args: OpenShiftMonitoringArgs, groups: list[RuleGroup]) -> None:
        obj = prometheus_rule(RULES_NAME, GPU_NAMESPACE, groups,
                              labels={"app.kubernetes.io/managed-by": MANAGED_BY, LABEL_CLUSTER: args.cluster})
        k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
            spec=obj["spec"], opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                                          depends_on=list(args.depends_on)))

    def _routing(self, name: str, args: OpenShiftMonitoringArgs) -> None:
        """gpu-fleet's namespace, the receivers' Secret and the AlertmanagerConfig that routes to them."""
        in_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ns = k8s.core.v1.Namespace(f"{name}-alerting-namespace", metadata={
            "name": ALERTING_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY,
                                                   LABEL_CLUSTER: args.cluster}}, opts=in_cluster)
        within = pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[ns]))
        keys = sorted({r.secret for r in args.receivers.values() if r.secret})
        missing = [k for k in keys if k not in args.credentials]
        if missing:
            raise ValueError(f"no credential passed for {missing}")
        # A Secret's data is a secret output in pulumi-kubernetes whatever its inputs; wrapping says so here too.
        secret = k8s.core.v1.Secret(
            f"{name}-receivers", metadata={"name": RECEIVER_SECRET, "namespace": ALERTING_NAMESPACE},
            string_data={k: pulumi.Output.secret(args.credentials[k]) for k in keys}, opts=within)
        config = alertmanager_config(args.receivers)
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanager-config", api_version=ALERTMANAGER_CONFIG_API, kind="AlertmanagerConfig",
            metadata=config["metadata"], spec=config["spec"],
            opts=pulumi.ResourceOptions.merge(within, pulumi.ResourceOptions(depends_on=[ns, secret])))
