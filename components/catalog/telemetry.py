"""What monitoring needs to know of machines and GPUs: NIC bandwidth, and DCGM's names for GPU models.

Each fact with its source.

Cloud NICs report no usable link speed (ENA "do[es] not report interface link speed ... because the bandwidth is
per-instance", AltraMayor/gatekeeper#120; virtio NICs report -1, prometheus/node_exporter#1967), so network
saturation is measured against the machine type's documented bandwidth, kept here. A missing row means "not
verified": look-ups return None and the saturation rule leaves that machine out.

The documented figure is the whole machine's. Where several NICs carry it (A3 High 8g, A3 Mega and A3 Ultra on GCP:
5, 9 and 10 physical NICs; P4d and P5 on AWS: the EFA aggregate over 4 and 32 network cards) the host's kernel
counters see only part of it: GKE hands the GPU NICs to pods and RDMA, TCPXO and EFA traffic bypasses the kernel's
netdev counters. The primary NIC's own share is not documented for those machines, so `host_nic_gbps` leaves them
out rather than judge one NIC against the sum of all; their GPU fabric is checked by `gpu-fleet fabric-check`.
"""

from __future__ import annotations

from components.catalog.fabric import efa_fabric
from components.catalog.types import Source

_KARPENTER_BANDWIDTH = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/docs/reference/instance-types.md", "2026-11-24")
"""Karpenter's instance-type reference (v1.14.1 docs): `karpenter.k8s.aws/instance-network-bandwidth` in Mbps,
the bandwidth Karpenter labels each instance type with (from EC2's published network performance)."""
_GCE_GPU_MACHINES = Source("https://docs.cloud.google.com/compute/docs/gpus", "2026-11-24")
"""Compute Engine's "GPU machine types" page (last updated 2026-04-14; Google's sovereign-cloud mirror of
2026-08-26 has the same figures): per machine type, "Maximum network bandwidth (Gbps)" ("Maximum egress bandwidth
cannot exceed the number given") and, for A3, the physical NIC count."""
NIC_BANDWIDTH_SOURCES: tuple[Source, ...] = (_KARPENTER_BANDWIDTH, _GCE_GPU_MACHINES)

# Mbps per instance type (_KARPENTER_BANDWIDTH). On P4d/P5 the figure is the EFA aggregate over several network
# cards (see host_nic_gbps).
_AWS_NIC_MBPS: dict[str, int] = {
    "p5.48xlarge": 3_200_000, "p5e.48xlarge": 3_200_000, "p5en.48xlarge": 3_200_000,
    "p4d.24xlarge": 400_000, "p4de.24xlarge": 400_000,
    "g6.xlarge": 2_500, "g6.2xlarge": 5_000, "g6.4xlarge": 10_000, "g6.8xlarge": 25_000,
    "g6.12xlarge": 40_000, "g6.16xlarge": 25_000, "g6.24xlarge": 50_000, "g6.48xlarge": 100_000,
    "g6e.xlarge": 2_500, "g6e.2xlarge": 5_000, "g6e.4xlarge": 20_000, "g6e.8xlarge": 25_000,
    "g6e.12xlarge": 100_000, "g6e.16xlarge": 35_000, "g6e.24xlarge": 200_000, "g6e.48xlarge": 400_000,
    # The 2026 types, from ../shared/reference/aws/karpenter-instance-types.md (the same reference, 2026-12-01).
    "p5.4xlarge": 100_000, "p6-b200.48xlarge": 3_200_000, "p6-b300.48xlarge": 6_400_000,
    "g7e.2xlarge": 50_000, "g7e.4xlarge": 50_000, "g7e.8xlarge": 100_000, "g7e.12xlarge": 400_000,
    "g7e.24xlarge": 800_000, "g7e.48xlarge": 1_600_000,
    "g7.2xlarge": 60_000, "g7.4xlarge": 60_000, "g7.8xlarge": 80_000, "g7.12xlarge": 175_000,
    "g7.24xlarge": 350_000, "g7.48xlarge": 700_000,
}
_MULTI_CARD_AWS = frozenset({"p6-b200.48xlarge", "p6-b300.48xlarge", "g7e.48xlarge", "g7e.24xlarge",
                             "g7.48xlarge", "g7.24xlarge"})
