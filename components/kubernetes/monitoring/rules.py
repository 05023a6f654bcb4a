"""The GPU alert and cost-recording rules, defined once and rendered for each platform's rule object.

One platform-neutral model (`Rule`, `RuleGroup`) built from the stack's thresholds (`observability.alerts`),
rendered as a monitoring.coreos.com/v1 `PrometheusRule` (kube-prometheus-stack on EKS; OpenShift's platform
monitoring), as GKE managed Prometheus' monitoring.googleapis.com/v1 `ClusterRules`, or as a plain rule file
(what `promtool test rules` reads, so the tests run exactly what clusters evaluate).

Each alert fires when its threshold says: an instant (or short-window) condition held for the threshold's
window with `for:`, never an average over the window *and* `for:` the window, which fires at twice the window.
Series carry the workload's `namespace`/`pod`/`container` as DCGM reports them (the scrape objects keep the
exporter's labels), so the same rules hold on every platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from components.catalog.xid import XidClass, classified_regex, xid_regex
from components.config.observability import DEFAULT_RUNBOOK_BASE, Alerts, CostSpike, GpuIdle
from components.kubernetes.conventions import FLEET_ALERT_LABEL

RULE_INTERVAL = "1m"
"""How often rule groups are evaluated (GMP's default too); alert windows are at least this long."""
RATE_WINDOW = "2m"
"""Window of the network rate: the shortest that holds two samples at 30 to 60 second scrapes."""
NETWORK_DEVICES = "(eth|ens|enp|eno)[0-9].*"
"""Physical interfaces (ENA, gVNIC); veths, bridges and CNI devices would count pod traffic twice."""
INSTANCE_TYPE_LABEL = "instance_type"
"""The label naming a series' machine type, joined to the catalog's bandwidth."""


class MetricSource(str, Enum):
    """Where a cluster's DCGM series come from: which metrics exist, and under which labels."""

    DCGM_EXPORTER = "dcgm-exporter"
    """NVIDIA dcgm-exporter (the pinned chart, or the GPU Operator's), with its default counters."""
    GKE_MANAGED = "gke-managed-dcgm"
    """GKE managed DCGM: a fixed set of fields, no XID or row-remap counters."""


class NetworkSource(str, Enum):
    """Where a cluster's node traffic counters come from, and how they name the machine type."""

    NODE_EXPORTER = "node-exporter"
    """node-exporter's `node_network_*_bytes_total` per instance; `node_dmi_info` names the instance type (EKS,
    OpenShift on AWS)."""
    KUBELET_CADVISOR = "kubelet-cadvisor"
    """The kubelet's cAdvisor, root cgroup (`id="/"`, the host's interfaces): `container_network_*_bytes_total`
    per node, the `instance_type` label set at scrape by a per-machine-type ClusterNodeMonitoring (GKE managed
    Prometheus, `gmp.node_network_monitorings`)."""


class NodeInventory(str, Enum):
    """Where a cluster's rules learn which nodes have GPUs, to notice a GPU node that exports no DCGM series."""

    KUBE_STATE_METRICS = "kube-state-metrics"
    """`kube_node_status_capacity{resource="nvidia_com_gpu"}` (kube-prometheus-stack on EKS, OpenShift's platform
    kube-state-metrics): the GPUs each node's kubelet reports."""
    GKE_KUBELET = "gke-kubelet"
    """GKE has no node kube-state-metrics: `kubelet_node_name` from the kubelet of every GPU node, scraped by
    gpu-fleet's ClusterNodeMonitoring on the accelerator label and stamped `gpu_fleet_inventory="gpu"`
    (`gmp.gpu_node_inventory_monitoring`)."""


GKE_MANAGED_DCGM_METRICS = frozenset({
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_TOTAL",
    "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_PIPE_FP16_ACTIVE", "DCGM_FI_PROF_PIPE_FP32_ACTIVE",
    "DCGM_FI_PROF_PIPE_FP64_ACTIVE", "DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
    "DCGM_FI_PROF_NVLINK_TX_BYTES", "DCGM_FI_PROF_NVLINK_RX_BYTES",
})
"""The fields GKE managed DCGM exports, as Google's own GKE material queries them (GoogleCloudPlatform/
monitoring-dashboard-samples `dashboards/nvidia-gpu/nvidia-dcgm-prometheus.json` @225d976; power and energy from
Vertex AI's managed list): ../shared/research/observability.md section 2. No XID, remapped rows, ENC/DEC."""

GPU_IDENTITY = {MetricSource.DCGM_EXPORTER: "UUID", MetricSource.GKE_MANAGED: "Hostname, gpu"}
"""The labels that tell one physical GPU from another: dcgm-exporter's `UUID` (4.8.3 render_metrics.go); for
managed DCGM the node and GPU index, the labels Google's own GKE dashboard filters on."""

_NODE = "{{ with $labels.node }}{{ . }}{{ else }}{{ with $labels.Hostname }}{{ . }}{{ else }}" \
        "{{ $labels.hostname }}{{ end }}{{ end }}"
"""The node in an annotation: the scrape-time `node` label, else DCGM's `Hostname` (managed) or `hostname` (4.8.3)."""
_GPU = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on " + _NODE


@dataclass(frozen=True)
class Rule:
    """One alerting (`alert`) or recording (`record`) rule, in Prometheus' rule-file terms."""

    name: str
    expr: str
    alert: bool
    for_: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    keep_firing_for: str | None = None
    """How long a firing alert keeps firing once its condition clears (Prometheus 2.42+, the Prometheus
    Operator's PrometheusRule); GKE's ClusterRules have no such field, so there the expression's own window is the
    hysteresis (`gmp_cluster_rules` leaves it out)."""

    def to_dict(self) -> dict[str, Any]:
        """The rule as Prometheus reads it; every alert carries the fleet label and a runbook link.

        The label is what Alertmanager routes to the GPU receivers on (`FLEET_ALERT_LABEL`), so it is set here,
        where every gpu-fleet alert is rendered (GPU, budget guard, capacity rules alike), not rule by rule.
        """
        out: dict[str, Any] = {"alert" if self.alert else "record": self.name, "expr": self.expr}
        if self.for_:
            out["for"] = self.for_
        if self.keep_firing_for:
            out["keep_firing_for"] = self.keep_firing_for
        labels = {FLEET_ALERT_LABEL[0]: FLEET_ALERT_LABEL[1], **self.labels} if self.alert else dict(self.labels)
        if labels:
            out["labels"] = labels
        annotations = dict(self.annotations)
        if self.alert:
            annotations.setdefault("runbook_url", runbook_url(DEFAULT_RUNBOOK_BASE, self.name))
        if annotations:
            out["annotations"] = annotations
        return out


def runbook_url(base: str, alert: str) -> str:
    """The runbook of an alert: `docs/runbooks/<alert>.md` under `base` (the repository, or where it is served)."""
    return f"{base.rstrip('/')}/{alert}.md"


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]
    interval: str = RULE_INTERVAL

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "interval": self.interval, "rules": [r.to_dict() for r in self.rules]}


