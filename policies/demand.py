"""What a stack asks of its quotas and budget, as plain functions of the shared capacity rows: the pack's arithmetic.

No `pulumi_policy` here: the policies (`policies.quota`, `policies.budget`, `policies.view`) judge with these
functions, and the review's headroom (`gpufleet/headroom.py`) shows the same numbers without loading the pack's SDK,
so a `gpu-fleet plan --no-policy` pays only for what it uses and the comment and the verdict cannot disagree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components import catalog
from components.capacity import CapacityRow, PriceBook, cost
from components.capacity.eks import aws_quota_demand

PREEMPTIBLE_CAPACITY = {"spot", "flex-start", "queued"}
GCP_NETWORK = "gcp:compute/network:Network"
NETWORKS = catalog.fabric.GCP_NETWORKS_QUOTA_METRIC
HOURS_PER_DAY = 24


@dataclass
class Usage:
    requested: int = 0
    unit: str = "GPUs"
    rows: list[CapacityRow] = field(default_factory=list)
    spilled_from: str | None = None
    """The PREEMPTIBLE_ metric whose spot and flex-start pools count here, as it is not granted in the region."""


def quota_usage(capacity: Iterable[CapacityRow],
                granted: Mapping[str, Mapping[str, int]] | None = None) -> dict[tuple[str, str], Usage]:
    """(region or "global", metric or AWS quota code) -> what the fleet requests at maximum scale.

    `granted` is the regional quota config; where it grants no PREEMPTIBLE_ metric (absent or 0) in a region,
    spot, flex-start and queued pools count against the standard metric instead. Compute Engine: "To prevent
    Spot VMs from consuming your quotas for standard VMs' ... GPUs ..., consider requesting preemptible
    quota" (Spot docs); "When you create a Flex-start VM, preemptible quota is consumed. If your project
    lacks preemptible quota, then standard quota is consumed" (provisioning models).
    """
    usage: dict[tuple[str, str], Usage] = defaultdict(Usage)
    for row in capacity:
        machine = catalog.find_machine_type(row.machine_type)
        preemptible = row.spot or row.capacity in PREEMPTIBLE_CAPACITY
        if machine is not None and machine.cloud is catalog.Cloud.AWS:
            # Each quota code the pool can reach, at the worst instance mix it allows (capacity.eks).
            for code, (vcpus, quota) in aws_quota_demand(row).items():
                u = usage[(row.region, code)]
                u.unit = f"vCPUs ({quota.name})"
                u.requested += vcpus
                u.rows.append(row)
            continue
        gpu = catalog.gpu(row.gpu) if row.gpu else None
        metric: str | None = None
        if machine is not None:
            metric = catalog.gcp_quota_metric(machine, spot=preemptible)
        elif gpu is not None:
            metric = gpu.gcp_preemptible_quota_metric if preemptible else gpu.gcp_quota_metric
        if metric is None:
            continue
        standard = metric.removeprefix("PREEMPTIBLE_")
        if preemptible and granted is not None and metric != standard \
                and not (granted.get(row.region) or {}).get(metric):
            usage[(row.region, standard)].spilled_from = metric
            metric = standard
        for key in ((row.region, metric), ("global", catalog.GCP_ALL_REGIONS_METRIC)):
            usage[key].requested += row.max_gpus
            usage[key].rows.append(row)
    return dict(usage)


def ceiling_spend(capacity: list[CapacityRow]) -> dict[str, float]:
    """The ceiling per budget period: every pool at its maximum, spot priced as spot (the review reads it too)."""
    c = cost(capacity)
    return {"daily": c.hourly_usd_max * HOURS_PER_DAY, "monthly": c.monthly_usd_max}


def price_book(config: Mapping[str, Any]) -> PriceBook:
    """The policies' `prices` overrides (view.PRICES_SCHEMA) as the capacity rows' price book."""
    return PriceBook({(p["machine_type"], p["region"]): (float(p["on_demand_hourly_usd"]),
                                                           p.get("spot_hourly_usd"))
                      for p in config.get("prices") or []})
