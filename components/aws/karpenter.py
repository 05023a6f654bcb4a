"""Karpenter on an EKS cluster: its AWS side, then its two charts.

The AWS side (node and controller IAM, Pod Identity, the interruption queue and its rules) is
`components.aws.karpenter_aws`, which installs no chart, as terraform-aws-eks' `modules/karpenter`; this component
declares it and then the in-cluster install, which takes its outputs. `karpenter-crd` manages the CRDs (upgraded
with the controller); `karpenter` skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images, versions
from components.aws.cluster import CONTROLLER_LABEL
from components.aws.karpenter_aws import NAMESPACE, KarpenterAws, KarpenterAwsArgs, aws_side


@dataclass(frozen=True)
class KarpenterArgs:
    aws: KarpenterAwsArgs
    """The cluster's AWS facts (name, ARN, region, partition, tags): the AWS side takes them as they are, and the
    controller's settings name the cluster."""
    provider: k8s.Provider
    """The cluster's Kubernetes provider."""
    system_nodes: pulumi.Resource
    """The node group the controller runs on; the charts wait for it."""
    zonal_shift: bool
    """Let the controller honour EKS zonal shifts (`eks.zonal_shift`)."""
    prometheus_operator: pulumi.Resource | None = None
    """The release that installs the monitoring.coreos.com CRDs; set, the chart's ServiceMonitor is on and the
    chart waits for it."""


SERVICE_MONITOR_LABELS = {"release": "kube-prometheus-stack"}
"""kube-prometheus-stack's default ServiceMonitor selector (`release: <release>`). gpu-fleet's Prometheus selects
every ServiceMonitor (components.kubernetes.monitoring.prometheus_stack), so this only keeps the monitor found if
someone restores the chart's default selector."""


def karpenter_values(*, cluster: pulumi.Input[str], queue: pulumi.Input[str], zonal_shift: bool,
                     service_monitor: bool = True) -> dict[str, Any]:
    """Chart values (every key exists in the 1.14.1 chart's values.yaml; tests check it)."""
    resources = {"cpu": "1", "memory": "1Gi"}
    return images.chart_image_values(versions.KARPENTER.chart, {
        "settings": {"clusterName": cluster, "interruptionQueue": queue, "enableZonalShift": zonal_shift,
                     "featureGates": {
                         "reservedCapacity": True,
                         # ALPHA, off by default (values.yaml:231-233): replaces nodes whose conditions from the
                         # EKS node monitoring agent stay unhealthy (AcceleratedHardwareReady False for 10m,
                         # NetworkingReady, StorageReady, KernelReady ... for 30m: v1.14.1
                         # pkg/cloudprovider/cloudprovider.go RepairPolicies). nodeOverlay stays off: no pool
                         # needs one (the fabric check requests no huge pages, gpufleet/fabric_check.py).
                         "nodeRepair": True,
                     }},
        "controller": {"resources": {"requests": resources, "limits": resources}},
        "nodeSelector": {CONTROLLER_LABEL: "true"},
        # Resolves through the node's resolver, so the controller starts before CoreDNS has capacity.
        "dnsPolicy": "Default",
        "replicas": 2,
        # The controller's metrics (NodeClaim launches, ICE, reservations) for the Karpenter alert rules.
        "serviceMonitor": {"enabled": service_monitor, "additionalLabels": SERVICE_MONITOR_LABELS},
    })


class Karpenter(pulumi.ComponentResource):
    node_role_name: pulumi.Output[str]
    """The role every Karpenter node gets (EC2NodeClass `spec.role`)."""
    queue_name: pulumi.Output[str]
    chart: k8s.helm.v3.Release
    """The controller release; NodePools and EC2NodeClasses wait for it (and thereby for the CRDs)."""

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Karpenter", name, None, opts)
        cloud = aws_side(name, args.aws, parent=self)
        self.chart = self._install(name, args, cloud)
        self.node_role_name = cloud.node_role.name
        self.queue_name = cloud.queue.name
        self.register_outputs({"node_role_name": self.node_role_name, "queue_name": self.queue_name})

    def _install(self, name: str, args: KarpenterArgs, cloud: KarpenterAws) -> k8s.helm.v3.Release:
        """The CRD chart, then the controller's, which starts once its Pod Identity and policies exist."""
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.system_nodes])
        crds = k8s.helm.v3.Release(
            f"{name}-crd", name="karpenter-crd", chart=versions.KARPENTER_CRD.chart,
            version=versions.KARPENTER_CRD.version, namespace=NAMESPACE, atomic=True, opts=on_cluster)
        service_monitor_crds = [args.prometheus_operator] if args.prometheus_operator is not None else []
        return k8s.helm.v3.Release(
            f"{name}-chart", name="karpenter", chart=versions.KARPENTER.chart, version=versions.KARPENTER.version,
            namespace=NAMESPACE, skip_crds=True, atomic=True,
            values=karpenter_values(cluster=args.aws.cluster_name, queue=cloud.queue.name, zonal_shift=args.zonal_shift,
                                    service_monitor=args.prometheus_operator is not None),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                        depends_on=[args.system_nodes, crds, *cloud.identity, *service_monitor_crds]))