@dataclass(frozen=True)
class GpuPrice:
    """What one GPU of a model costs an hour in this cluster (the catalog's price, as the plan prices it)."""

    gpu_model: str
    """Catalog GPU id(s) sharing one DCGM model name, joined by `+` (A3 High and A3 Mega both report H100)."""
    model_pattern: str
    """The DCGM `modelName` pattern (catalog) the GPUs report."""
    usd_per_hour: float


@dataclass(frozen=True)
class NicBandwidth:
    machine_type: str
    gbps: float


@dataclass(frozen=True)
class RuleTargets:
    """What a cluster's rules can see: its DCGM source, its GPUs' prices, its GPU machines' NIC bandwidth."""

    source: MetricSource
    prices: tuple[GpuPrice, ...] = ()
    network: tuple[NicBandwidth, ...] = ()
    """Machine types whose node traffic the cluster's Prometheus scrapes, with their host NIC bandwidth; empty: no
    network saturation rule."""
    network_source: NetworkSource = NetworkSource.NODE_EXPORTER
    """Which counters that traffic is read from."""
    dcgm: bool = True
    """Whether DCGM metrics are collected at all (EKS may run without dcgm-exporter): no GPU or cost rules if not."""
    inventory: NodeInventory = NodeInventory.KUBE_STATE_METRICS
    """Where the GPU nodes are listed, for the missing-metrics alert."""
    heartbeat: bool = False
    """Ship gpu-fleet's own `Watchdog` (GKE's managed rule evaluator has none; kube-prometheus-stack and OpenShift
    platform monitoring already evaluate one)."""
    cluster_autoscaler: bool = False
    """The cluster autoscaler's metrics are scraped (OpenShift's ClusterAutoscaler): alert on its failed
    scale-ups."""


def _percent(value: float) -> str:
    return f"{value:g}"


