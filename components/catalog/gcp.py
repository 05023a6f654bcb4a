"""GCP's GPU machine types, the zones that offer each GPU, and list prices, each with its source.

Every row cites the page it was read from. ``checked`` is the page's own "Last updated" date where it states
one, else the day it was read. A missing row means "not verified", never "not offered": lookups then return
None and callers treat the fact as unknown.
"""

from __future__ import annotations

from components.catalog import prices as _prices
from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import Cloud, MachineType, Price, Provisioning, Refusal, Source

GCP_GPUS_SOURCE = Source("https://docs.cloud.google.com/compute/docs/gpus", "2026-04-14")
"""GCP "GPU machine types": GPU model, GPU memory and accelerator string of every machine series."""
_GCP_ACCEL = Source("https://docs.cloud.google.com/compute/docs/accelerator-optimized-machines", "2026-04-13")
"""GCP "Accelerator-optimized machine family": vCPUs, memory, bundled Local SSD, GPUs, consumption limits."""
_GCP_CONSUMPTION = Source("https://docs.cloud.google.com/ai-hypercomputer/docs/consumption-models",
                          "2026-04-06")
"""AI Hypercomputer consumption options: Spot and flex-start work for every GPU machine except A4X/A4X Max."""
GKE_GPUS_SOURCE = Source("https://docs.cloud.google.com/kubernetes-engine/docs/how-to/gpus", _CHECKED)
"""GKE "Run GPUs in GKE Standard node pools": the accelerator string GKE expects for each machine series."""
GCP_QUOTA_ENUM_SOURCE = Source(
    "https://github.com/googleapis/googleapis/blob/a59c7af804b5966d65c01088f54ffdcaa3f73f2f"
    "/google/cloud/compute/v1/compute.proto",
    _CHECKED)
"""Compute Engine API Quota.Metric enum: NVIDIA_A100_GPUS, NVIDIA_A100_80GB_GPUS, NVIDIA_L4_GPUS, their
PREEMPTIBLE_ twins and GPUS_ALL_REGIONS. Of the H100 generation it holds only COMMITTED_NVIDIA_H100_GPUS:
the regional H100, H100 Mega and H200 metrics are not in it."""
GCP_QUOTA_REGIONS_SOURCE = Source("https://docs.cloud.google.com/compute/docs/instances/create-use-spot", _CHECKED)
"""NVIDIA_H100_GPUS, NVIDIA_H100_MEGA_GPUS, NVIDIA_H200_GPUS and their PREEMPTIBLE_ twins: the names
`gcloud compute regions describe` reports (the metric names gpu-fleet's issue tracker specifies, matched by
published quota listings); this Spot page says preemptible quota keeps Spot VMs off standard GPU quota."""
GPU_ZONES_SOURCE = Source(
    "https://github.com/skypilot-org/skypilot-catalog/blob/2c3d7ea7d76bf84cf80d382e946c1609571485fd"
    "/catalogs/v9/gcp/vms.csv", _CHECKED)
