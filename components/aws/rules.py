"""An EKS cluster's alert rules: GPU rules over dcgm-exporter, priced as its Karpenter pools, and Karpenter's own.

The rule definitions are `components.kubernetes.monitoring`'s (one set for every platform); this module only says
what an EKS cluster gives them: its pools' prices, its instance types' NIC bandwidth and its reserved pools.
"""

from __future__ import annotations

from components.capacity.rows import PriceBook
from components.config.eks import CapacityType, EksCluster
from components.config.observability import Alerts
from components.kubernetes.monitoring.karpenter_rules import ReservedPool, karpenter_rule_groups
from components.kubernetes.monitoring.rules import MetricSource, RuleGroup, RuleTargets, gpu_rule_groups
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, nic_bandwidths


def eks_rule_groups(alerts: Alerts, region: str, spec: EksCluster, book: PriceBook) -> list[RuleGroup]:
    """The cluster's GPU rules over dcgm-exporter, priced as its pools (none without GPU pools), and Karpenter's.

    Network saturation is measured against the catalog's bandwidth of every instance type the pools allow.
    """
    karpenter = karpenter_rule_groups(
        [ReservedPool(p.name, tuple(p.instance_types)) for p in spec.gpu_pools
         if CapacityType.RESERVED in p.capacity_types]) if alerts.enabled else []
    if not spec.gpu_pools:
        return karpenter
    pools = [PoolPricing(tuple(p.instance_types), region, spot=set(p.capacity_types) == {CapacityType.SPOT})
             for p in spec.gpu_pools]
    machines = sorted({m for p in spec.gpu_pools for m in p.instance_types})
    return [*gpu_rule_groups(alerts, RuleTargets(MetricSource.DCGM_EXPORTER, gpu_prices(pools, book),
                                                 nic_bandwidths(machines), dcgm=spec.addons.dcgm_exporter)),
            *karpenter]
