"""GPU alerts on OpenShift, in OpenShift's own monitoring: no second Prometheus.

Platform monitoring already scrapes the GPU Operator's dcgm-exporter (its namespace carries
`openshift.io/cluster-monitoring: "true"`), so gpu-fleet's rules, the same definition as on GKE and EKS, go there
as a PrometheusRule in the operator's namespace, which platform Prometheus evaluates. Alerts reach people through
the platform Alertmanager, whose configuration is the `alertmanager-main` Secret in `openshift-monitoring`
(OpenShift's documented way to add receivers): gpu-fleet server-side-applies its `alertmanager.yaml`, rendered
from the stack's receivers as a Pulumi secret. That file then routes every platform alert, so a cluster that
already sends alerts elsewhere should list those receivers in gpu-fleet's config too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.config.observability import Receiver
from components.kubernetes.conventions import LABEL_CLUSTER
from components.kubernetes.monitoring.alertmanager import config_yaml
from components.kubernetes.monitoring.rules import RuleGroup, monitoring_outputs, prometheus_rule, rule_names
from components.openshift.operators import GPU_NAMESPACE, MANAGED_BY

TYPE = "gpufleet:monitoring:OpenShiftMonitoring"
STACK = "openshift-platform-monitoring"
RULES_NAME = "gpufleet-gpu"
MONITORING_NAMESPACE = "openshift-monitoring"
ALERTMANAGER_SECRET = "alertmanager-main"


@dataclass(frozen=True)
class OpenShiftMonitoringArgs:
    cluster: str
    groups: Sequence[RuleGroup]
    receivers: Mapping[str, Receiver]
    credentials: Mapping[str, pulumi.Input[str]]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]
    """The GPU Operator's namespace (when gpu-fleet manages it)."""


class OpenShiftMonitoring(pulumi.ComponentResource):
    stack: str
    rules: list[str]
    receivers: list[str]

    def __init__(self, name: str, args: OpenShiftMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.stack = STACK
        self.rules = rule_names(args.groups)
        self.receivers = sorted(args.receivers)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        if args.groups:
            obj = prometheus_rule(RULES_NAME, GPU_NAMESPACE, args.groups,
                                  labels={"app.kubernetes.io/managed-by": MANAGED_BY, LABEL_CLUSTER: args.cluster})
            k8s.apiextensions.CustomResource(f"{name}-rules", api_version=obj["apiVersion"], kind=obj["kind"],
                                             metadata=obj["metadata"], spec=obj["spec"], opts=in_cluster)
        if args.receivers:
            # The Secret exists (the monitoring operator made it): patch the one key, forcing ownership of it.
            k8s.core.v1.SecretPatch(
                f"{name}-alertmanager",
                metadata={"name": ALERTMANAGER_SECRET, "namespace": MONITORING_NAMESPACE,
                          "annotations": {"pulumi.com/patchForce": "true"}},
                string_data={"alertmanager.yaml": config_yaml(args.receivers, args.credentials)},
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider))
        self.register_outputs(monitoring_outputs(args.cluster, self.stack, args.groups, self.receivers))
