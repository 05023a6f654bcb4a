"""The policies of the gpu-fleet pack, in one list (built into a PolicyPack by `__main__.py`)."""

from __future__ import annotations

from pulumi_policy import Policy

from policies import eks_security, gke_security, iam, openshift
from policies.budget import gpu_budget, gpu_budget_warning
from policies.caps import gpu_pool_max_nodes, nap_gpu_limits
from policies.observability import alerts_have_receivers
from policies.price_age import gpu_price_age
from policies.quota import gpu_quota
from policies.reservations import gpu_critical_capacity_reserved
from policies.spot import gpu_critical_not_spot, gpu_spot_share
from policies.waivers import policy_waivers, waivable

PACK_NAME = "gpu-fleet"

_WAIVABLE: list[Policy] = [
    gpu_quota,
    gpu_budget,
    gpu_budget_warning,
    gpu_spot_share,
    gpu_critical_not_spot,
    gpu_critical_capacity_reserved,
    gpu_pool_max_nodes,
    nap_gpu_limits,
    *gke_security.POLICIES,
    *eks_security.POLICIES,
    *openshift.POLICIES,
    *iam.POLICIES,
    alerts_have_receivers,
    gpu_price_age,
]

# Every policy takes `waivers` (policies/waivers.py); `policy-waivers` reports them and runs last, after the others
# have recorded what they waived.
POLICIES: list[Policy] = [*(waivable(p) for p in _WAIVABLE), policy_waivers]
