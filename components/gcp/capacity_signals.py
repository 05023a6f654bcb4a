"""GKE's capacity signals: log-based metrics and Cloud Monitoring alert policies for GPU stockouts and preemptions.

Per GPU cluster: stockouts, other scale-up errors and spot preemptions of its GPU pools. GKE's cluster autoscaler
is managed and exports no Prometheus metrics; it writes visibility events to Cloud Logging
(log `container.googleapis.com/cluster-autoscaler-visibility`, monitored resource `k8s_cluster` labelled with the
cluster's name and location; cloud.google.com/kubernetes-engine/docs/how-to/cluster-autoscaler-visibility). A failed
scale-up is a `resultInfo` event whose `results[].errorMsg.messageId` is `scale.up.error.<reason>` and whose
`parameters` name the failing managed instance group (gcpdiag, GoogleCloudPlatform/gcpdiag@06ec858
`gcpdiag/lint/gke/err_2021_006_scaleup_failed.py` filters `jsonPayload.resultInfo.results.errorMsg.messageId:
"scale.up.error"` and reads `/instanceGroups/<mig>` from the parameters; `gcpdiag/runbook/gke/cluster_autoscaler.py`
lists the scale-up errors). Compute Engine writes each Spot VM preemption to the project's system-event audit log
(`protoPayload.methodName="compute.instances.preempted"`, resource `gce_instance`, the VM in `protoPayload.
resourceName`; gcpdiag `gcpdiag/runbook/gke/node_unavailability.py` finds a GKE node's preemption this way).

Neither event names the node pool as a field the filter can join on, so both are matched on the names GKE gives a
pool's instance groups and VMs: `gke-<cluster>-<pool>-<hash>-grp` and `gke-<cluster>-<pool>-<hash>-<suffix>`, with
`gke-<cluster>` cut at 24 characters (kubernetes/ingress-gce@acbcf5d `hack/setup-local.sh:95-96`) and the pool name
at 16 (the docs' node-pool-created example: pool `nap-n1-standard-1-1kwag2qv`, MIG `...-nap-n1-standard--b4fcc348-grp`,
as GoogleCloudPlatform/khi@6d543af `pkg/task/inspection/googlecloudloggkeautoscaler/contract/types_test.go` records
it). Log-based metrics are per cluster (one filter names one cluster's GPU pools), so each alert is too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.config.gke import CapacityModel, GkeCluster
from components.config.observability import Severity
from components.kubernetes.monitoring.types import CAPACITY_SIGNALS_TYPE

VISIBILITY_LOG = "container.googleapis.com/cluster-autoscaler-visibility"
SYSTEM_EVENT_LOG = "cloudaudit.googleapis.com/system_event"
PREEMPTED = "compute.instances.preempted"
SCALE_UP_ERROR = "scale.up.error."
"""Every scale-up error's message id starts so (the visibility docs' "Scale-up errors")."""
STOCKOUT_REASONS = ("scale.up.error.out.of.resources", "scale.up.error.waiting.for.instances.timeout")
"""Errors that heal by waiting: a zone out of the machine (a stockout), or VMs that did not appear in time
(transient, gcpdiag's `CaInstanceTimeout`). Every other scale-up error (quota, IP space, service account,
reservations) needs someone to act."""
NAP_GPU_REASONS = ("no.scale.up.nap.pod.gpu.no.limit.defined", "no.scale.up.nap.pod.gpu.type.not.supported")
"""noScaleUp reasons of node auto-provisioning that only GPU pods get: no limit for the GPU, or a GPU it cannot
provision; a configuration error, not a stockout."""
CLUSTER_PREFIX_LENGTH = 24
"""GKE cuts `gke-<cluster>` to 24 characters in its instance names (ingress-gce `hack/setup-local.sh`)."""
POOL_PREFIX_LENGTH = 16
"""...and the node pool's name to 16 (the visibility docs' NAP example)."""
METRIC_PREFIX = "logging.googleapis.com/user/"


@dataclass(frozen=True)
class Signal:
    """One capacity alert: its log-based metric and the count within a window that fires it."""

    alert: str
    """The alert's name, as the plan, the policy and the runbook (`docs/runbooks/<alert>.md`) name it."""
    metric: str
    """The metric's last name piece (`gpufleet/<cluster>/<metric>`), also the child's role."""
    severity: Severity
    window_seconds: int
    """Events are summed over this window (the alignment period)."""
    min_events: int
    """How many events within the window fire the alert."""
    summary: str
    meaning: str


