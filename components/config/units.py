"""What every number of the stack file counts, and in which unit: the README's number table and the hints.

A number is easy to write in the other unit (a fraction where a percent belongs, 80 where a share of 0.8 does, a
cost factor of 200 for seed 002's "200%"), and nothing downstream can tell. Each numeric key names its unit here
(keyed as the README's config tables key it: `[]` for list items, `<name>` for a mapping's keys), so the hint of
an out-of-range value says what the number means, and `gpufleet.docs` prints each one's unit and range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Unit:
    unit: str
    """What one of it is: `percent (0-100)`, `USD a day`, `nodes`."""
    note: str = ""
    """How a value in the other unit reads, or what the rules add to the range; in the hint and the README."""
    rule_range: str = ""
    """A range the rules enforce beyond the model's bounds (e.g. a percent refused at 1 or below, read as a
    fraction); empty where the bounds say it all."""


_PERCENT = Unit("percent (85 means 85%)", "a fraction such as 0.85 would read as under 1%",
                "above 1")
_SHARE = Unit("share of the budget (0.8 means 80%)", "a percent such as 80 would be 8000%")
_THRESHOLD = Unit("share of the budget (0.8 means 80%, 1.2 means 120%)",
                  "above 1 is valid, both clouds alert past the budget; a percent such as 80 would be 8000%")

UNITS: dict[str, Unit] = {
    "prices[].on_demand_hourly_usd": Unit("USD an hour, per node (machine)"),
    "discounts[].percent": Unit("percent off the on-demand list price (20 means 20%)",
                                "a fraction such as 0.2 would read as a 0.2% discount"),
    "prices[].spot_hourly_usd": Unit("USD an hour, per node (machine)", "at most on_demand_hourly_usd"),
    "gke.network.mtu": Unit("bytes", "GCP takes 1300 to 8896"),
    "gke.network.nat.min_ports_per_vm": Unit("ports per VM", "a power of two"),
    "gke.network.nat.max_ports_per_vm": Unit("ports per VM", "a power of two, above min_ports_per_vm"),
    "gke.regions[].clusters[].system_pool.min_nodes_per_zone": Unit("nodes per zone"),
    "gke.regions[].clusters[].system_pool.max_nodes_per_zone": Unit("nodes per zone", "GKE allows 1000"),
    "gke.regions[].clusters[].auto_provisioning.cpu_max": Unit("vCPUs, cluster-wide"),
    "gke.regions[].clusters[].auto_provisioning.memory_max_gb": Unit("GB of memory, cluster-wide"),
    "gke.regions[].clusters[].auto_provisioning.gpu_limits[].max": Unit("GPUs, cluster-wide"),
    "gke.regions[].clusters[].gpu_pools[].accelerator.count": Unit("GPUs per node", "must agree with the machine"),
    "gke.regions[].clusters[].gpu_pools[].autoscaling.min_nodes": Unit("nodes (per zone or in total, as `per`)"),
    "gke.regions[].clusters[].gpu_pools[].autoscaling.max_nodes": Unit(
        "nodes (per zone or in total, as `per`)", "GKE allows 1000 per zone, 2000 per total"),
    "gke.regions[].clusters[].gpu_pools[].upgrade.max_surge": Unit("nodes"),
    "gke.regions[].clusters[].gpu_pools[].upgrade.max_unavailable": Unit("nodes"),
    "gke.regions[].clusters[].gpu_pools[].upgrade.batch_node_count": Unit("nodes per blue-green batch"),
    "gke.regions[].clusters[].gpu_pools[].sharing.max_clients_per_gpu": Unit("containers per GPU"),
    "gke.regions[].clusters[].gpu_pools[].local_ssd_count": Unit("disks per node", "at most what the machine takes"),
    "gke.regions[].clusters[].gpu_pools[].disk_size_gb": Unit("GB (boot disk)", "at most 65536"),
    "gke.regions[].clusters[].gpu_pools[].fabric.networks": Unit("NICs per node", "must agree with the machine"),
    "gke.regions[].clusters[].gpu_pools[].fabric.mtu": Unit("bytes", "must agree with the machine's fabric"),
    "gke.regions[].clusters[].addons.namespaces[].gpus": Unit("GPUs (the namespace's quota)"),
    "gke.regions[].clusters[].maintenance.window.duration_hours": Unit("hours"),
    "eks.regions[].clusters[].log_retention_days": Unit("days", "one of CloudWatch's retention periods"),
    "eks.regions[].clusters[].system_nodes.min_size": Unit("nodes"),
    "eks.regions[].clusters[].system_nodes.max_size": Unit("nodes"),
    "eks.regions[].clusters[].gpu_pools[].gpu_limit": Unit("GPUs (the NodePool's limit)"),
    "eks.regions[].clusters[].gpu_pools[].weight": Unit("Karpenter NodePool weight (higher is tried first)"),
    "eks.regions[].clusters[].gpu_pools[].root_volume_gb": Unit("GB (root volume)"),
    "eks.regions[].clusters[].cpu_pool.cpu_limit": Unit("vCPUs (the NodePool's limit)"),
    "eks.regions[].clusters[].cpu_pool.min_generation": Unit("EC2 instance generation"),
    "eks.regions[].clusters[].maintenance.window.duration_hours": Unit("hours"),
    "eks.regions[].clusters[].addons.namespaces[].gpus": Unit("GPUs (the namespace's quota)"),
    "eks.flow_logs.retention_days": Unit("days", "one of CloudWatch's retention periods"),
    "openshift.clusters[].autoscaler.max_nodes_total": Unit("nodes, cluster-wide"),
    "openshift.clusters[].autoscaler.existing_gpu_limits[].min": Unit("GPUs"),
    "openshift.clusters[].autoscaler.existing_gpu_limits[].max": Unit("GPUs"),
    "openshift.clusters[].tuning[].max_unavailable": Unit("nodes (the MachineConfigPool's)"),
    "openshift.clusters[].gpu_pools[].autoscaling.min_nodes": Unit("nodes per zone (MachineSet)"),
    "openshift.clusters[].gpu_pools[].autoscaling.max_nodes": Unit("nodes per zone (MachineSet)"),
    "openshift.clusters[].gpu_pools[].replicas": Unit("nodes per zone (MachineSet)"),
    "openshift.clusters[].gpu_pools[].root_volume_gb": Unit("GB (root volume)"),
    "openshift.clusters[].gpu_pools[].sharing.time_slicing.replicas": Unit("workloads per GPU"),
    "openshift.clusters[].gpu_pools[].health_check.max_unhealthy": Unit("nodes"),
    "openshift.clusters[].addons.namespaces[].gpus": Unit("GPUs (the namespace's quota)"),
    "budgets.daily_usd": Unit("USD a day", "seed 002: 50000"),
    "budgets.monthly_usd": Unit("USD a month", "at or below daily_usd is refused: a daily figure under the wrong "
                                "key, or the two swapped", "above daily_usd"),
    "budgets.thresholds[]": _THRESHOLD,
    "budgets.gcp.share": _SHARE,
    "budgets.gcp.thresholds[]": _THRESHOLD,
    "budgets.aws.share": _SHARE,
    "budgets.aws.thresholds[]": _THRESHOLD,
    "budgets.teams[].daily_usd": Unit("USD a day", "at most budgets.daily_usd"),
    "budgets.teams[].thresholds[]": _THRESHOLD,
    "observability.alerts.gpu_utilization.percent": _PERCENT,
    "observability.alerts.gpu_memory.percent": _PERCENT,
    "observability.alerts.gpu_idle.percent": Unit(
        "percent (5 means 5%)", "1 is valid (idle under 1%); a fraction such as 0.05 is refused", "1 or above"),
    "observability.alerts.network_saturation.percent": _PERCENT,
    "observability.alerts.cost_spike.factor": Unit(
        "times the spend `window` ago (2 means twice, seed 002's 200%)",
        "a percent such as 200 would never fire: factor 2 is seed 002's 200%"),
    "observability.alerts.cost_spike.min_usd_per_hour": Unit("USD an hour, per cluster"),
}
"""Every numeric key of the stack -> its unit (a test fails when a numeric key of the model has none)."""


@cache
def _patterns() -> list[tuple[re.Pattern[str], Unit]]:
    out = []
    for key, unit in UNITS.items():
        pattern = re.escape(key).replace(r"\[\]", r"\[[^\]]+\]").replace(r"\.<name>", r"\.[^.\[]+")
        out.append((re.compile(f"^{pattern}$"), unit))
    return out


def unit_of(path: str) -> Unit | None:
    """The unit of a concrete key path (`budgets.teams[research].daily_usd`, `budgets.thresholds[1]`)."""
    return next((unit for pattern, unit in _patterns() if pattern.match(path)), None)
