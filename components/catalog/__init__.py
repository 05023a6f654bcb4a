"""The GPU catalog: every GPU fact gpu-fleet relies on, for both clouds, each with its source.

Machine types, the GPU they carry and how many, GKE accelerator strings, quota metrics, GPU zones and
hourly prices live here and nowhere else; config validation, components, capacity and policies ask this
package (`from components import catalog`). The facts sit in one module per cloud (`gcp`, `aws`) beside the
GPU models (`gpus`); this module answers look-ups over all of them. Prices are list prices at the date
given and can be overridden from stack configuration.
"""

from __future__ import annotations

import difflib

from components.catalog import aws as _aws
from components.catalog import fabric, gcp_limits
from components.catalog import gcp as _gcp
from components.catalog.aws import AWS_QUOTAS
from components.catalog.gcp import (
    CAPACITY_CONSTRAINED_SERIES,
    GCP_ALL_REGIONS_METRIC,
    GCP_PROVISIONING_SOURCES,
    GPU_ZONES,
    GPU_ZONES_CROSSCHECK_SOURCES,
    GPU_ZONES_SOURCE,
    KNOWN_MISTAKES,
)
from components.catalog.gcp_limits import GCP_REGIONS, LOCAL_SSD_GB, MACHINE_SERIES, MachineSeries
from components.catalog.gpus import (
    GCP_QUOTA_METRICS_SOURCES,
    GKE_ACCELERATOR_SOURCES,
    GPUS,
    MIG_PARTITIONS_SOURCES,
)
from components.catalog.telemetry import (
    DCGM_MODEL_PATTERNS,
    NIC_BANDWIDTH_SOURCES,
    NIC_GBPS,
    dcgm_model_pattern,
    host_nic_gbps,
    nic_gbps,
)
from components.catalog.types import AwsQuota, Cloud, Gpu, MachineType, Price, Provisioning, Refusal, Source

__all__ = [
    # Rows and their sources (GPUs and machines per cloud, zones, quotas, refusals, NIC bandwidth, DCGM names)
    "AWS_QUOTAS",
    "CAPACITY_CONSTRAINED_SERIES",
    "DCGM_MODEL_PATTERNS",
    "GCP_ALL_REGIONS_METRIC",
    "GCP_PROVISIONING_SOURCES",
    "GCP_QUOTA_METRICS_SOURCES",
    "GCP_REGIONS",
    "GKE_ACCELERATOR_SOURCES",
    "GPUS",
    "GPU_ZONES",
    "GPU_ZONES_CROSSCHECK_SOURCES",
    "GPU_ZONES_SOURCE",
    "KNOWN_MISTAKES",
    "LOCAL_SSD_GB",
    "MACHINE_SERIES",
    "MACHINE_TYPES",
    "MIG_PARTITIONS_SOURCES",
    "NIC_BANDWIDTH_SOURCES",
    "NIC_GBPS",
    "PRICES",
    "REFUSED",
    # Row types
    "AwsQuota",
    "Cloud",
    "Gpu",
    "MachineSeries",
    "MachineType",
    "Price",
    "Provisioning",
    "Refusal",
    "Source",
    # Look-ups over the rows, and two submodules with their own: `fabric` (GPU-to-GPU fabric per machine family)
    # and `gcp_limits` (GCP regions, machine series, disk and naming limits)
    "aws_quota",
    "dcgm_model_pattern",
    "fabric",
    "find_machine_type",
    "gcp_limits",
    "gcp_quota_metric",
    "gcp_region_hint",
    "gpu",
    "gpu_regions",
    "gpu_zone_regions",
    "gpu_zones",
    "host_nic_gbps",
    "machine_for_accelerator",
    "machine_hint",
    "machine_type",
    "machine_types",
    "nic_gbps",
    "price",
    "quota_metrics",
    "quota_regions",
    "refusal",
]

MACHINE_TYPES: tuple[MachineType, ...] = _gcp.MACHINE_TYPES + _aws.MACHINE_TYPES
PRICES: tuple[Price, ...] = _gcp.PRICES + _aws.PRICES
REFUSED: tuple[Refusal, ...] = _gcp.REFUSED + _aws.REFUSED
"""Machine types gpu-fleet knows and refuses: never in MACHINE_TYPES, so no pool, price or quota row can use them."""
_REFUSED_BY_NAME: dict[str, Refusal] = {r.name: r for r in REFUSED}

