"""EKS's GPU capacity: one row per Karpenter NodePool, from its GPU limit and the instance types it allows.

A NodePool may launch any mix of its instance types, up to `limits: nvidia.com/gpu`. Its row is a ceiling:
- GPUs: at most the limit (`max_gpus`); the pool may scale to zero (`min_gpus` 0).
- Cost: the dearest per-GPU instance type the pool allows (on-demand, unless the pool is spot-only), as
  `machine_type`; `max_nodes` is the limit over that type's GPUs, rounded up, because Karpenter checks the
  limit before each launch, so the last node may overshoot it.
- Quota (`aws_quota_demand`): per vCPU quota code, the worst vCPU-per-GPU instance type the pool allows under
  that code, for the whole limit; every capacity type the pool allows counts, since it may land on any.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from components import catalog
from components.capacity.rows import CapacityRow, Extractor, PriceBook, ResourceView
from components.kubernetes.conventions import (
    LABEL_CLUSTER,
    LABEL_CRITICAL,
    LABEL_EFA_INTERFACES,
    LABEL_POOL,
    LABEL_REGION,
)

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
GPU_RESOURCE = "nvidia.com/gpu"
# Reserved capacity (ODCRs, Capacity Blocks) is billed like on-demand and counts against on-demand quota.
_ON_DEMAND_LIKE = {"on-demand", "reserved"}


def requirement(spec: Mapping[str, Any], key: str) -> list[str]:
    """The `In` values of requirement `key` in a NodePool spec (empty where the pool does not constrain it)."""
    reqs = ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []
    for r in reqs:
        if isinstance(r, Mapping) and r.get("key") == key and r.get("operator") == "In":
            return [str(v) for v in r.get("values") or []]
    return []


def gpu_limit(spec: Mapping[str, Any]) -> int | None:
    """The pool's `limits: nvidia.com/gpu` as a number, or None where it has none."""
    value = (spec.get("limits") or {}).get(GPU_RESOURCE)
    if value is None:
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def _machines(spec: Mapping[str, Any]) -> list[catalog.MachineType]:
    found = (catalog.find_machine_type(t) for t in requirement(spec, "node.kubernetes.io/instance-type"))
    return [m for m in found if m is not None and m.cloud is catalog.Cloud.AWS and m.gpus]


def _node_pool(r: ResourceView, prices: PriceBook) -> Iterator[CapacityRow]:
    spec = r.inputs.get("spec") or {}
    machines = _machines(spec)
    limit = gpu_limit(spec)
    if not machines or limit is None:
        return  # not a GPU pool gpu-fleet can size; policy karpenter-gpu-limit reports a missing limit
    labels = (r.inputs.get("metadata") or {}).get("labels") or {}
    region = str(labels.get(LABEL_REGION) or "")
    capacity_types = requirement(spec, "karpenter.sh/capacity-type") or ["on-demand"]
    spot_only = set(capacity_types) == {"spot"}

    def per_gpu(m: catalog.MachineType) -> float:
        hourly = prices.hourly(m.name, region, spot=spot_only)
        return hourly / m.gpus if hourly is not None else -1.0

    dearest = max(machines, key=per_gpu)
    max_nodes = math.ceil(limit / dearest.gpus)
    yield CapacityRow(
        platform="eks",
        cluster=str(labels.get(LABEL_CLUSTER) or ""),
        region=region,
        pool=str(labels.get(LABEL_POOL) or (r.inputs.get("metadata") or {}).get("name") or r.name),
        machine_type=dearest.name,
        gpu=dearest.gpu,
        accelerator=catalog.gpu(dearest.gpu).aws_gpu_name or dearest.gpu,
        gpus_per_node=dearest.gpus,
        zones=requirement(spec, "topology.kubernetes.io/zone"),
        min_nodes=0,
        max_nodes=max_nodes,
        min_gpus=0,
        max_gpus=limit,
        spot="spot" in capacity_types,
        **prices.row_price(dearest.name, region, spot=spot_only),
        source_urn=r.urn,
        capacity="+".join(capacity_types),
        production_critical=labels.get(LABEL_CRITICAL) == "true",
        machine_types=tuple(m.name for m in machines),
        capacity_types=tuple(capacity_types),
        fabric=f"EFA x{efa}" if (efa := str(labels.get(LABEL_EFA_INTERFACES) or "")).isdigit() and int(efa) else "TCP",
    )


def aws_quota_demand(row: CapacityRow) -> dict[str, tuple[int, catalog.AwsQuota]]:
    """Quota code -> (vCPUs, quota) the row may use at its worst instance mix (see the module docstring)."""
    names = row.machine_types or (row.machine_type,)
    machines = [m for n in names if (m := catalog.find_machine_type(n)) is not None and m.aws_quota]
    capacity_types = row.capacity_types or (("spot",) if row.spot else ("on-demand",))
    demand: dict[str, tuple[int, catalog.AwsQuota]] = {}
    for capacity in sorted(set(capacity_types)):
        spot = capacity not in _ON_DEMAND_LIKE
        by_code: dict[str, list[catalog.MachineType]] = {}
        quotas: dict[str, catalog.AwsQuota] = {}
        for m in machines:
            quota = catalog.aws_quota(m, spot=spot)
            by_code.setdefault(quota.code, []).append(m)
            quotas[quota.code] = quota
        for code, ms in by_code.items():
            worst = max(ms, key=lambda m: m.vcpus / m.gpus)
            vcpus = math.ceil(row.max_gpus / worst.gpus) * worst.vcpus
            if vcpus > demand.get(code, (0, quotas[code]))[0]:
                demand[code] = (vcpus, quotas[code])
    return demand


def pool_path(row: CapacityRow) -> str:
    return f"eks.regions[{row.region}].clusters[{row.cluster}].gpu_pools[{row.pool}]"


EXTRACTORS: dict[str, Extractor] = {NODEPOOL: _node_pool}
