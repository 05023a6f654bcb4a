"""GPU models: memory, GKE accelerator strings, GCP quota metrics and MIG partition sizes, with sources."""

from __future__ import annotations

from components.catalog.aws import AWS_SPECS_SOURCE
from components.catalog.gcp import GCP_GPUS_SOURCE, GCP_QUOTA_ENUM_SOURCE, GCP_QUOTA_REGIONS_SOURCE, GKE_GPUS_SOURCE
from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import Gpu, Source

_GKE_MIG = Source("https://cloud.google.com/kubernetes-engine/docs/how-to/gpus-multi", _CHECKED)
"""GKE "Running multi-instance GPUs": MIG works on A100 40GB, A100 80GB, H100 80GB and H200 141GB."""
_GKE_PARTITIONER = Source(
    "https://github.com/GoogleCloudPlatform/container-engine-accelerators/blob"
    "/09e2ab1ac10491ad46d3521348db6b4dcdba2e25/partition_gpu/partition_gpu.go", _CHECKED)
"""GKE's node-side GPU partitioner: the `gpu_partition_size` values it maps to MIG profiles, per GPU."""
_NVIDIA_MIG = Source("https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html",
                     _CHECKED)
"""NVIDIA MIG user guide, "Supported MIG Profiles": the [compute]g.[memory]gb profile names per GPU."""
_CHECKED_2026 = "2026-12-01"
"""The day the 2026 GPU models below were read (the repositories at the commits their URLs name)."""
_GKE_PARTITIONER_2026 = Source(
    "https://github.com/GoogleCloudPlatform/container-engine-accelerators/blob"
    "/992db81257553607f1477945f1b3219632991829/pkg/gpu/nvidia/mig/mig.go", _CHECKED_2026)
"""GKE's device plugin at 992db81 (file last changed c591acb, 2026-05-12): `gpuPartitionSizeMaxCount`, the
partition sizes it accepts for nvidia-b200, nvidia-gb200 and nvidia-rtx-pro-6000 (plus +me/+gfx media and
graphics variants of the RTX PRO 6000 sizes, which gpu-fleet does not offer)."""
_NVIDIA_MIG_GPUS = Source("https://docs.nvidia.com/datacenter/tesla/mig-user-guide/610/supported-gpus.html",
                          _CHECKED_2026)
"""NVIDIA MIG user guide (R610), "Supported GPUs": GB200 186GB (7 instances), B200 180GB (7), RTX PRO 6000 Blackwell
Server Edition 96GB (4), RTX PRO 4500 Blackwell 32GB (2). It names no B300."""
_CT_ACCELERATORS = Source(
    "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/1047080375afbb44da4b596be314634e7486af4a"
    "/pkg/config/machine_mappings.json", _CHECKED_2026)
"""cluster-toolkit's machine family -> GKE accelerator map: a4-highgpu nvidia-b200, a4x-highgpu nvidia-gb200,
g4-standard nvidia-rtx-pro-6000 (the A4, A4X and G4 blueprints use the same strings)."""
_HYPERPOD_MIG = Source("https://github.com/aws/sagemaker-hyperpod-cli/pull/403/files", _CHECKED_2026)
"""SageMaker HyperPod CLI's MIG table (PR 403): p6-b300 (B300) profiles 1g.34gb ... 7g.269gb, "Upstream ref:
NVIDIA GPU Operator v25.3.0". Third-party and not NVIDIA's own page: B300 MIG sizes are marked unverified."""
GPU_2026_SOURCES: tuple[Source, ...] = (_GKE_PARTITIONER_2026, _NVIDIA_MIG_GPUS, _CT_ACCELERATORS, _HYPERPOD_MIG)
"""Where the B200, GB200, B300, RTX PRO 6000 and RTX PRO 4500 rows come from (memory, MIG, accelerator strings)."""
GCP_QUOTA_METRICS_SOURCES: tuple[Source, ...] = (GCP_QUOTA_ENUM_SOURCE, GCP_QUOTA_REGIONS_SOURCE)
"""Where Gpu.gcp_quota_metric and Gpu.gcp_preemptible_quota_metric come from (see each source's note)."""
MIG_PARTITIONS_SOURCES: tuple[Source, ...] = (_GKE_PARTITIONER, _GKE_MIG, _NVIDIA_MIG)
"""Where Gpu.mig_partitions come from (a Gpu row has room for one source only)."""
GKE_ACCELERATOR_SOURCES: tuple[Source, ...] = (GCP_GPUS_SOURCE, GKE_GPUS_SOURCE)
"""Where Gpu.gke_accelerator comes from: the Compute Engine GPU page, checked against GKE's."""