def gpu_rule_groups(alerts: Alerts, targets: RuleTargets) -> list[RuleGroup]:
    """The rule groups a cluster evaluates.

    With alerts switched off only the cost recording rules remain: the dashboards and the daily budget guards
    read them.
    """
    groups = []
    if targets.dcgm:
        if alerts.enabled:
            groups.append(RuleGroup("gpufleet-gpu", tuple(_with_runbooks(alerts, _gpu_alerts(alerts, targets)))))
        groups.append(RuleGroup("gpufleet-cost", tuple(_with_runbooks(alerts, _cost_rules(
            alerts, targets.prices, GPU_IDENTITY[targets.source])))))
    if not alerts.enabled:
        return groups
    if targets.dcgm:
        groups.append(RuleGroup("gpufleet-telemetry", tuple(_with_runbooks(alerts, _telemetry_rules(targets)))))
        groups.append(RuleGroup("gpufleet-capacity", tuple(_with_runbooks(alerts, _capacity_rules(targets)))))
    network = tuple(_with_runbooks(alerts, _network_rules(alerts, targets.network, targets.network_source)))
    if network:
        groups.append(RuleGroup("gpufleet-network", network))
    return groups


def _with_runbooks(alerts: Alerts, rules: Iterable[Rule]) -> Iterable[Rule]:
    """Each alert linked to its runbook under the stack's `runbook_base_url`."""
    for r in rules:
        if r.alert:
            r = replace(r, annotations={**r.annotations, "runbook_url": runbook_url(alerts.runbook_base_url,
                                                                                    r.name)})
        yield r


GPU_LABELS = "node, gpu, UUID, modelName"
"""The labels a hardware alert keeps: the GPU and its node, not the pods sharing it (one alert per GPU)."""
PENDING_GPU_PODS = ('sum by (namespace, pod) (kube_pod_container_resource_requests{resource="nvidia_com_gpu"}) '
                    "* on (namespace, pod) group_left max by (namespace, pod) (kube_pod_status_unschedulable)")
"""GPUs requested by each pod the scheduler found no room for (kube-state-metrics: `kube_pod_status_unschedulable`
is 1 while the pod's PodScheduled condition is false for Unschedulable; the requests carry `resource` with the
extended resource's name sanitised, `nvidia.com/gpu` -> `nvidia_com_gpu`)."""
PENDING_RECORD = "namespace:gpufleet_gpu_requests_pending:sum"


def _gpu_alerts(alerts: Alerts, targets: RuleTargets) -> Iterable[Rule]:
    yield from _usage_alerts(alerts, targets.source)
    if targets.source is MetricSource.DCGM_EXPORTER:
        yield from _xid_alerts(alerts)
        yield from _hardware_alerts(alerts)


def _usage_alerts(alerts: Alerts, source: MetricSource) -> Iterable[Rule]:
    """Utilisation, memory and idleness, each meaning something on-call can act on.

    A busy GPU is what GPUs are bought for and vLLM reserves 90% of memory by default: neither is a problem on its
    own. Saturation matters while GPU work waits for capacity; full memory matters when the job holding it
    crashes. Averages over the window (and `keep_firing_for` where the evaluator has it) keep one odd sample from
    resetting or flapping an alert.
    """
    util, mem, idle = alerts.gpu_utilization, alerts.gpu_memory, alerts.gpu_idle
    if util.enabled:
        yield Rule("GpuUtilizationHigh",
                   f"avg_over_time(DCGM_FI_DEV_GPU_UTIL[{util.window}]) > {_percent(util.percent)} "
                   f"and on () (sum({PENDING_GPU_PODS}) > 0)", True, None,
                   {"severity": "warning"},
                   {"summary": f"{_GPU} above {_percent(util.percent)}% busy over {util.window} while GPU pods "
                               "wait for capacity",
                    "description": "Utilisation averages {{ $value | humanize }}% and pods requesting GPUs are "
                                   "unschedulable: add capacity or rebalance the queue."},
                   keep_firing_for=util.window)
    if mem.enabled:
        used = "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)"
        yield Rule("GpuMemoryHigh",
                   f"100 * {used} > {_percent(mem.percent)} and on (namespace, pod) "
                   f"(increase(kube_pod_container_status_restarts_total[1h]) > 0)", True, mem.window,
                   {"severity": "warning"},
                   {"summary": f"{_GPU} memory above {_percent(mem.percent)}% and its pod restarting",
                    "description": "{{ $value | humanize }}% of the GPU's memory is in use and the pod holding it "
                                   "restarted within the hour: likely CUDA out-of-memory. Lower the "
                                   "batch size or memory reservation, or move to a larger GPU."},
                   keep_firing_for=mem.window)
    if idle.enabled:
        yield _idle_alert(idle, source)