STOCKOUT = Signal(
    "GkeGpuStockout", "gpu-stockouts", Severity.WARNING, 1800, 2,
    "GKE cannot get GPU machines for a node pool: the zone is out of them",
    "The cluster autoscaler's scale-ups of the cluster's GPU pools fail with `scale.up.error.out.of.resources` "
    "(or time out waiting for the VMs) at least twice in 30 minutes: the autoscaler backs off between attempts, so "
    "this is a stockout that outlasted a retry. Pending GPU pods stay pending until the zone has capacity.")
SCALE_UP_ERRORS = Signal(
    "GkeGpuScaleUpErrors", "gpu-scale-up-errors", Severity.CRITICAL, 900, 1,
    "GKE cannot add GPU nodes for a reason that does not heal by waiting",
    "A scale-up of one of the cluster's GPU pools failed with a quota, IP space, service account or reservation "
    "error (or auto-provisioning refuses GPU pods): nothing changes until someone fixes it.")
PREEMPTIONS = Signal(
    "GkeGpuSpotPreemptions", "gpu-spot-preemptions", Severity.WARNING, 900, 1,
    "Compute Engine preempted spot GPU nodes of the cluster",
    "Compute Engine reclaimed Spot VMs of the cluster's spot GPU pools in the last 15 minutes (30 seconds' notice). "
    "Pods without checkpoints lose their work; the autoscaler replaces the nodes when the zone has capacity.")


@dataclass(frozen=True)
class GpuPoolTarget:
    """A GPU node pool of the cluster, as its events name it."""

    name: str
    """The node pool's GKE name (the config's pool name)."""
    zones: tuple[str, ...]
    spot: bool
    """Spot capacity: Compute Engine may preempt its nodes."""


@dataclass(frozen=True)
class AlertChannel:
    """A Cloud Monitoring notification channel of an on-call receiver, and the severities it takes."""

    receiver: str
    """The `observability.receivers` name."""
    severities: frozenset[Severity]
    channel: pulumi.Input[str]
    """The channel's resource name (`projects/<p>/notificationChannels/<id>`)."""


@dataclass(frozen=True)
class GkeCapacitySignalsArgs:
    project: str
    cluster: str
    """The cluster's key (`<region>-<name>`): the metrics' and policies' names, and the plan's."""
    cluster_name: str
    """The GKE cluster's name (the visibility events' `resource.labels.cluster_name`)."""
    region: str
    """The regional cluster's location (`resource.labels.location`)."""
    pools: list[GpuPoolTarget]
    auto_provisioning_gpus: bool = False
    """Node auto-provisioning with GPU limits: its GPU-only refusals count as scale-up errors too."""
    channels: list[AlertChannel] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    """Receivers Cloud Monitoring cannot notify (Slack incoming webhooks, plain webhooks): listed in the plan."""
    runbook_base_url: str = "docs/runbooks"
    labels: dict[str, str] = field(default_factory=dict)
    """GCP user labels of the policies."""


def watches_capacity(spec: GkeCluster) -> bool:
    """A cluster gets capacity signals when it has GPU pools or auto-provisions GPUs."""
    return bool(spec.gpu_pools) or (spec.auto_provisioning.enabled and bool(spec.auto_provisioning.gpu_limits))


def pool_targets(spec: GkeCluster) -> list[GpuPoolTarget]:
    """The cluster's GPU pools as their events name them."""
    return [GpuPoolTarget(p.name, tuple(p.zones), p.capacity is CapacityModel.SPOT) for p in spec.gpu_pools]


