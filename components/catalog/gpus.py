"""GPU models: memory, GKE accelerator strings, GCP quota metrics and MIG partition sizes, with sources."""

from __future__ import annotations

from components.catalog.aws import _AWS_SPECS
from components.catalog.gcp import _GCP_GPUS, _GCP_QUOTA_ENUM, _GCP_QUOTA_REGIONS, _GKE_GPUS
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
GCP_QUOTA_METRICS_SOURCES: tuple[Source, ...] = (_GCP_QUOTA_ENUM, _GCP_QUOTA_REGIONS)
"""Where Gpu.gcp_quota_metric and Gpu.gcp_preemptible_quota_metric come from (see each source's note)."""
MIG_PARTITIONS_SOURCES: tuple[Source, ...] = (_GKE_PARTITIONER, _GKE_MIG, _NVIDIA_MIG)
"""Where Gpu.mig_partitions come from (a Gpu row has room for one source only)."""
GKE_ACCELERATOR_SOURCES: tuple[Source, ...] = (_GCP_GPUS, _GKE_GPUS)
"""Where Gpu.gke_accelerator comes from: the Compute Engine GPU page, checked against GKE's."""

# MIG: the partition sizes GKE's partitioner accepts for each GPU (_GKE_PARTITIONER), which are NVIDIA's
# profile names. The double-memory 1g profile is H100- and H200-only there (NVIDIA also lists 1g.20gb for
# the A100 80GB, GKE does not).
_MIG_A100_40GB = ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")
_MIG_A100_80GB = ("1g.10gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
_MIG_H100 = ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")
_MIG_H200 = ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")


def _gcp_gpu(gpu_id: str, model: str, memory_gb: int, accelerator: str, metric: str,
             mig: tuple[str, ...] = (), aws_name: str | None = None) -> Gpu:
    """A GCP GPU; Spot (and flex-start) capacity counts against the PREEMPTIBLE_ twin of its metric.

    ``aws_name`` is the same GPU's Karpenter ``instance-gpu-name`` where EC2 offers it (_AWS_SPECS).
    """
    return Gpu(gpu_id, model, memory_gb, accelerator, metric, "PREEMPTIBLE_" + metric, mig, _GCP_GPUS, aws_name)


GPUS: tuple[Gpu, ...] = (
    # A2 Standard carries nvidia-tesla-a100 (GPU machine types + GKE pages); the GPU page's summary list
    # says nvidia-a100-40gb, but its A2 Standard section and GKE both use nvidia-tesla-a100.
    _gcp_gpu("a100-40gb", "NVIDIA A100 40GB", 40, "nvidia-tesla-a100", "NVIDIA_A100_GPUS", _MIG_A100_40GB, "a100"),
    _gcp_gpu("a100-80gb", "NVIDIA A100 80GB", 80, "nvidia-a100-80gb", "NVIDIA_A100_80GB_GPUS", _MIG_A100_80GB, "a100"),
    _gcp_gpu("h100-80gb", "NVIDIA H100 80GB", 80, "nvidia-h100-80gb", "NVIDIA_H100_GPUS", _MIG_H100, "h100"),
    # A3 Mega: same H100 80GB GPU (so same MIG shapes), own accelerator string and own quota metric.
    _gcp_gpu("h100-mega-80gb", "NVIDIA H100 80GB (A3 Mega)", 80, "nvidia-h100-mega-80gb",
             "NVIDIA_H100_MEGA_GPUS", _MIG_H100),
    _gcp_gpu("h200-141gb", "NVIDIA H200 141GB", 141, "nvidia-h200-141gb", "NVIDIA_H200_GPUS", _MIG_H200, "h200"),
    # "You can't create Multi-Instance GPUs on G2" (accelerator-optimized page): no MIG for L4.
    _gcp_gpu("l4", "NVIDIA L4", 24, "nvidia-l4", "NVIDIA_L4_GPUS", aws_name="l4"),
    # AWS only (g6e); DescribeInstanceTypes reports 45776 MiB per GPU, NVIDIA sells it as 48 GB.
    Gpu("l40s", "NVIDIA L40S", 48, None, None, None, (), _AWS_SPECS, "l40s"),
)