"""SkyPilot's GCP catalog (v9): its GPU rows (AcceleratorName, Region, AvailabilityZone) are fetched from the
Compute Engine acceleratorTypes API; GPU_ZONES holds the zones listed there. The GCP page "GPU regions and
zones availability" (docs.cloud.google.com/compute/docs/gpus/gpu-regions-zones) could not be retrieved."""
GPU_ZONES_CROSSCHECK_SOURCES: tuple[Source, ...] = (
    Source("https://github.com/skypilot-org/skypilot-catalog/blob/006059e0f18acb1341e22a27751e9f80df6ba92f"
           "/catalogs/v8/gcp/vms.csv", _CHECKED),
    Source("https://github.com/ai-train-blog/blog/blob/fa2d8907ce5cd8d4b486ea71cefc39b5095418d0"
           "/Writerside/topics/GPU-Availability-in-GCP-Vertex-AI.md", _CHECKED),
    Source("https://github.com/TeamADAPT/ai_ml/blob/e2e6f31819937f6db671e9901507f17d741ca07b"
           "/docs/guides/a3_quota_summary.md", _CHECKED),
)
"""GPU_ZONES checked against: another SkyPilot snapshot, v8 (same zones in every region of GPU_ZONES); a
pasted `gcloud compute accelerator-types list | grep us-central1` (no H200 yet; same us-central1 zones); and,
for A3 Mega, whose per-zone rows SkyPilot may share with A3 High, a project's machine-type availability
report (2024-11-20) that finds a3-megagpu-8g in us-central1, us-east4, us-east5 and us-west1 and not in
us-east1, us-south1 or us-west2. It is region-level only: the A3 Mega zones themselves rest on SkyPilot."""
GCP_PROVISIONING_SOURCES: tuple[Source, ...] = (_GCP_ACCEL, _GCP_CONSUMPTION)
"""Where the GCP MachineType.provisioning sets come from."""
_ALL_GCP = frozenset(Provisioning)
"""On-demand, Spot, flex-start and reservations: what A2, G2, A3 Mega and a3-highgpu-8g offer."""
_SPOT_OR_FLEX = frozenset({Provisioning.SPOT, Provisioning.FLEX_START})
"""a3-highgpu-1g/2g/4g: "you must create instances by using Spot VMs or Flex-start VMs"."""
_NO_ON_DEMAND = frozenset({Provisioning.RESERVATION, Provisioning.SPOT, Provisioning.FLEX_START})
"""A3 Ultra: reserve capacity, or use Spot or flex-start; there is no plain on-demand."""


_CHECKED_2026 = "2026-12-01"
_CT = "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/1047080375afbb44da4b596be314634e7486af4a/"
_CT_A4 = Source(_CT + "examples/gke-a4/gke-a4.yaml", _CHECKED_2026)
"""cluster-toolkit's GKE A4 blueprint (1047080, 2026-06-25): a4-highgpu-8g, 8 x nvidia-b200, SPECIFIC_RESERVATION,
COS, GKE `version_prefix "1.35."`; its node-pool module bundles 32 Local SSDs as ephemeral storage
(modules/compute/gke-node-pool/disk_definitions.tf)."""
_CT_G4 = Source(_CT + "examples/gke-g4/gke-g4.yaml", _CHECKED_2026)
"""cluster-toolkit's GKE G4 blueprint: g4-standard-* with `num_gpus` nvidia-rtx-pro-6000 (1/2/4/8 for -48/-96/-192/
-384, pkg/config/hardware.go's shorthand map), a second gVNIC network, COS, GKE `version_prefix "1.35."`."""
_CT_A4X = Source(_CT + "examples/gke-a4x/gke-a4x.yaml", _CHECKED_2026)
"""cluster-toolkit's GKE A4X blueprint: a4x-highgpu-4g, 4 x nvidia-gb200, `target_architecture: arm64`,
hyperdisk-balanced, SPECIFIC_RESERVATION only, a ResourcePolicy `accelerator_topology: "1x72"`, managed DRANET
(`enable_dranet: true`) and the NVIDIA DRA driver (nvidia-dra-driver.yaml) for ComputeDomains."""
_DSTACK_RESERVATIONS = Source("https://github.com/dstackai/dstack/issues/3162", _CHECKED_2026)
"""dstack issue 3162 (GCP reservations): "A4X/A4/A3 Ultra have no on-demand"; with _GCP_CONSUMPTION (Spot and
flex-start for every GPU machine except A4X/A4X Max), A4 is reservation, Spot or flex-start."""
_UNVERIFIED_SPECS = Source("https://docs.cloud.google.com/compute/docs/accelerator-optimized-machines", _CHECKED_2026)
"""vCPUs and memory of a4-highgpu-8g (224 / 3,968 GB) and g4-standard-* (48 vCPU and 180 GB per GPU): the
accelerator-optimized page's A4 and G4 tables could not be read (only its opening, which lists A4X, A4 and G4);
the figures agree with a public hand-maintained GCP price table dated 2026-07-22 whose repository is unnamed.
Rows built on it carry verified=False."""
GCP_2026_SOURCES: tuple[Source, ...] = (_CT_A4, _CT_G4, _CT_A4X, _DSTACK_RESERVATIONS, _UNVERIFIED_SPECS)
"""Where the A4, G4 and A4X facts come from."""


