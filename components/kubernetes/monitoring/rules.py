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
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from components.config.observability import Alerts, CostSpike, GpuIdle
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert" if self.alert else "record": self.name, "expr": self.expr}
        if self.for_:
            out["for"] = self.for_
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


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
            groups.append(RuleGroup("gpufleet-gpu", tuple(_gpu_alerts(alerts, targets.source))))
        groups.append(RuleGroup("gpufleet-cost", tuple(_cost_rules(alerts, targets.prices,
                                                                   GPU_IDENTITY[targets.source]))))
    if not alerts.enabled:
        return groups
    network = tuple(_network_rules(alerts, targets.network, targets.network_source))
    if network:
        groups.append(RuleGroup("gpufleet-network", network))
    return groups


def _gpu_alerts(alerts: Alerts, source: MetricSource) -> Iterable[Rule]:
    util, mem, idle, xid = alerts.gpu_utilization, alerts.gpu_memory, alerts.gpu_idle, alerts.xid_errors
    if util.enabled:
        yield Rule("GpuUtilizationHigh", f"DCGM_FI_DEV_GPU_UTIL > {_percent(util.percent)}", True, util.window,
                   {"severity": "warning"},
                   {"summary": f"{_GPU} above {_percent(util.percent)}% busy for {util.window}",
                    "description": "Utilisation is {{ $value }}%. Saturated GPUs queue work: scale the workload "
                                   "out or add capacity."})
    if mem.enabled:
        used = "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)"
        yield Rule("GpuMemoryHigh", f"100 * {used} > {_percent(mem.percent)}", True, mem.window,
                   {"severity": "warning"},
                   {"summary": f"{_GPU} memory above {_percent(mem.percent)}% for {mem.window}",
                    "description": "{{ $value | humanize }}% of the GPU's memory is in use; the next allocation "
                                   "may fail with out-of-memory."})
    if idle.enabled:
        yield _idle_alert(idle, source)
    if source is MetricSource.DCGM_EXPORTER and xid.enabled:
        # DCGM_FI_DEV_XID_ERRORS holds the last XID code and never resets (NVIDIA/dcgm-exporter#500): alert on a
        # change, so the alert resolves `resolve_after` after the last new error. The left operand keeps the code.
        yield Rule("GpuXidError",
                   f"DCGM_FI_DEV_XID_ERRORS > 0 and changes(DCGM_FI_DEV_XID_ERRORS[{xid.resolve_after}]) > 0",
                   True, None, {"severity": "critical"},
                   {"summary": f"XID {{{{ $value }}}} on {_GPU}",
                    "description": "The GPU reported a new XID error; look the code up in NVIDIA's XID catalog "
                                   "(docs.nvidia.com/deploy/xid-errors) and drain the node if it asks for a reset. "
                                   f"Resolves {xid.resolve_after} after the last new error."})
    if source is MetricSource.DCGM_EXPORTER:
        yield Rule("GpuRowRemapFailure", "DCGM_FI_DEV_ROW_REMAP_FAILURE > 0", True, None, {"severity": "critical"},
                   {"summary": f"{_GPU}: memory row remapping failed",
                    "description": "The GPU could not remap a failing memory row: it needs replacing. Drain the "
                                   "node."})


def _fleet(labels: dict[str, str] | None = None) -> dict[str, str]:
    """A cost or idle rule's labels plus gpu-fleet's own (`FLEET_ALERT_LABEL`), which routing matches on."""
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
    return Rule("GpuIdle", f"({whole}) or ({mig})", True, idle.window, _fleet({"severity": "info"}),
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
    return Rule("GpuCostSpike", expr, True, None, _fleet({"severity": "warning"}),
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
    """GKE managed Prometheus' cluster-scoped ClusterRules: its selectors see every namespace of the cluster."""
    return {"apiVersion": "monitoring.googleapis.com/v1", "kind": "ClusterRules", "metadata": {"name": name},
            "spec": {"groups": [g.to_dict() for g in groups]}}


def rule_names(groups: Sequence[RuleGroup]) -> list[str]:
    """Alert and record names, in order (what the plan lists)."""
    return [r.name for g in groups for r in g.rules]


MONITORING_TYPES = ("gpufleet:monitoring:GmpMonitoring", "gpufleet:monitoring:PrometheusStack",
                    "gpufleet:monitoring:OpenShiftMonitoring")
"""The components whose outputs say, per cluster, which monitoring stack, rules and receivers it has."""


def monitoring_outputs(cluster: str, stack: str, groups: Sequence[RuleGroup],
                       receivers: Iterable[str]) -> dict[str, Any]:
    """What a cluster's monitoring component publishes for the plan and the policies (names, never credentials).

    Its stack, its alerts, its recording rules and its receivers.
    """
    return {"cluster": cluster, "stack": stack,
            "alerts": [r.name for g in groups for r in g.rules if r.alert],
            "records": sorted({r.name for g in groups for r in g.rules if not r.alert}),
            "receivers": sorted(receivers)}