def node_prefix(cluster_name: str, pool: str) -> str:
    """How the names of a pool's instance groups and VMs start: `gke-<cluster>-<pool>-`, cut as GKE cuts them."""
    return f"{f'gke-{cluster_name}'[:CLUSTER_PREFIX_LENGTH]}-{pool[:POOL_PREFIX_LENGTH]}-"


def _any_of(values: Sequence[str]) -> str:
    return "(" + " OR ".join(f'"{v}"' for v in values) + ")"


def _autoscaler_scope(cluster_name: str, region: str) -> list[str]:
    return ['resource.type="k8s_cluster"', f'resource.labels.cluster_name="{cluster_name}"',
            f'resource.labels.location="{region}"', f'log_id("{VISIBILITY_LOG}")']


def stockout_filter(cluster_name: str, region: str, pools: Sequence[str]) -> str:
    """Scale-up results of the GPU pools' instance groups that failed on a stockout or a VM timeout."""
    results = "jsonPayload.resultInfo.results.errorMsg"
    prefixes = sorted(node_prefix(cluster_name, p) for p in pools)  # the stack file's order is not an input
    return " AND ".join([*_autoscaler_scope(cluster_name, region),
                         f"{results}.messageId={_any_of(STOCKOUT_REASONS)}",
                         f"{results}.parameters:{_any_of(prefixes)}"])


def scale_up_error_filter(cluster_name: str, region: str, pools: Sequence[str], *, auto_provisioning: bool) -> str:
    """Scale-up results of the GPU pools that failed for any other reason; with auto-provisioning, its GPU refusals."""
    results = "jsonPayload.resultInfo.results.errorMsg"
    prefixes = sorted(node_prefix(cluster_name, p) for p in pools)  # the stack file's order is not an input
    errors = (f'{results}.messageId:"{SCALE_UP_ERROR}" AND NOT {results}.messageId={_any_of(STOCKOUT_REASONS)} '
              f"AND {results}.parameters:{_any_of(prefixes)}")
    if auto_provisioning:
        nap = f"jsonPayload.noDecisionStatus.noScaleUp.unhandledPodGroups.napFailureReasons.messageId=" \
              f"{_any_of(NAP_GPU_REASONS)}"
        errors = f"(({errors}) OR {nap})" if prefixes else nap
    return " AND ".join([*_autoscaler_scope(cluster_name, region), errors])


def preemption_filter(cluster_name: str, pools: Sequence[GpuPoolTarget]) -> str:
    """Compute Engine's preemptions of the spot GPU pools' VMs, in the pools' zones."""
    spot = [p for p in pools if p.spot]
    zones = sorted({z for p in spot for z in p.zones})
    names = sorted(f"/instances/{node_prefix(cluster_name, p.name)}" for p in spot)
    return " AND ".join(['resource.type="gce_instance"', f'log_id("{SYSTEM_EVENT_LOG}")',
                         f'protoPayload.methodName="{PREEMPTED}"', f"resource.labels.zone={_any_of(zones)}",
                         f"protoPayload.resourceName:{_any_of(names)}"])


def cluster_signals(args: GkeCapacitySignalsArgs) -> list[tuple[Signal, str, str]]:
    """The cluster's alerts: each signal with its log filter and the monitored resource its metric is written on."""
    names = [p.name for p in args.pools]
    out: list[tuple[Signal, str, str]] = []
    if names:
        out.append((STOCKOUT, stockout_filter(args.cluster_name, args.region, names), "k8s_cluster"))
    if names or args.auto_provisioning_gpus:
        out.append((SCALE_UP_ERRORS, scale_up_error_filter(args.cluster_name, args.region, names,
                                                           auto_provisioning=args.auto_provisioning_gpus),
                    "k8s_cluster"))
    if any(p.spot for p in args.pools):
        out.append((PREEMPTIONS, preemption_filter(args.cluster_name, args.pools), "gce_instance"))
    return out


def metric_name(cluster: str, signal: Signal) -> str:
    """The log-based metric's name (slashes make a hierarchy of it): `gpufleet/<cluster>/<metric>`."""
    return f"gpufleet/{cluster}/{signal.metric}"