def _xid_alerts(alerts: Alerts) -> Iterable[Rule]:
    """XIDs by code from dcgm-exporter's `DCGM_EXP_XID_ERRORS_COUNT` (gpu-fleet's counters file enables it).

    The count per `xid` over the exporter's 5-minute window sees every new error, a repeat of the same code
    included (the `DCGM_FI_DEV_XID_ERRORS` gauge holds the last code, so a repeat left it unchanged). Hardware codes
    page; application codes go to the workload's namespace (its owning team), as NVIDIA's catalog buckets them
    (`components.catalog.xid`). `max_over_time` keeps the alert `resolve_after` past the last error on every
    evaluator (ClusterRules have no `keep_firing_for`).
    """
    xid = alerts.xid_errors
    if not xid.enabled:
        return
    window = xid.resolve_after
    count = "DCGM_EXP_XID_ERRORS_COUNT"
    yield Rule("GpuXidError",
               f'max by ({GPU_LABELS}, xid) (max_over_time({count}{{xid=~"{xid_regex(XidClass.HARDWARE)}"}}'
               f"[{window}])) > 0", True, None, {"severity": "critical"},
               {"summary": f"XID {{{{ $labels.xid }}}} (hardware) on {_GPU}",
                "description": "NVIDIA's XID catalog puts this code in a reset/drain bucket "
                               "(docs.nvidia.com/deploy/xid-errors): cordon and drain the node, reset the GPU, and "
                               f"replace it if the code repeats. Resolves {window} after the last one."})
    yield Rule("GpuXidApplicationError",
               f'max_over_time({count}{{xid=~"{xid_regex(XidClass.APPLICATION)}"}}[{window}]) > 0', True, None,
               {"severity": "warning"},
               {"summary": f"XID {{{{ $labels.xid }}}} (application fault) on {_GPU}"
                           "{{ with $labels.namespace }}, namespace {{ . }}{{ end }}",
                "description": "The application faulted on the GPU (NVIDIA's RESTART_APP bucket): its owners "
                               "restart or fix it; the GPU is not at fault unless other workloads see it too."})
    yield Rule("GpuXidUnclassified",
               f'max by ({GPU_LABELS}, xid) (max_over_time({count}{{xid!="", xid!~"{classified_regex()}"}}'
               f"[{window}])) > 0", True, None, {"severity": "warning"},
               {"summary": f"XID {{{{ $labels.xid }}}} on {_GPU}",
                "description": "A code gpu-fleet's XID catalog does not classify: look it up in NVIDIA's catalog "
                               "and add it to components/catalog/xid.py."})


_HEALTH_WINDOW = "10m"
"""Window over which hardware error counters must grow: two scrapes at least, and the alert stays this long after
the last error."""


def _increase(metric: str) -> str:
    return f"max by ({GPU_LABELS}) (increase({metric}[{_HEALTH_WINDOW}]))"


def _hardware_alerts(alerts: Alerts) -> Iterable[Rule]:
    """The health fields gpu-fleet's counters file enables (components/kubernetes/dcgm_counters.py)."""
    yield Rule("GpuRowRemapFailure", f"max by ({GPU_LABELS}) (DCGM_FI_DEV_ROW_REMAP_FAILURE) > 0", True, None,
               {"severity": "critical"},
               {"summary": f"{_GPU}: memory row remapping failed",
                "description": "The GPU could not remap a failing memory row: it needs replacing. Drain the "
                               "node."})
    yield Rule("GpuEccDoubleBitError", f"{_increase('DCGM_FI_DEV_ECC_DBE_VOL_TOTAL')} > 0", True, None,
               {"severity": "critical"},
               {"summary": f"{_GPU}: uncorrectable (double-bit) ECC error",
                "description": "The GPU's memory returned data it could not correct; the job on it is corrupt or "
                               "dead. Drain the node and reset the GPU (a row remap follows on A100 and newer)."})
    yield Rule("GpuRowRemapPending", f"{_increase('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS')} > 0", True, None,
               {"severity": "warning"},
               {"summary": f"{_GPU}: a row was remapped after an uncorrectable error",
                "description": "The remap takes effect at the next GPU reset: drain the node and reset the GPU "
                               "when its jobs allow."})
    nvlink = "|".join(f"DCGM_FI_DEV_NVLINK_{kind}_ERROR_COUNT_TOTAL"
                      for kind in ("CRC_FLIT", "CRC_DATA", "REPLAY", "RECOVERY"))
    yield Rule("GpuNvlinkErrors",
               f'sum by ({GPU_LABELS}) (increase({{__name__=~"{nvlink}"}}[{_HEALTH_WINDOW}])) > 0', True, "15m",
               {"severity": "warning"},
               {"summary": f"{_GPU}: NVLink CRC, replay or recovery errors for 15m",
                "description": "NVLink corrects an odd error by replaying; errors that keep coming mean a failing "
                               "link that slows collective operations. Drain the node and run `dcgmi diag -r 2`."})
    yield Rule("GpuPcieReplays", f"{_increase('DCGM_FI_DEV_PCIE_REPLAY_COUNTER')} > 0", True, "15m",
               {"severity": "warning"},
               {"summary": f"{_GPU}: PCIe replays for 15m",
                "description": "The PCIe link keeps retrying transfers (riser, slot or GPU): expect slow host "
                               "transfers and, later, XID 79. Drain the node and have it inspected."})
    for kind, cause in (("Thermal", "cooling"), ("Power", "power capping")):
        yield Rule(f"Gpu{kind}Throttling",
                   f"max by ({GPU_LABELS}) (rate(DCGM_FI_DEV_{kind.upper()}_VIOLATION[5m])) / 1e9 > 0.1", True,
                   "15m", {"severity": "warning"},
                   {"summary": f"{_GPU} throttled by {cause} over 10% of the time for 15m",
                    "description": "{{ $value | humanizePercentage }} of the time the GPU ran below its clocks for "
                                   f"{cause}: jobs on it run slow and hold their peers back."})