def _gcp(name: str, *, gpu: str, gpus: int, vcpus: int, memory_gb: float, local_ssd_gb: int = 0,
         provisioning: frozenset[Provisioning] = _ALL_GCP, source: Source = _GCP_ACCEL,
         verified: bool = True) -> MachineType:
    """A Compute Engine machine type; every fact by keyword, so a row cannot confuse vCPUs with memory."""
    return MachineType(name, cloud=Cloud.GCP, gpu=gpu, gpus=gpus, vcpus=vcpus, memory_gb=memory_gb,
                       local_ssd_gb=local_ssd_gb, aws_quota=None, provisioning=provisioning, source=source,
                       verified=verified)


MACHINE_TYPES: tuple[MachineType, ...] = (
    # A2 Standard (A100 40GB): Local SSD can be attached but none is bundled.
    _gcp("a2-highgpu-1g", gpu="a100-40gb", gpus=1, vcpus=12, memory_gb=85),
    _gcp("a2-highgpu-2g", gpu="a100-40gb", gpus=2, vcpus=24, memory_gb=170),
    _gcp("a2-highgpu-4g", gpu="a100-40gb", gpus=4, vcpus=48, memory_gb=340),
    _gcp("a2-highgpu-8g", gpu="a100-40gb", gpus=8, vcpus=96, memory_gb=680),
    _gcp("a2-megagpu-16g", gpu="a100-40gb", gpus=16, vcpus=96, memory_gb=1360),
    # A2 Ultra (A100 80GB): 375 GiB of Local SSD bundled per GPU.
    _gcp("a2-ultragpu-1g", gpu="a100-80gb", gpus=1, vcpus=12, memory_gb=170, local_ssd_gb=375),
    _gcp("a2-ultragpu-2g", gpu="a100-80gb", gpus=2, vcpus=24, memory_gb=340, local_ssd_gb=750),
    _gcp("a2-ultragpu-4g", gpu="a100-80gb", gpus=4, vcpus=48, memory_gb=680, local_ssd_gb=1500),
    _gcp("a2-ultragpu-8g", gpu="a100-80gb", gpus=8, vcpus=96, memory_gb=1360, local_ssd_gb=3000),
    # A3 High (H100 80GB): the 1/2/4-GPU shapes only as Spot or flex-start.
    _gcp("a3-highgpu-1g", gpu="h100-80gb", gpus=1, vcpus=26, memory_gb=234, local_ssd_gb=750,
         provisioning=_SPOT_OR_FLEX),
    _gcp("a3-highgpu-2g", gpu="h100-80gb", gpus=2, vcpus=52, memory_gb=468, local_ssd_gb=1500,
         provisioning=_SPOT_OR_FLEX),
    _gcp("a3-highgpu-4g", gpu="h100-80gb", gpus=4, vcpus=104, memory_gb=936, local_ssd_gb=3000,
         provisioning=_SPOT_OR_FLEX),
    _gcp("a3-highgpu-8g", gpu="h100-80gb", gpus=8, vcpus=208, memory_gb=1872, local_ssd_gb=6000),
    _gcp("a3-megagpu-8g", gpu="h100-mega-80gb", gpus=8, vcpus=208, memory_gb=1872, local_ssd_gb=6000),
    _gcp("a3-ultragpu-8g", gpu="h200-141gb", gpus=8, vcpus=224, memory_gb=2952, local_ssd_gb=12000,
         provisioning=_NO_ON_DEMAND),
    # G2 (L4), default memory; Local SSD optional, not bundled. g2-standard-32 has one GPU, not two.
    _gcp("g2-standard-4", gpu="l4", gpus=1, vcpus=4, memory_gb=16),
    _gcp("g2-standard-8", gpu="l4", gpus=1, vcpus=8, memory_gb=32),
    _gcp("g2-standard-12", gpu="l4", gpus=1, vcpus=12, memory_gb=48),
    _gcp("g2-standard-16", gpu="l4", gpus=1, vcpus=16, memory_gb=64),
    _gcp("g2-standard-24", gpu="l4", gpus=2, vcpus=24, memory_gb=96),
    _gcp("g2-standard-32", gpu="l4", gpus=1, vcpus=32, memory_gb=128),
    _gcp("g2-standard-48", gpu="l4", gpus=4, vcpus=48, memory_gb=192),
    _gcp("g2-standard-96", gpu="l4", gpus=8, vcpus=96, memory_gb=384),
    # A4 (B200): 32 bundled Local SSDs (12,000 GiB) as on A3 Ultra; no plain on-demand (_DSTACK_RESERVATIONS).
    _gcp("a4-highgpu-8g", gpu="b200", gpus=8, vcpus=224, memory_gb=3968, local_ssd_gb=12000,
         provisioning=_NO_ON_DEMAND, source=_CT_A4, verified=False),
    # G4 (RTX PRO 6000), the whole-GPU sizes; on-demand, Spot, flex-start and reservations (_GCP_CONSUMPTION).
    # No Local SSD is bundled as far as the sources read say (_CT_G4 attaches none).
    _gcp("g4-standard-48", gpu="rtx-pro-6000", gpus=1, vcpus=48, memory_gb=180, source=_CT_G4, verified=False),
    _gcp("g4-standard-96", gpu="rtx-pro-6000", gpus=2, vcpus=96, memory_gb=360, source=_CT_G4, verified=False),
    _gcp("g4-standard-192", gpu="rtx-pro-6000", gpus=4, vcpus=192, memory_gb=720, source=_CT_G4, verified=False),
    _gcp("g4-standard-384", gpu="rtx-pro-6000", gpus=8, vcpus=384, memory_gb=1440, source=_CT_G4, verified=False),
)