_MACHINES_BY_NAME: dict[str, MachineType] = {m.name: m for m in MACHINE_TYPES}
_GPUS_BY_ID: dict[str, Gpu] = {g.id: g for g in GPUS}
_PRICES: dict[tuple[str, str], Price] = {(p.machine_type, p.region): p for p in PRICES}


def gpu(gpu_id: str) -> Gpu:
    """The GPU with catalog id ``gpu_id``; KeyError if the catalog does not know it."""
    return _GPUS_BY_ID[gpu_id]


def machine_type(name: str) -> MachineType:
    """The machine type ``name``; KeyError if the catalog does not know it."""
    return _MACHINES_BY_NAME[name]


def find_machine_type(name: str) -> MachineType | None:
    return _MACHINES_BY_NAME.get(name)


def refusal(name: str) -> Refusal | None:
    """Why gpu-fleet refuses machine type ``name``; None where it does not (known or simply unknown)."""
    return _REFUSED_BY_NAME.get(name)


def machine_types(cloud: Cloud) -> list[MachineType]:
    return [m for m in MACHINE_TYPES if m.cloud is cloud]


def machine_for_accelerator(accelerator: str, count: int) -> MachineType | None:
    """The GCP machine type that carries ``count`` GPUs of GKE accelerator ``accelerator``, if one is unique."""
    found = [
        m
        for m in MACHINE_TYPES
        if m.cloud is Cloud.GCP and m.gpus == count and gpu(m.gpu).gke_accelerator == accelerator
    ]
    return found[0] if len(found) == 1 else None


def machine_hint(name: str, cloud: Cloud) -> str:
    """A hint for an unknown machine type: a known correction, else the closest names the catalog has."""
    if name in KNOWN_MISTAKES:
        return KNOWN_MISTAKES[name]
    names = [m.name for m in machine_types(cloud)]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "known machine types: " + ", ".join(sorted(names))


def gpu_zones(gpu_id: str, region: str) -> tuple[str, ...] | None:
    """Zones of ``region`` that offer ``gpu_id``; None where the catalog does not know the region."""
    return GPU_ZONES.get(gpu_id, {}).get(region)


def price(machine: str, region: str) -> Price | None:
    """The catalog's list price of ``machine`` in ``region``; None where the catalog has none."""
    return _PRICES.get((machine, region))


def gcp_quota_metric(machine: MachineType, *, spot: bool) -> str:
    """The regional quota metric a GCP node of ``machine`` counts against (Spot counts against PREEMPTIBLE_*)."""
    g = gpu(machine.gpu)
    metric = g.gcp_preemptible_quota_metric if spot else g.gcp_quota_metric
    if metric is None:
        raise KeyError(f"{machine.name}: no GCP quota metric in the catalog")
    return metric


def aws_quota(machine: MachineType, *, spot: bool) -> AwsQuota:
    """The vCPU-based EC2 quota an AWS instance of ``machine`` counts against."""
    if machine.aws_quota is None:
        raise KeyError(f"{machine.name}: not an AWS instance type")
    return AWS_QUOTAS[(machine.aws_quota, spot)]


def gcp_region_hint(region: str) -> str:
    """A hint for a region GCP does not have: the likely region, else where the list lives."""
    close = difflib.get_close_matches(region, GCP_REGIONS, n=1, cutoff=0.75)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "GCP regions look like us-central1 or europe-west4; `gcloud compute regions list` lists them all"


def gpu_regions(gpu_id: str) -> tuple[str, ...]:
    """Regions where the catalog lists zones offering ``gpu_id``, sorted."""
    return tuple(sorted(GPU_ZONES.get(gpu_id, {})))


def gpu_zone_regions() -> frozenset[str]:
    """Regions GPU_ZONES was read for: there a GPU without zones is not offered, elsewhere it is unknown."""
    return frozenset(r for zones in GPU_ZONES.values() for r in zones)


def quota_regions() -> frozenset[str]:
    """Regions a quota can be granted in: every GCP region, and every AWS region the catalog prices."""
    return frozenset(GCP_REGIONS) | frozenset(p.region for p in PRICES if _MACHINES_BY_NAME[p.machine_type].cloud
                                              is Cloud.AWS)


def quota_metrics() -> frozenset[str]:
    """Regional quota names a policy config may grant: GCP GPU metrics (and their preemptible twins), AWS codes."""
    gcp = {m for g in GPUS for m in (g.gcp_quota_metric, g.gcp_preemptible_quota_metric) if m}
    return frozenset(gcp) | frozenset(q.code for q in AWS_QUOTAS.values())
