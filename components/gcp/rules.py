"""A GKE cluster's GPU alert rules: read from the DCGM source its GPU stack reports through, priced as its pools.

The rule definitions are `components.kubernetes.monitoring.rules`' (one set for every platform); this module only
says what a GKE cluster gives them: its metric source, its pools' prices and its machines' host NIC bandwidth.
"""

from __future__ import annotations

from components.capacity.rows import PriceBook
from components.config.addons import DcgmSource, GpuStack
from components.config.gke import CapacityModel, GkeCluster
from components.config.observability import Alerts
from components.kubernetes.monitoring.rules import (
    MetricSource,
    NetworkSource,
    NodeInventory,
    RuleGroup,
    RuleTargets,
    gpu_rule_groups,
)
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, nic_bandwidths


def gke_rule_groups(alerts: Alerts, region: str, spec: GkeCluster, book: PriceBook) -> list[RuleGroup]:
    """The cluster's GPU rules, priced as its GPU pools; none for a cluster without GPUs.

    Over GKE managed DCGM, or dcgm-exporter (standalone or the operator's). A cluster without GPU pools or
    auto-provisioned GPUs has no DCGM series to watch. Node traffic is judged on the pools' machine types that
    have a host NIC bandwidth in the catalog (auto-provisioned machines are chosen by GKE, so none of theirs).
    """
    if not spec.gpu_pools and not spec.auto_provisioning.gpu_limits:
        return []
    managed = spec.addons.gpu_stack is GpuStack.GKE and spec.addons.dcgm is DcgmSource.MANAGED
    pools = [PoolPricing((p.machine_type,), region, spot=p.capacity is CapacityModel.SPOT) for p in spec.gpu_pools]
    machines = sorted({p.machine_type for p in spec.gpu_pools})
    return gpu_rule_groups(alerts, RuleTargets(MetricSource.GKE_MANAGED if managed else MetricSource.DCGM_EXPORTER,
                                               gpu_prices(pools, book), nic_bandwidths(machines),
                                               network_source=NetworkSource.KUBELET_CADVISOR,
                                               inventory=NodeInventory.GKE_KUBELET, heartbeat=True))