def _gpu_nodes(targets: RuleTargets) -> str:
    """One series per GPU node, labelled `node`."""
    if targets.inventory is NodeInventory.GKE_KUBELET:
        return 'max by (node) (kubelet_node_name{gpu_fleet_inventory="gpu"})'
    return 'max by (node) (kube_node_status_capacity{resource="nvidia_com_gpu"}) > 0'


def _dcgm_nodes(targets: RuleTargets) -> str:
    """The nodes DCGM series come from, labelled `node` (managed DCGM names it `Hostname`)."""
    if targets.source is MetricSource.GKE_MANAGED:
        return 'max by (node) (label_replace(DCGM_FI_DEV_GPU_UTIL, "node", "$1", "Hostname", "(.+)"))'
    return "max by (node) (DCGM_FI_DEV_GPU_UTIL)"


def _telemetry_rules(targets: RuleTargets) -> Iterable[Rule]:
    """Alerts for when the metrics stop: a quiet GPU fleet must mean a healthy one, not a crashed exporter."""
    yield Rule("GpuMetricsMissing", f"{_gpu_nodes(targets)} unless on (node) {_dcgm_nodes(targets)}", True, "15m",
               {"severity": "warning"},
               {"summary": "GPU node {{ $labels.node }} exports no DCGM series",
                "description": "The node has GPUs but no DCGM metrics for 15 minutes: the exporter is down or "
                               "crash-looping, so no GPU alert, dashboard or cost figure sees this node."})
    if targets.prices:
        yield Rule("GpuCostRecordsStale",
                   "absent_over_time(cluster:gpufleet_gpu_cost_usd_per_hour:sum[10m]) "
                   f"and on () (count({_gpu_nodes(targets)}) > 0)", True, "15m", {"severity": "warning"},
                   {"summary": "GPU cost recording rules produce nothing while the cluster has GPU nodes",
                    "description": "Budget guards and cost dashboards read 0 USD: DCGM series are missing or no "
                                   "GPU model matches the catalog's DCGM names."})
    if targets.heartbeat:
        # kube-prometheus' Watchdog (general.rules): always firing, so its absence at the dead man's switch means
        # the rule evaluator, Prometheus or Alertmanager is down.
        yield Rule("Watchdog", "vector(1)", True, None, {"severity": "none"},
                   {"summary": "Heartbeat: always firing while the rule evaluator and Alertmanager work",
                    "description": "Routed to observability.deadmans_switch, which raises an incident when it "
                                   "stops arriving."})


def _capacity_rules(targets: RuleTargets) -> Iterable[Rule]:
    """GPU work waiting for capacity (routed like every GPU alert)."""
    yield Rule(PENDING_RECORD, f"sum by (namespace) ({PENDING_GPU_PODS})", False)
    yield Rule("GpuPodsPending", f"{PENDING_RECORD} > 0", True, "15m", {"severity": "warning"},
               {"summary": "{{ $value }} GPUs requested by unschedulable pods in namespace {{ $labels.namespace }} "
                           "for 15m",
                "description": "No node has room for these GPU pods: the pool is at its maximum, the quota or a "
                               "stockout blocks scale-up, or the pods ask for a GPU type no pool offers."})
    if targets.cluster_autoscaler:
        # The cluster autoscaler's own counter (kubernetes/autoscaler cluster-autoscaler/metrics/metrics.go,
        # `failed_scale_ups_total{reason}`), scraped by OpenShift's monitoring of the ClusterAutoscaler.
        yield Rule("GpuScaleUpFailed", "sum by (reason) (increase(cluster_autoscaler_failed_scale_ups_total[15m])) "
                                       f"> 0 and on () (sum({PENDING_RECORD}) > 0)", True, None,
                   {"severity": "warning"},
                   {"summary": "Cluster autoscaler scale-ups failing ({{ $labels.reason }}) while GPU pods wait",
                    "description": "The autoscaler could not add nodes (cloud stockout, quota or launch error) "
                                   "while GPU pods are unschedulable."})