REFUSED: tuple[Refusal, ...] = (
    Refusal("a4x-highgpu-4g", cloud=Cloud.GCP, carries="4 x NVIDIA GB200 (arm64, a 1x72 NVLink domain)",
            reason="A4X is not provisioned by gpu-fleet yet: it needs arm64 node pools (gpu-fleet's installers and "
            "DaemonSets are amd64-only), a compact ResourcePolicy with accelerator_topology 1x72, GKE managed "
            "DRANET networking instead of gpu-fleet's RoCE VPCs, and the NVIDIA DRA driver with ComputeDomains "
            "(IMEX) for the NVLink domain; it is sold only through reservations",
            hint="use a4-highgpu-8g (8 x B200, RDMA) or a3-ultragpu-8g, or provision A4X with cluster-toolkit's "
            "gke-a4x blueprint", sources=(_CT_A4X, _GCP_CONSUMPTION)),
    *(Refusal(f"g4-standard-{n}", cloud=Cloud.GCP, carries=f"{share} of an NVIDIA RTX PRO 6000",
              reason="a fractional G4 shape: its GPU is a share of one RTX PRO 6000, which gpu-fleet's whole-GPU "
              "capacity, quota and price rows cannot count", hint="use g4-standard-48 (one whole GPU) or larger",
              sources=(_CT_G4,))
      for n, share in ((6, "1/8"), (12, "1/4"), (24, "1/2"))),
)
"""GCP machine types gpu-fleet refuses, each with what it does not yet provision (config validation and README)."""

