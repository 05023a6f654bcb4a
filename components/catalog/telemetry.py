"""What monitoring needs to know of machines and GPUs: NIC bandwidth, and DCGM's names for GPU models.

Each fact with its source.

Cloud NICs report no usable link speed (ENA "do[es] not report interface link speed ... because the bandwidth is
per-instance", AltraMayor/gatekeeper#120; virtio NICs report -1, prometheus/node_exporter#1967), so network
saturation is measured against the machine type's documented bandwidth, kept here. A missing row means "not
verified": look-ups return None and the saturation rule leaves that machine out.
"""

from __future__ import annotations

from components.catalog.types import Source

_KARPENTER_BANDWIDTH = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/docs/reference/instance-types.md", "2026-11-24")
"""Karpenter's instance-type reference (v1.14.1 docs): `karpenter.k8s.aws/instance-network-bandwidth` in Mbps,
the bandwidth Karpenter labels each instance type with (from EC2's published network performance)."""
NIC_BANDWIDTH_SOURCES: tuple[Source, ...] = (_KARPENTER_BANDWIDTH,)

# Mbps per instance type (_KARPENTER_BANDWIDTH). On P4d/P5 the figure is the EFA aggregate: RDMA traffic
# bypasses the kernel's netdev counters, so a saturation rule over those counters watches TCP/IP traffic only.
_AWS_NIC_MBPS: dict[str, int] = {
    "p5.48xlarge": 3_200_000, "p5e.48xlarge": 3_200_000, "p5en.48xlarge": 3_200_000,
    "p4d.24xlarge": 400_000, "p4de.24xlarge": 400_000,
    "g6.xlarge": 2_500, "g6.2xlarge": 5_000, "g6.4xlarge": 10_000, "g6.8xlarge": 25_000,
    "g6.12xlarge": 40_000, "g6.16xlarge": 25_000, "g6.24xlarge": 50_000, "g6.48xlarge": 100_000,
    "g6e.xlarge": 2_500, "g6e.2xlarge": 5_000, "g6e.4xlarge": 20_000, "g6e.8xlarge": 25_000,
    "g6e.12xlarge": 100_000, "g6e.16xlarge": 35_000, "g6e.24xlarge": 200_000, "g6e.48xlarge": 400_000,
}
NIC_GBPS: dict[str, float] = {m: mbps / 1000 for m, mbps in _AWS_NIC_MBPS.items()}
"""Machine type -> network bandwidth in Gbps. GCP machine types are not in it yet (not verified here)."""

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
}
"""Catalog GPU id -> regular expression (fully anchored, as PromQL's =~) over DCGM's `modelName` label."""


def nic_gbps(machine: str) -> float | None:
    """The machine type's network bandwidth in Gbps; None where the catalog has not verified it."""
    return NIC_GBPS.get(machine)


def dcgm_model_pattern(gpu_id: str) -> str | None:
    """The `modelName` pattern DCGM reports catalog GPU ``gpu_id`` under."""
    return DCGM_MODEL_PATTERNS.get(gpu_id)