def _fleet(labels: dict[str, str] | None = None) -> dict[str, str]:
    """A recording rule's labels plus gpu-fleet's own (`FLEET_ALERT_LABEL`), so the series it records carry it too.

    Alerts need no such call: `Rule.to_dict` labels every alert.
    """
    key, value = FLEET_ALERT_LABEL
    return {**(labels or {}), key: value}


def _gpu_series(sel: str) -> str:
    """Every DCGM series naming a GPU, selected by `sel`: utilisation, or memory where utilisation is missing.

    dcgm-exporter renders each MIG instance with its parent's `UUID` (render_metrics.go @d5e5f51, labels
    `GPU_I_PROFILE`/`GPU_I_ID`), and DCGM leaves device utilisation blank or 0 on MIG (NVIDIA/dcgm-exporter#216,
    #430): the frame-buffer series is there either way, so a MIG GPU is never a free one.
    """
    return f"(DCGM_FI_DEV_GPU_UTIL{{{sel}}} or DCGM_FI_DEV_FB_USED{{{sel}}})"


_HELD = 'namespace!=""'
"""A series a pod holds: dcgm-exporter names the pod's namespace only while one holds the GPU."""

IDLE_LABELS = ("UUID", "gpu", "modelName", "node", "Hostname", "hostname")
"""What an idle alert names besides the GPU's identity (labels a source lacks are simply absent)."""


def _idle_alert(idle: GpuIdle, source: MetricSource) -> Rule:
    """GpuIdle: once per physical GPU, or per MIG instance, whatever number of pods share it.

    Time-shared GPUs repeat the device's series once per pod (dcgm-exporter's pod mapping), so the alert takes the
    busiest series of each `UUID`. MIG instances report no device utilisation: their graphics-engine activity
    (`DCGM_FI_PROF_GR_ENGINE_ACTIVE`, a 0-1 ratio, per `GPU_I_ID`; the NVIDIA maintainers' advice in
    dcgm-exporter#216) says whether the slice works.
    """
    limit = _percent(idle.percent)
    by = ", ".join(dict.fromkeys([*GPU_IDENTITY[source].split(", "), *IDLE_LABELS]))
    whole = f'max by ({by}) (DCGM_FI_DEV_GPU_UTIL{{GPU_I_ID=""}}) < {limit}'
    mig = f'100 * max by ({by}, GPU_I_ID, GPU_I_PROFILE) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{{GPU_I_ID!=""}}) < {limit}'
    return Rule("GpuIdle", f"({whole}) or ({mig})", True, idle.window, {"severity": "info"},
                {"summary": f"{_GPU}{{{{ with $labels.GPU_I_PROFILE }}}} (MIG {{{{ . }}}} instance "
                            f"{{{{ $labels.GPU_I_ID }}}}){{{{ end }}}} under {limit}% busy for {idle.window}",
                 "description": "Paid for and unused: release it, or let the autoscaler remove the node "
                                "(namespace:gpufleet_gpu_allocated:sum says which teams hold GPUs)."})


def _cost_rules(alerts: Alerts, prices: Sequence[GpuPrice], identity: str) -> Iterable[Rule]:
    # One series per physical GPU: time-shared GPUs appear once per pod, MIG slices once per instance, all with
    # the GPU's identity. The cluster figures count every GPU the exporter sees, held by a pod or not (a node
    # is billed whether or not anything runs on it); the namespace figures count what each team holds.
    def gpus(sel: str) -> str:
        return f"count by ({identity}) {_gpu_series(sel)}"

    def held(sel: str) -> str:
        return f"count by (namespace, {identity}) {_gpu_series(_HELD + sel)}"

    yield Rule("namespace:gpufleet_gpu_allocated:sum", f"count by (namespace) ({held('')})", False, labels=_fleet())
    for p in prices:
        model = f'modelName=~"{p.model_pattern}"'
        price = f"{p.usd_per_hour:.6g}"
        yield Rule("gpu_model:gpufleet_gpu_cost_usd_per_hour:sum", f"{price} * count({gpus(model)})",
                   False, labels=_fleet({"gpu_model": p.gpu_model}))
        yield Rule("namespace_gpu_model:gpufleet_gpu_cost_usd_per_hour:sum",
                   f"{price} * count by (namespace) ({held(', ' + model)})", False,
                   labels=_fleet({"gpu_model": p.gpu_model}))
    if not prices:
        return
    yield Rule("namespace:gpufleet_gpu_cost_usd_per_hour:sum",
               "sum by (namespace) (namespace_gpu_model:gpufleet_gpu_cost_usd_per_hour:sum)", False, labels=_fleet())
    yield Rule(CLUSTER_COST_RULE, "sum(gpu_model:gpufleet_gpu_cost_usd_per_hour:sum)", False, labels=_fleet())
    if alerts.enabled and alerts.cost_spike.enabled:
        yield _cost_spike(alerts.cost_spike)