# GCP zones per GPU and region, as listed by GPU_ZONES_SOURCE (SkyPilot v9) and matched by both
# GPU_ZONES_CROSSCHECK_SOURCES. The A3 Mega and A3 Ultra machine rows of the same file list the same zones as
# their GPU rows. A region a GPU is absent from in the source has no entry: A100 40GB in
# us-east4/europe-west1, A100 80GB outside us-central1/us-east4/europe-west4/asia-southeast1, H100 and H100 Mega
# in us-east1, H200 in us-east1/us-west4/asia-southeast1. Within the regions this table was read for
# (catalog.gpu_zone_regions()) the source's silence is taken as "not offered" and config validation refuses
# such a pool, naming the regions that have the GPU; outside them the GPU's zones are unknown and not checked.
# The blog's own summary table omits A3 and G2 from us-central1-b, but the gcloud listing on the same page and
# both SkyPilot catalogs include them.
GPU_ZONES: dict[str, dict[str, tuple[str, ...]]] = {
    "a100-40gb": {  # nvidia-tesla-a100 (A2 Standard)
        "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
        "us-east1": ("us-east1-b",),
        "us-west1": ("us-west1-b",),
        "us-west4": ("us-west4-b",),
        "europe-west4": ("europe-west4-a", "europe-west4-b"),
        "asia-southeast1": ("asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c"),
    },
    "a100-80gb": {  # nvidia-a100-80gb (A2 Ultra)
        "us-central1": ("us-central1-a", "us-central1-c"),
        "us-east4": ("us-east4-c",),
        "europe-west4": ("europe-west4-a",),
        "asia-southeast1": ("asia-southeast1-c",),
    },
    "h100-80gb": {  # nvidia-h100-80gb (A3 High)
        "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c"),
        "us-east4": ("us-east4-a", "us-east4-b", "us-east4-c"),
        "us-west1": ("us-west1-a", "us-west1-b"),
        "us-west4": ("us-west4-a",),
        "europe-west1": ("europe-west1-b", "europe-west1-c"),
        "europe-west4": ("europe-west4-b", "europe-west4-c"),
        "asia-southeast1": ("asia-southeast1-b", "asia-southeast1-c"),
    },
    "h100-mega-80gb": {  # nvidia-h100-mega-80gb (A3 Mega)
        "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c"),
        "us-east4": ("us-east4-a", "us-east4-b", "us-east4-c"),
        "us-west1": ("us-west1-a", "us-west1-b"),
        "us-west4": ("us-west4-a",),
        "europe-west1": ("europe-west1-b", "europe-west1-c"),
        "europe-west4": ("europe-west4-b", "europe-west4-c"),
        "asia-southeast1": ("asia-southeast1-b", "asia-southeast1-c"),
    },
    "h200-141gb": {  # nvidia-h200-141gb (A3 Ultra); not in the older gcloud listing
        "us-central1": ("us-central1-b",),
        "us-east4": ("us-east4-b",),
        "us-west1": ("us-west1-c",),
        "europe-west1": ("europe-west1-b",),
        "europe-west4": ("europe-west4-a",),
    },
    "l4": {  # nvidia-l4 (G2)
        "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c"),
        "us-east1": ("us-east1-b", "us-east1-c", "us-east1-d"),
        "us-east4": ("us-east4-a", "us-east4-c"),
        "us-west1": ("us-west1-a", "us-west1-b", "us-west1-c"),
        "us-west4": ("us-west4-a", "us-west4-c"),
        "europe-west1": ("europe-west1-b", "europe-west1-c"),
        "europe-west4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "asia-southeast1": ("asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c"),
    },
}

# GCP list prices live in the reviewed snapshot (components/catalog/price_snapshot.py, read by prices.py), each
# row with its source, date and SKUs; `gpu-fleet prices refresh` rewrites it from the Cloud Billing Catalog.
PRICES: tuple[Price, ...] = tuple(p for p in _prices.PRICES if p.machine_type in {m.name for m in MACHINE_TYPES})

# Machine types users write that do not exist, and what they meant (the hint after "X does not exist").
KNOWN_MISTAKES: dict[str, str] = {
    "a2-highgpu-16g": "the 16 x A100 machine is a2-megagpu-16g",
    "a2-ultragpu-16g": "A2 Ultra stops at a2-ultragpu-8g (8 x A100 80GB), "
                       "and 16 x A100 40GB is a2-megagpu-16g",
    "a3-highgpu-16g": "A3 machines carry at most 8 H100/H200 "
                      "(a3-highgpu-8g, a3-megagpu-8g, a3-ultragpu-8g)",
    "a3-megagpu-16g": "A3 Mega has only a3-megagpu-8g (8 x H100)",
    "g2-standard-64": "G2 sizes are g2-standard-4/8/12/16/24/32/48/96",
}

CAPACITY_CONSTRAINED_SERIES = frozenset({"a2", "a3"})
"""Machine series whose on-demand GPUs GCP does not promise to have (A100, H100, H200): "sufficient on-demand
capacity is not guaranteed" (GKE consumption options,
docs.cloud.google.com/kubernetes-engine/docs/concepts/consumption-option); reserve them for production."""

GCP_ALL_REGIONS_METRIC = "GPUS_ALL_REGIONS"
"""Global Compute Engine quota on GPUs of every model in every region (project-wide)."""