def condition_filter(metric: str, resource: str) -> str:
    """The alert condition's time-series filter over the log-based metric (its series are on the entry's resource)."""
    return f'metric.type="{METRIC_PREFIX}{metric}" AND resource.type="{resource}"'


def policy_condition(cluster: str, signal: Signal, resource: str) -> Any:
    """The policy's condition: the metric's events summed over the signal's window, past its count."""
    return {
        "display_name": f"{signal.min_events}+ in {signal.window_seconds // 60} minutes",
        "condition_threshold": {
            "filter": condition_filter(metric_name(cluster, signal), resource),
            "comparison": "COMPARISON_GT",
            "threshold_value": signal.min_events - 1,
            "duration": "0s",
            "aggregations": [{"alignment_period": f"{signal.window_seconds}s",
                              "per_series_aligner": "ALIGN_SUM", "cross_series_reducer": "REDUCE_SUM"}],
            "trigger": {"count": 1},
            # No event is no data, not zero: without this a quiet cluster would hold incidents open.
            "evaluation_missing_data": "EVALUATION_MISSING_DATA_INACTIVE",
        },
    }


def reached(channels: Sequence[AlertChannel], severity: Severity) -> list[AlertChannel]:
    """The channels whose receiver takes `severity`, as Alertmanager's routes match it."""
    return [c for c in channels if severity in c.severities]


def _documentation(signal: Signal, log_filter: str, runbook: str) -> str:
    return (f"**{signal.summary}.**\n\n{signal.meaning}\n\nRunbook: {runbook}\n\n"
            f"The events, in Logs Explorer:\n\n```\n{log_filter.replace(' AND ', chr(10))}\n```")


class GkeCapacitySignals(pulumi.ComponentResource):
    alerts: list[str]
    receivers: list[str]

    def __init__(self, name: str, args: GkeCapacitySignalsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CAPACITY_SIGNALS_TYPE, name, None, opts)
        signals = cluster_signals(args)
        for signal, log_filter, resource in signals:
            self._signal(name, args, signal, log_filter, resource)
        self.alerts = [s.alert for s, _, _ in signals]
        self.receivers = sorted({c.receiver for s, _, _ in signals for c in reached(args.channels, s.severity)})
        self.register_outputs({
            "cluster": args.cluster, "alerts": self.alerts, "receivers": self.receivers,
            "unreached": sorted(args.unreached), "signals": [metric_name(args.cluster, s) for s, _, _ in signals]})

    def _signal(self, name: str, args: GkeCapacitySignalsArgs, signal: Signal, log_filter: str,
                resource: str) -> None:
        """The signal's log-based counter and the policy that fires on it."""
        child = pulumi.ResourceOptions(parent=self)
        metric = gcp.logging.Metric(
            f"{name}-{signal.metric}",
            project=args.project,
            name=metric_name(args.cluster, signal),
            description=f"gpu-fleet: {signal.summary} ({args.cluster}).",
            filter=log_filter,
            metric_descriptor={"metric_kind": "DELTA", "value_type": "INT64", "unit": "1",
                               "display_name": f"gpu-fleet {args.cluster} {signal.metric}"},
            opts=child,
        )
        runbook = f"{args.runbook_base_url.rstrip('/')}/{signal.alert}.md"
        documentation: Any = {
            "mime_type": "text/markdown", "subject": f"{signal.alert} on {args.cluster}",
            "content": _documentation(signal, log_filter, runbook),
            # Cloud Monitoring links need a URL: the default repository-relative base stays in the text only.
            "links": [{"display_name": "Runbook", "url": runbook}] if runbook.startswith("https://") else None}
        gcp.monitoring.AlertPolicy(
            f"{name}-{signal.metric}",
            project=args.project,
            display_name=f"gpu-fleet {args.cluster}: {signal.alert}",
            combiner="OR",
            severity=signal.severity.value.upper(),
            conditions=[policy_condition(args.cluster, signal, resource)],
            alert_strategy={"auto_close": "1800s"},
            documentation=documentation,
            notification_channels=[c.channel for c in reached(args.channels, signal.severity)],
            user_labels=args.labels,
            # The policy's filter names the metric type, which exists once the metric does.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[metric]),
        )