# MIG: the partition sizes GKE's partitioner accepts for each GPU (_GKE_PARTITIONER), which are NVIDIA's
# profile names. The double-memory 1g profile is H100- and H200-only there (NVIDIA also lists 1g.20gb for
# the A100 80GB, GKE does not).
_MIG_A100_40GB = ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")
_MIG_A100_80GB = ("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
_MIG_H100 = ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
_MIG_H200 = ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")
_MIG_B200 = ("1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb")  # _GKE_PARTITIONER_2026
_MIG_GB200 = ("1g.23gb", "1g.47gb", "2g.47gb", "3g.93gb", "4g.93gb", "7g.186gb")  # _GKE_PARTITIONER_2026
_MIG_RTX_PRO_6000 = ("1g.24gb", "2g.48gb", "4g.96gb")  # _GKE_PARTITIONER_2026; NVIDIA: up to 4 instances
_MIG_B300 = ("1g.34gb", "1g.67gb", "2g.67gb", "3g.135gb", "4g.135gb", "7g.269gb")  # _HYPERPOD_MIG, unverified


def _gcp_gpu(gpu_id: str, *, model: str, memory_gb: int, accelerator: str, metric: str,
             mig: tuple[str, ...] = (), aws_name: str | None = None, source: Source = GCP_GPUS_SOURCE,
             quota_verified: bool = True) -> Gpu:
    """A GCP GPU; Spot (and flex-start) capacity counts against the PREEMPTIBLE_ twin of its metric.

    ``aws_name`` is the same GPU's Karpenter ``instance-gpu-name`` where EC2 offers it (AWS_SPECS_SOURCE).
    """
    return Gpu(id=gpu_id, model=model, memory_gb=memory_gb, gke_accelerator=accelerator, gcp_quota_metric=metric,
               gcp_preemptible_quota_metric="PREEMPTIBLE_" + metric, mig_partitions=mig, source=source,
               aws_gpu_name=aws_name, quota_verified=quota_verified)


def _aws_gpu(gpu_id: str, *, model: str, memory_gb: int, mig: tuple[str, ...] = (), source: Source) -> Gpu:
    """A GPU only EC2 sells here: no GKE accelerator or GCP quota; Karpenter's ``instance-gpu-name`` is its id."""
    return Gpu(id=gpu_id, model=model, memory_gb=memory_gb, gke_accelerator=None, gcp_quota_metric=None,
               gcp_preemptible_quota_metric=None, mig_partitions=mig, source=source, aws_gpu_name=gpu_id)


GPUS: tuple[Gpu, ...] = (
    # A2 Standard carries nvidia-tesla-a100 (GPU machine types + GKE pages); the GPU page's summary list
    # says nvidia-a100-40gb, but its A2 Standard section and GKE both use nvidia-tesla-a100.
    _gcp_gpu("a100-40gb", model="NVIDIA A100 40GB", memory_gb=40, accelerator="nvidia-tesla-a100",
             metric="NVIDIA_A100_GPUS", mig=_MIG_A100_40GB, aws_name="a100"),
    _gcp_gpu("a100-80gb", model="NVIDIA A100 80GB", memory_gb=80, accelerator="nvidia-a100-80gb",
             metric="NVIDIA_A100_80GB_GPUS", mig=_MIG_A100_80GB, aws_name="a100"),
    _gcp_gpu("h100-80gb", model="NVIDIA H100 80GB", memory_gb=80, accelerator="nvidia-h100-80gb",
             metric="NVIDIA_H100_GPUS", mig=_MIG_H100, aws_name="h100"),
    # A3 Mega: same H100 80GB GPU (so same MIG shapes), own accelerator string and own quota metric.
    _gcp_gpu("h100-mega-80gb", model="NVIDIA H100 80GB (A3 Mega)", memory_gb=80, accelerator="nvidia-h100-mega-80gb",
             metric="NVIDIA_H100_MEGA_GPUS", mig=_MIG_H100),
    _gcp_gpu("h200-141gb", model="NVIDIA H200 141GB", memory_gb=141, accelerator="nvidia-h200-141gb",
             metric="NVIDIA_H200_GPUS", mig=_MIG_H200, aws_name="h200"),
    # "You can't create Multi-Instance GPUs on G2" (accelerator-optimized page): no MIG for L4.
    _gcp_gpu("l4", model="NVIDIA L4", memory_gb=24, accelerator="nvidia-l4", metric="NVIDIA_L4_GPUS", aws_name="l4"),
    # AWS only (g6e); DescribeInstanceTypes reports 45776 MiB per GPU, NVIDIA sells it as 48 GB.
    _aws_gpu("l40s", model="NVIDIA L40S", memory_gb=48, source=AWS_SPECS_SOURCE),
    # The 2026 GPUs (GPU_2026_SOURCES). Memory is NVIDIA's per-GPU figure (_NVIDIA_MIG_GPUS); EC2 reports 183,359
    # MiB per B200 and 98,304 MiB per RTX PRO 6000 (Karpenter's reference). Their GCP quota metrics follow GCP's
    # NVIDIA_<MODEL>_GPUS naming and are listed by public quota scripts (B200: NVIDIA_B200_GPUS and
    # PREEMPTIBLE_NVIDIA_B200_GPUS, ../shared/research/gpu-catalog-2026.md §2), not by a Google page read here:
    # quota_verified=False, and the plan and README say so.
    _gcp_gpu("b200", model="NVIDIA B200", memory_gb=180, accelerator="nvidia-b200", metric="NVIDIA_B200_GPUS",
             mig=_MIG_B200, aws_name="b200", source=_CT_ACCELERATORS, quota_verified=False),
    # GB200 (A4X): 186 GB per GPU; GCP's a4x-highgpu-4g is refused (catalog.REFUSED), EC2's p6e-gb200 too.
    _gcp_gpu("gb200", model="NVIDIA GB200", memory_gb=186, accelerator="nvidia-gb200", metric="NVIDIA_GB200_GPUS",
             mig=_MIG_GB200, source=_CT_ACCELERATORS, quota_verified=False),
    _gcp_gpu("rtx-pro-6000", model="NVIDIA RTX PRO 6000 Blackwell Server Edition", memory_gb=96,
             accelerator="nvidia-rtx-pro-6000", metric="NVIDIA_RTX_PRO_6000_GPUS", mig=_MIG_RTX_PRO_6000,
             aws_name="rtx-pro-server-6000", source=_CT_ACCELERATORS, quota_verified=False),
    # AWS only here (p6-b300): 275,040 MiB per GPU in EC2's figures, NVIDIA sells it as 288 GB. GCP's B300 machine
    # (a4x-maxgpu-4g-metal, bare metal) is not in the catalog.
    _aws_gpu("b300", model="NVIDIA B300", memory_gb=288, mig=_MIG_B300, source=_HYPERPOD_MIG),
    # AWS only (g7). NVIDIA lists MIG with up to 2 instances, but no source read names its profiles: none offered.
    _aws_gpu("rtx-pro-4500", model="NVIDIA RTX PRO 4500 Blackwell Server Edition", memory_gb=32,
             source=_NVIDIA_MIG_GPUS),
)