CLUSTER_COST_RULE = "cluster:gpufleet_gpu_cost_usd_per_hour:sum"
"""USD per hour of every GPU the cluster's exporters see, held or idle: what the fleet guards and tiles sum."""


def _cost_spike(spike: CostSpike) -> Rule:
    """GpuCostSpike: the spend rate at `factor` times the highest rate of a few minutes `window` ago, floored.

    The baseline is the highest rate over `SPIKE_BASELINE` ending `window` ago (`max_over_time ... offset`), so an
    exporter missing for a few scrapes an hour ago does not read as a low baseline (an instant `offset` took the
    dip as the baseline and fired a false spike an hour later). It never counts as less than `min_usd_per_hour`,
    and where there was no spend at all (no series: a pool scaling up from zero, where an instant `offset` gave an
    empty vector and no alert) the floor alone is the baseline.
    """
    factor, floor, rate = f"{spike.factor:g}", f"{spike.min_usd_per_hour:g}", CLUSTER_COST_RULE
    base = f"max_over_time({rate}[{SPIKE_BASELINE}] offset {spike.window})"
    expr = (f"{rate} >= {factor} * clamp_min({base}, {floor})"
            f" or ({rate} >= {factor} * {floor} unless {base})")
    return Rule("GpuCostSpike", expr, True, None, {"severity": "warning"},
                {"summary": f"GPU spend rate at {factor}x what it was {spike.window} ago "
                            f"(or {factor}x {floor} USD an hour, whichever is more)",
                 "description": "GPUs in this cluster now cost {{ $value | humanize }} USD an hour at catalog "
                                "prices; see namespace:gpufleet_gpu_cost_usd_per_hour:sum for who grew."})


SPIKE_BASELINE = "10m"
"""How far back from `window` ago the spike's baseline looks: longer than an exporter restart or a few missed
scrapes (30-second scrapes), short enough that the alert resolves about `window` after the step."""


def _network_rules(alerts: Alerts, network: Sequence[NicBandwidth], source: NetworkSource) -> Iterable[Rule]:
    sat = alerts.network_saturation
    if not sat.enabled or not network:
        return
    bandwidth = "instance_type:gpufleet_nic_bandwidth_bytes_per_second:max"
    for nic in sorted(network, key=lambda n: n.machine_type):
        yield Rule(bandwidth, f"vector({nic.gbps * 1e9 / 8:.6g})", False,
                   labels={INSTANCE_TYPE_LABEL: nic.machine_type})
    ratio = _percent(sat.percent / 100)
    if source is NetworkSource.NODE_EXPORTER:
        # node-exporter's dmi collector (on by default, prometheus/node_exporter collector/dmi.go) labels
        # node_dmi_info with the DMI product name, which EC2 Nitro instances set to the instance type (e.g.
        # "t3.large" in the facter output of IvanciniGT/formacionPuppet ejemplo_salida_facts.rb).
        yield Rule("instance:gpufleet_nic_bandwidth_bytes_per_second:max",
                   f'max by (instance) (label_replace(node_dmi_info, "{INSTANCE_TYPE_LABEL}", "$1", "product_name", '
                   f'"(.+)") * on ({INSTANCE_TYPE_LABEL}) group_left {bandwidth})', False)
        traffic = "instance_direction:gpufleet_network_bytes_per_second:rate"
        for direction in ("transmit", "receive"):
            yield Rule(traffic, f'sum by (instance) (rate(node_network_{direction}_bytes_total'
                                f'{{device=~"{NETWORK_DEVICES}"}}[{RATE_WINDOW}]))', False,
                       labels={"direction": direction})
        saturation = f"{traffic} / on (instance) group_left instance:gpufleet_nic_bandwidth_bytes_per_second:max"
    else:
        # The root cgroup's network stats are the host network namespace's (cAdvisor container/raw: pid 1), so
        # NICs GKE moved into pods (GPU networks) are not in them.
        traffic = "node_direction:gpufleet_network_bytes_per_second:rate"
        for direction in ("transmit", "receive"):
            yield Rule(traffic, f"sum by (node, {INSTANCE_TYPE_LABEL}) (rate(container_network_{direction}_bytes_total"
                                f'{{id="/", interface=~"{NETWORK_DEVICES}", {INSTANCE_TYPE_LABEL}!=""}}'
                                f"[{RATE_WINDOW}]))", False, labels={"direction": direction})
        saturation = f"{traffic} / on ({INSTANCE_TYPE_LABEL}) group_left {bandwidth}"
    yield Rule("NodeNetworkSaturated", f"{saturation} > {ratio}", True, sat.window, {"severity": "warning"},
               {"summary": f"Node {{{{ with $labels.node }}}}{{{{ . }}}}{{{{ else }}}}{{{{ $labels.instance }}}}"
                           f"{{{{ end }}}} {{{{ $labels.direction }}}} above {_percent(sat.percent)}% of its NIC "
                           f"bandwidth for {sat.window}",
                "description": "{{ $value | humanizePercentage }} of the machine type's bandwidth (gpu-fleet "
                               "catalog). Data loading or gradient traffic is network-bound on this node."})