"""AWS types whose bandwidth spans several network cards (Karpenter's zz_generated.vpclimits.go at 1d92708: p6-b200
8, p6-b300 17, g7e/g7 24xlarge and 48xlarge 2-4): the host's primary NIC carries only part of it."""
# Gbps per machine type (_GCE_GPU_MACHINES).
_GCE_GBPS: dict[str, int] = {
    "a2-highgpu-1g": 24, "a2-highgpu-2g": 32, "a2-highgpu-4g": 50, "a2-highgpu-8g": 100, "a2-megagpu-16g": 100,
    "a2-ultragpu-1g": 24, "a2-ultragpu-2g": 32, "a2-ultragpu-4g": 50, "a2-ultragpu-8g": 100,
    "a3-highgpu-1g": 25, "a3-highgpu-2g": 50, "a3-highgpu-4g": 100, "a3-highgpu-8g": 1_000,
    "a3-megagpu-8g": 1_800, "a3-ultragpu-8g": 3_600,
    "g2-standard-4": 10, "g2-standard-8": 16, "g2-standard-12": 16, "g2-standard-16": 32,
    "g2-standard-24": 32, "g2-standard-32": 32, "g2-standard-48": 50, "g2-standard-96": 100,
    # A4: 8 ConnectX-7 (3,200 Gbps) + 2 gVNIC (400 Gbps), as A3 Ultra (fabric.GCE_GPU_NETWORKING). G4: 50 Gbps per
    # GPU (research gpu-catalog-2026.md; the G4 table itself was not read: unverified).
    "a4-highgpu-8g": 3_600,
    "g4-standard-48": 50, "g4-standard-96": 100, "g4-standard-192": 200, "g4-standard-384": 400,
}
# Physical NICs of the machines that have more than one (_GCE_GPU_MACHINES). The page gives a NIC count for A3 only;
# A2 and G2 machines have the one gVNIC a GKE node pool gives them. A4 has A3 Ultra's 10; G4 a second NIC on -384
# only (research gpu-catalog-2026.md, unverified).
_GCE_NICS: dict[str, int] = {
    "a3-highgpu-8g": 5, "a3-megagpu-8g": 9, "a3-ultragpu-8g": 10, "a4-highgpu-8g": 10, "g4-standard-384": 2,
}
NIC_GBPS: dict[str, float] = {**{m: mbps / 1000 for m, mbps in _AWS_NIC_MBPS.items()},
                              **{m: float(gbps) for m, gbps in _GCE_GBPS.items()}}
"""Machine type -> the machine's documented network bandwidth in Gbps (all its NICs)."""

_DCGM_TEST = Source(
    "https://github.com/NVIDIA/dcgm-exporter/blob/d5e5f510a1b6b393f39a43293ccd9dc985defc79"
    "/internal/pkg/transformation/kubernetes_mig_test.go",
    "2026-11-24")
"""dcgm-exporter's MIG test data: GPU model "NVIDIA H100 80GB HBM3", NVML's device name, which DCGM reports as
`modelName`."""
DCGM_MODEL_SOURCES: tuple[Source, ...] = (_DCGM_TEST,)

DCGM_MODEL_PATTERNS: dict[str, str] = {
    # NVML device names carry the form factor and memory type ("NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"),
    # which differ between SXM and PCIe boards: the patterns pin model and memory size, nothing else.
    "a100-40gb": "NVIDIA A100.*40GB.*",
    "a100-80gb": "NVIDIA A100.*80GB.*",
    "h100-80gb": "NVIDIA H100.*",
    "h100-mega-80gb": "NVIDIA H100.*",
    "h200-141gb": "NVIDIA H200.*",
    "l4": "NVIDIA L4",
    "l40s": "NVIDIA L40S",
    # NVML names of the 2026 GPUs, as GKE's device-plugin test data and NVIDIA's MIG guide write them ("NVIDIA B200",
    # "NVIDIA GB200", "RTX PRO 6000 Blackwell Server Edition"); B300 and RTX PRO 4500 by the same scheme, unverified.
    "b200": "NVIDIA B200.*",
    "gb200": "NVIDIA GB200.*",
    "b300": "NVIDIA B300.*",
    "rtx-pro-6000": "NVIDIA RTX PRO 6000 Blackwell.*",
    "rtx-pro-4500": "NVIDIA RTX PRO 4500 Blackwell.*",
}
"""Catalog GPU id -> regular expression (fully anchored, as PromQL's =~) over DCGM's `modelName` label."""


def nic_gbps(machine: str) -> float | None:
    """The machine type's network bandwidth in Gbps; None where the catalog has not verified it."""
    return NIC_GBPS.get(machine)


def host_nic_gbps(machine: str) -> float | None:
    """The bandwidth the host's own NIC counters can be judged against.

    The documented figure where one NIC carries it; None where several NICs share it (module docstring) or the
    catalog has no figure.
    """
    if _GCE_NICS.get(machine, 1) > 1:
        return None
    if efa_fabric(machine) is not None or machine in _MULTI_CARD_AWS:
        return None
    return NIC_GBPS.get(machine)


def dcgm_model_pattern(gpu_id: str) -> str | None:
    """The `modelName` pattern DCGM reports catalog GPU ``gpu_id`` under."""
    return DCGM_MODEL_PATTERNS.get(gpu_id)
