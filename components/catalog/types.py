"""The catalog's record types: a GPU, a machine type, a price, an AWS quota, and the source of each fact."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from enum import Enum

CHECKED = "2026-11-22"
"""The day facts without a page date of their own were read."""


class Cloud(str, Enum):
    GCP = "gcp"
    AWS = "aws"


class Provisioning(str, Enum):
    """How capacity of a machine type may be obtained."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    FLEX_START = "flex-start"
    RESERVATION = "reservation"


@dataclass(frozen=True)
class Source:
    """Where a fact was read, and on which day it was checked."""

    url: str
    checked: str


@dataclass(frozen=True)
class Gpu:
    id: str
    """Catalog id of the GPU model, e.g. ``h100-80gb``; used in plans, capacity rows and policies."""
    _: KW_ONLY
    """Every field after the first only by keyword: a catalog row names each fact it states."""
    model: str
    """Marketing name, e.g. ``NVIDIA H100 80GB``."""
    memory_gb: int
    """Memory of one GPU in GB."""
    gke_accelerator: str | None
    """GKE/Compute Engine accelerator type string, e.g. ``nvidia-h100-80gb``; None where GCP has no such GPU."""
    gcp_quota_metric: str | None
    """Regional Compute Engine quota metric for on-demand capacity, e.g. ``NVIDIA_H100_GPUS``."""
    gcp_preemptible_quota_metric: str | None
    """Regional quota metric that Spot/preemptible capacity counts against."""
    mig_partitions: tuple[str, ...]
    """MIG partition sizes GKE accepts for ``gpu_partition_size``; empty where the GPU has no MIG."""
    source: Source
    aws_gpu_name: str | None = None
    """Karpenter's ``karpenter.k8s.aws/instance-gpu-name`` label value (e.g. ``h100``); None where AWS has none.
    Several catalog GPUs may share one (``a100`` is both A100 40GB and 80GB)."""
    quota_verified: bool = True
    """False where the GCP quota metric follows GCP's `NVIDIA_<MODEL>_GPUS` naming but no source read lists it: the
    plan and the README mark it unverified."""


@dataclass(frozen=True)
class MachineType:
    name: str
    _: KW_ONLY
    """Every field after the first only by keyword: a catalog row names each fact it states."""
    cloud: Cloud
    gpu: str
    """Gpu.id of the GPUs this machine carries."""
    gpus: int
    """GPUs per machine."""
    vcpus: int
    memory_gb: float
    local_ssd_gb: int
    """Local SSD bundled with the machine type (0 where none is bundled)."""
    aws_quota: str | None
    """AWS only: the vCPU-based EC2 quota family the instance counts against (``P`` or ``G``)."""
    provisioning: frozenset[Provisioning]
    """Ways the machine can be obtained; e.g. a3-highgpu-1g/2g/4g only as Spot or flex-start."""
    source: Source
    efa_interfaces: int = 0
    """AWS only: EFA interfaces the instance supports (Karpenter's ``vpc.amazonaws.com/efa``); 0 where none."""
    verified: bool = True
    """False where vCPUs, memory or Local SSD rest on a source weaker than the cloud's own table (see the row's
    comment); GPU counts and accelerator strings are always sourced."""


@dataclass(frozen=True)
class Refusal:
    """A machine type the clouds sell that gpu-fleet knows of and refuses, with what it does not yet provision."""

    name: str
    _: KW_ONLY
    """Every field after the first only by keyword: a catalog row names each fact it states."""
    cloud: Cloud
    carries: str
    """What the machine carries, e.g. ``4 x NVIDIA GB200 (arm64)``."""
    reason: str
    """Exactly what gpu-fleet does not (yet) provision for it; shown as the config error and in the README."""
    hint: str
    """What to do instead."""
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class PriceSku:
    """One billing SKU a machine's price is composed of, and how much of it one machine-hour uses."""

    sku_id: str | None
    """The cloud's SKU id (GCP Cloud Billing `skuId`, AWS Price List `SKU`); None where the source names none."""
    description: str
    """The SKU's description as the cloud's catalog has it (or the pattern the source matched it with)."""
    quantity: float
    """Units of the SKU per machine-hour: vCPUs, GiB of memory, GPUs, GiB of Local SSD, or 1 instance-hour."""
    unit: str
    """The SKU's usage unit: `h`, `GiBy.h`, `GiBy.mo` (GCP), `Hrs` (AWS)."""
    spot: bool = False
    """True for the Spot / preemptible SKU that prices the spot figure."""


@dataclass(frozen=True)
class Price:
    machine_type: str
    region: str
    on_demand_hourly_usd: float
    spot_hourly_usd: float | None
    source: Source
    """Where the figures were read; `source.checked` is the date of the price data itself (see `as_of`)."""
    skus: tuple[PriceSku, ...] = ()
    """The SKUs the price is composed of (GCP: core, RAM, GPU and bundled Local SSD; AWS: one instance SKU)."""
    how: str = ""
    """How the row was obtained, in one sentence (composed from Cloud Billing SKUs, read from a vendored file)."""

    @property
    def as_of(self) -> str:
        """ISO date of the price data: the day the source published or generated it, never the day it was read."""
        return self.source.checked


@dataclass(frozen=True)
class AwsQuota:
    code: str
    """Service Quotas code, e.g. ``L-417A185B``."""
    _: KW_ONLY
    """Every field after the first only by keyword: a catalog row names each fact it states."""
    name: str
    """Quota name as the Service Quotas console shows it."""
    source: Source
