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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config.observability import DEADMANS_SWITCH, NULL_RECEIVER, Receiver, ReceiverType
from components.kubernetes.conventions import FLEET_ALERT_LABEL, LABEL_CLUSTER
from components.kubernetes.monitoring.alertmanager import GROUP_BY, require_credentials, routing
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
    gpu_namespace: Sequence[pulumi.Resource]
    """What makes the GPU Operator's namespace, where the rules go (empty: gpu-fleet does not manage it)."""
    deadmans_switch: Receiver | None = None
    """Where gpu-fleet's Watchdog goes (`observability.deadmans_switch`); None: dropped."""


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


def _matcher(text: str) -> dict[str, str]:
    """One `routing()` matcher string (`name="v"`, `name=~"a|b"`, `name=v`) as a v1beta1 Matcher object.

    The workload's namespace is `exported_namespace` on OpenShift (`fleet_groups`), so a team's `namespace`
    matcher is rewritten to it; `namespace` itself is `gpu-fleet-alerting` on every gpu-fleet alert.
    """
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(f"not an Alertmanager matcher: {text!r}")
    name, op, value = found.group("name", "op", "value")
    return {"name": WORKLOAD_NAMESPACE if name == "namespace" else name, "matchType": op, "value": value}


_MATCHER = re.compile(r'(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>=~|!~|!=|=)"?(?P<value>.*?)"?')
_ROUTE_KEYS = {"receiver": "receiver", "continue": "continue", "group_wait": "groupWait",
               "group_interval": "groupInterval", "repeat_interval": "repeatInterval"}


def _route(route: Mapping[str, Any]) -> dict[str, Any]:
    """A `routing()` child route in AlertmanagerConfig terms (camelCase keys, Matcher objects)."""
    out = {_ROUTE_KEYS[k]: v for k, v in route.items() if k in _ROUTE_KEYS}
    out["matchers"] = [_matcher(m) for m in route.get("matchers", [])]
    return out


def _inhibit_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A `routing()` inhibit rule in v1beta1 terms; `equal` on the workload's namespace, not the alerting one.

    The operator adds `namespace="gpu-fleet-alerting"` to both sides (prometheus-operator `amcfg.go`,
    `namespaceEnforcer.processInhibitRule`), so these mute only gpu-fleet's alerts, never the platform's.
    """
    out: dict[str, Any] = {"sourceMatch": [_matcher(m) for m in rule.get("source_matchers", [])],
                           "targetMatch": [_matcher(m) for m in rule.get("target_matchers", [])]}
    if rule.get("equal"):
        out["equal"] = [WORKLOAD_NAMESPACE if g == "namespace" else g for g in rule["equal"]]
    return out


def alertmanager_config(receivers: Mapping[str, Receiver], deadmans_switch: Receiver | None = None) -> dict[str, Any]:
    """The AlertmanagerConfig, from the shared `routing()` model (the same receivers, routes and inhibit rules).

    gpu-fleet's alerts only, to each receiver that lists their severity (and, for a team receiver, the
    workload's namespace), Watchdog to the dead man's switch.

    The Watchdog routed here is gpu-fleet's own (`RuleTargets.heartbeat`, shipped on OpenShift when a switch is
    configured): the platform's Watchdog fires in `openshift-monitoring`, which the operator's implicit
    `namespace="gpu-fleet-alerting"` matcher on this config's top route never lets in, and it stays with the
    cluster's own `Watchdog` route. Ours runs through the same platform Prometheus and Alertmanager, so its
    silence still means platform monitoring is down.
    """
    key, value = FLEET_ALERT_LABEL
    model = routing(receivers, deadmans_switch)
    every = {**receivers, **({DEADMANS_SWITCH: deadmans_switch} if deadmans_switch is not None else {})}
    return {
        "metadata": {"name": ALERTMANAGER_CONFIG, "namespace": ALERTING_NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}},
        "spec": {
            "route": {"receiver": model.default_receiver,
                      "matchers": [{"name": key, "matchType": "=", "value": value}],
                      "groupBy": [WORKLOAD_NAMESPACE if g == "namespace" else g for g in GROUP_BY],
                      "groupWait": "30s", "groupInterval": "5m", "repeatInterval": "4h",
                      "routes": [_route(r) for r in model.routes]},
            "receivers": [{"name": n} if n == NULL_RECEIVER else _receiver(n, every[n]) for n in model.receivers],
            "inhibitRules": [_inhibit_rule(r) for r in model.inhibit_rules],
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
        if args.receivers or args.deadmans_switch is not None:
            self._routing(name, args)
        self.register_outputs(monitoring_outputs(args.cluster, self.stack, groups, self.receivers))

    def _rules(self, name: str, args: OpenShiftMonitoringArgs, groups: list[RuleGroup]) -> None:
        obj = prometheus_rule(RULES_NAME, GPU_NAMESPACE, groups,
                              labels={"app.kubernetes.io/managed-by": MANAGED_BY, LABEL_CLUSTER: args.cluster})
        k8s.apiextensions.CustomResource(
            f"{name}-rules", api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"],
            spec=obj["spec"], opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                                          depends_on=list(args.gpu_namespace)))

    def _routing(self, name: str, args: OpenShiftMonitoringArgs) -> None:
        """gpu-fleet's namespace, the receivers' Secret and the AlertmanagerConfig that routes to them."""
        in_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        ns = k8s.core.v1.Namespace(f"{name}-alerting-namespace", metadata={
            "name": ALERTING_NAMESPACE, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY,
                                                   LABEL_CLUSTER: args.cluster}}, opts=in_cluster)
        within = pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[ns]))
        keys = require_credentials(args.receivers, args.deadmans_switch, args.credentials)
        # A Secret's data is a secret output in pulumi-kubernetes whatever its inputs; wrapping says so here too.
        secret = k8s.core.v1.Secret(
            f"{name}-receivers", metadata={"name": RECEIVER_SECRET, "namespace": ALERTING_NAMESPACE},
            string_data={k: pulumi.Output.secret(args.credentials[k]) for k in keys}, opts=within)
        config = alertmanager_config(args.receivers, args.deadmans_switch)
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanager-config", api_version=ALERTMANAGER_CONFIG_API, kind="AlertmanagerConfig",
            metadata=config["metadata"], spec=config["spec"],
            opts=pulumi.ResourceOptions.merge(within, pulumi.ResourceOptions(depends_on=[ns, secret])))