def network_machine_types(groups: Sequence[RuleGroup]) -> list[str]:
    """The machine types whose node traffic the rules judge (those with a bandwidth constant), sorted."""
    return sorted({r.labels[INSTANCE_TYPE_LABEL] for g in groups for r in g.rules
                   if not r.alert and INSTANCE_TYPE_LABEL in r.labels})


def reads_gpu_node_inventory(groups: Sequence[RuleGroup]) -> bool:
    """Whether any rule reads GKE's kubelet GPU node inventory (`NodeInventory.GKE_KUBELET`)."""
    return any("kubelet_node_name" in r.expr for g in groups for r in g.rules)


def rule_file(groups: Sequence[RuleGroup]) -> dict[str, Any]:
    """A Prometheus rule file (`promtool check rules` / `test rules` input)."""
    return {"groups": [g.to_dict() for g in groups]}


def prometheus_rule(name: str, namespace: str, groups: Sequence[RuleGroup],
                    labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A monitoring.coreos.com/v1 PrometheusRule holding `groups`."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta,
            "spec": {"groups": [g.to_dict() for g in groups]}}


def gmp_cluster_rules(name: str, groups: Sequence[RuleGroup]) -> dict[str, Any]:
    """GKE managed Prometheus' cluster-scoped ClusterRules: its selectors see every namespace of the cluster.

    Its rule schema has no `keep_firing_for` (prometheus-engine `monitoring.googleapis.com_clusterrules.yaml`), so
    that field is left out; the rules' averaging windows are the hysteresis there.
    """
    rendered = [g.to_dict() for g in groups]
    for g in rendered:
        for r in g["rules"]:
            r.pop("keep_firing_for", None)
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterRules", "metadata": {"name": name},
            "spec": {"groups": rendered}}


def rule_names(groups: Sequence[RuleGroup]) -> list[str]:
    """Alert and record names, in order (what the plan lists)."""
    return [r.name for g in groups for r in g.rules]


HEALTH_SIGNALS = {
    "GpuXidError": "xid", "GpuEccDoubleBitError": "ecc-dbe", "GpuRowRemapPending": "row-remap",
    "GpuRowRemapFailure": "row-remap", "GpuNvlinkErrors": "nvlink", "GpuPcieReplays": "pcie-replay",
    "GpuThermalThrottling": "thermal", "GpuPowerThrottling": "power", "GpuMetricsMissing": "exporter-absent",
}
"""The GPU hardware-health signal each alert gives (what the plan lists per cluster)."""


def health_signals(groups: Sequence[RuleGroup]) -> list[str]:
    """The hardware-health signals a cluster's alerts watch, sorted (empty: none)."""
    return sorted({HEALTH_SIGNALS[r.name] for g in groups for r in g.rules if r.alert and r.name in HEALTH_SIGNALS})


def monitoring_outputs(cluster: str, stack: str, groups: Sequence[RuleGroup],
                       receivers: Iterable[str], *, heartbeat: bool = False) -> dict[str, Any]:
    """What a cluster's monitoring component publishes for the plan and the policies (names, never credentials).

    Its stack, its alerts, its recording rules, its receivers, its GPU health signals and whether its heartbeat
    reaches a dead man's switch.
    """
    return {"cluster": cluster, "stack": stack,
            "alerts": [r.name for g in groups for r in g.rules if r.alert],
            "records": sorted({r.name for g in groups for r in g.rules if not r.alert}),
            "receivers": sorted(receivers),
            "health": health_signals(groups),
            "heartbeat": heartbeat}
