"""Stack documents and config values for the GPU fabric tests (GKE's A3 pools, EKS's EFA pools), and what the plan
registers for them."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.config_builders import values
from tests.support.plans import gke_of, gke_only

NODE_POOL = "gcp:container/nodePool:NodePool"


def _ultra_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """prod's GKE side with us-central1's A3 Mega pool turned into an A3 Ultra pool (RDMA) on flex-start."""
    doc = gke_only(doc)
    pool = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    pool.update(machine_type="a3-ultragpu-8g", zones=["us-central1-b"], capacity="flex-start", reservation=None,
                compact_placement=False, production_critical=False,
                autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 4})
    return doc


MEGA = "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"


_WITH_SECRETS = ("openshift", "observability", "pagerduty-", "slack-")


def _without_secrets(raw: dict[str, Any]) -> dict[str, Any]:
    """Values without the sections that refer to secrets these tests lack (OpenShift's kubeconfig, the alert
    receivers' credentials), nor the budget's references to those receivers."""
    out = {k: copy.deepcopy(v) for k, v in raw.items() if not k.startswith(_WITH_SECRETS)}
    (out.get("budgets") or {}).get("gcp", {}).pop("receivers", None)
    return out


def _prod_values() -> dict[str, Any]:
    return _without_secrets(values("prod"))


def _mega(raw: dict[str, Any]) -> dict[str, Any]:
    pool: dict[str, Any] = raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"][0]
    assert pool["machine_type"] == "a3-megagpu-8g"
    return pool
