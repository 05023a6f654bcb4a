"""AWS GPU instance types, their on-demand list prices per region and their vCPU quotas, each with its source."""

from __future__ import annotations

from components.catalog import prices as _prices
from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import AwsQuota, Cloud, MachineType, Price, Provisioning, Source

_AWS_SPECS = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/0c5e7d8112409aff07b0f17a0f51c87bdba52ed1"
    "/website/content/en/docs/reference/instance-types.md", _CHECKED)
"""Karpenter's instance-type reference, generated from EC2 DescribeInstanceTypes (vCPU, GiB, GPUs, NVMe)."""
_AWS_QUOTA_PAGE = Source("https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html",
                         _CHECKED)
"""AWS "Amazon EC2 instance type quotas": On-Demand and Spot vCPU quota names with their console codes."""
_AWS_EFA = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/docs/reference/instance-types.md", "2026-11-24")
"""The same Karpenter reference, newer: `vpc.amazonaws.com/efa` (EFA interfaces) per instance type."""
AWS_EFA_SOURCE = _AWS_EFA
"""Where MachineType.efa_interfaces comes from (a MachineType row has room for one source only)."""

# EFA interfaces per instance type (_AWS_EFA); sizes below 8xlarge have none. p5en carries 16 (400 Gbps each),
# p5/p5e 32 (100 Gbps each), p4d/p4de 4.
_EFA: dict[str, int] = {
    "p5.48xlarge": 32, "p5e.48xlarge": 32, "p5en.48xlarge": 16, "p4d.24xlarge": 4, "p4de.24xlarge": 4,
    "g6.8xlarge": 1, "g6.12xlarge": 1, "g6.16xlarge": 1, "g6.24xlarge": 1, "g6.48xlarge": 1,
    "g6e.8xlarge": 1, "g6e.12xlarge": 1, "g6e.16xlarge": 1, "g6e.24xlarge": 2, "g6e.48xlarge": 4,
}

_ALL_AWS = frozenset({Provisioning.ON_DEMAND, Provisioning.SPOT, Provisioning.RESERVATION})
_P5E = frozenset({Provisioning.SPOT, Provisioning.RESERVATION})
"""p5e.48xlarge has no On-Demand price in any catalog region, only Spot prices (SkyPilot vms.csv)."""


def _aws(name: str, gpu: str, gpus: int, vcpus: int, memory_gib: float, nvme_gb: int, quota: str,
         provisioning: frozenset[Provisioning] = _ALL_AWS) -> MachineType:
    """An EC2 instance type; memory in GiB, instance-store NVMe in GB, as DescribeInstanceTypes has them."""
    return MachineType(name, Cloud.AWS, gpu, gpus, vcpus, memory_gib, nvme_gb, quota, provisioning,
                       _AWS_SPECS, _EFA.get(name, 0))


MACHINE_TYPES: tuple[MachineType, ...] = (
    # AWS P5 family counts against its own Spot quota (All P5 Spot Instance Requests), hence "P5".
    _aws("p5.48xlarge", "h100-80gb", 8, 192, 2048, 30400, "P5"),
    _aws("p5e.48xlarge", "h200-141gb", 8, 192, 2048, 30400, "P5", _P5E),
    _aws("p5en.48xlarge", "h200-141gb", 8, 192, 2048, 30400, "P5"),
    _aws("p4d.24xlarge", "a100-40gb", 8, 96, 1152, 8000, "P"),
    _aws("p4de.24xlarge", "a100-80gb", 8, 96, 1152, 8000, "P"),
    # g6 (L4): 12xlarge and 24xlarge have 4 GPUs, 48xlarge 8, every other size 1.
    _aws("g6.xlarge", "l4", 1, 4, 16, 250, "G"),
    _aws("g6.2xlarge", "l4", 1, 8, 32, 450, "G"),
    _aws("g6.4xlarge", "l4", 1, 16, 64, 600, "G"),
    _aws("g6.8xlarge", "l4", 1, 32, 128, 900, "G"),
    _aws("g6.12xlarge", "l4", 4, 48, 192, 3760, "G"),
    _aws("g6.16xlarge", "l4", 1, 64, 256, 1880, "G"),
    _aws("g6.24xlarge", "l4", 4, 96, 384, 3760, "G"),
    _aws("g6.48xlarge", "l4", 8, 192, 768, 7520, "G"),
    # g6e (L40S): same GPU counts per size as g6, twice the memory.
    _aws("g6e.xlarge", "l40s", 1, 4, 32, 250, "G"),
    _aws("g6e.2xlarge", "l40s", 1, 8, 64, 450, "G"),
    _aws("g6e.4xlarge", "l40s", 1, 16, 128, 600, "G"),
    _aws("g6e.8xlarge", "l40s", 1, 32, 256, 900, "G"),
    _aws("g6e.12xlarge", "l40s", 4, 48, 384, 3800, "G"),
    _aws("g6e.16xlarge", "l40s", 1, 64, 512, 1900, "G"),
    _aws("g6e.24xlarge", "l40s", 4, 96, 768, 3800, "G"),
    _aws("g6e.48xlarge", "l40s", 8, 192, 1536, 7600, "G"),
)

# AWS on-demand list prices live in the reviewed snapshot (components/catalog/price_snapshot.py), each row with its
# source, date and SKU; Spot is market-priced, so no Spot figure is kept. p5e.48xlarge has no on-demand price (_P5E).
PRICES: tuple[Price, ...] = tuple(p for p in _prices.PRICES if p.machine_type in {m.name for m in MACHINE_TYPES})

# Keyed by (MachineType.aws_quota, spot). On-demand, every P instance shares one quota; Spot splits P5
# (p5, p5e, p5en) from P4/P3/P2 - the old single "All P Spot Instance Requests" quota is now L-7212CCBC's
# "All P4, P3 and P2 Spot Instance Requests".
_P_ON_DEMAND = AwsQuota("L-417A185B", "Running On-Demand P instances", _AWS_QUOTA_PAGE)
AWS_QUOTAS: dict[tuple[str, bool], AwsQuota] = {
    ("P", False): _P_ON_DEMAND,
    ("P", True): AwsQuota("L-7212CCBC", "All P4, P3 and P2 Spot Instance Requests", _AWS_QUOTA_PAGE),
    ("P5", False): _P_ON_DEMAND,
    ("P5", True): AwsQuota("L-C4BD4855", "All P5 Spot Instance Requests", _AWS_QUOTA_PAGE),
    ("G", False): AwsQuota("L-DB2E81BA", "Running On-Demand G and VT instances", _AWS_QUOTA_PAGE),
    ("G", True): AwsQuota("L-3819A6DF", "All G and VT Spot Instance Requests", _AWS_QUOTA_PAGE),
}

