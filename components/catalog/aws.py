"""AWS GPU instance types, their on-demand list prices per region and their vCPU quotas, each with its source."""

from __future__ import annotations

from components.catalog import prices as _prices
from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import AwsQuota, Cloud, MachineType, Price, Provisioning, Refusal, Source

AWS_SPECS_SOURCE = Source(
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
    # The 2026 types (_AWS_2026, the reference's `vpc.amazonaws.com/efa`).
    "p5.4xlarge": 1, "p6-b200.48xlarge": 8, "p6-b300.48xlarge": 16,
    "g7e.8xlarge": 1, "g7e.12xlarge": 1, "g7e.24xlarge": 2, "g7e.48xlarge": 4,
    "g7.8xlarge": 1, "g7.12xlarge": 1, "g7.24xlarge": 1, "g7.48xlarge": 2,
}

_ALL_AWS = frozenset({Provisioning.ON_DEMAND, Provisioning.SPOT, Provisioning.RESERVATION})
_P5E = frozenset({Provisioning.SPOT, Provisioning.RESERVATION})
"""p5e.48xlarge has no On-Demand price in any catalog region, only Spot prices (SkyPilot vms.csv)."""


_AWS_2026 = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/docs/reference/instance-types.md", "2026-12-01")
"""Karpenter's generated reference at 1d92708 (= ../shared/reference/aws/karpenter-instance-types.md): the rows of
p5.4xlarge, p6-b200, p6-b300, g7e and g7 (GPU count and name, vCPU, memory, NVMe, EFA);
tests/catalog/test_catalog_2026.py holds every AWS row against it."""
_P6_ON_DEMAND_ONLY = frozenset({Provisioning.ON_DEMAND, Provisioning.RESERVATION})
"""p6-b200/p6-b300: EC2 sells them as Spot too, but no source read names the Spot quota P6 counts against (the
quota page read lists P5's and P4/P3/P2's only), so gpu-fleet refuses Spot rather than count it against a guess."""


def _aws(name: str, gpu: str, gpus: int, vcpus: int, memory_gib: float, nvme_gb: int, quota: str,
         provisioning: frozenset[Provisioning] = _ALL_AWS, *, source: Source = AWS_SPECS_SOURCE) -> MachineType:
    """An EC2 instance type; memory in GiB, instance-store NVMe in GB, as DescribeInstanceTypes has them."""
    return MachineType(name, Cloud.AWS, gpu, gpus, vcpus, memory_gib, nvme_gb, quota, provisioning,
                       source, _EFA.get(name, 0))


def _g7(family: str, gpu: str, memory: dict[str, int], nvme: dict[str, int]) -> tuple[MachineType, ...]:
    """A g7/g7e family: 2xlarge, 4xlarge and 8xlarge carry 1 GPU, 12xlarge 2, 24xlarge 4, 48xlarge 8 (_AWS_2026)."""
    sizes = {"2xlarge": (1, 8), "4xlarge": (1, 16), "8xlarge": (1, 32), "12xlarge": (2, 48), "24xlarge": (4, 96),
             "48xlarge": (8, 192)}
    return tuple(_aws(f"{family}.{size}", gpu, gpus, vcpus, memory[size], nvme[size], "G", source=_AWS_2026)
                 for size, (gpus, vcpus) in sizes.items())


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
    # The 2026 types (_AWS_2026). p5.4xlarge is P5's single-H100 size (one EFA interface, not on by default).
    _aws("p5.4xlarge", "h100-80gb", 1, 16, 256, 3800, "P5", source=_AWS_2026),
    _aws("p6-b200.48xlarge", "b200", 8, 192, 2048, 30400, "P6", _P6_ON_DEMAND_ONLY, source=_AWS_2026),
    _aws("p6-b300.48xlarge", "b300", 8, 192, 4096, 30400, "P6", _P6_ON_DEMAND_ONLY, source=_AWS_2026),
    *_g7("g7e", "rtx-pro-6000",
         {"2xlarge": 64, "4xlarge": 128, "8xlarge": 256, "12xlarge": 512, "24xlarge": 1024, "48xlarge": 2048},
         {"2xlarge": 1900, "4xlarge": 1900, "8xlarge": 1900, "12xlarge": 3800, "24xlarge": 7600, "48xlarge": 15200}),
    *_g7("g7", "rtx-pro-4500",
         {"2xlarge": 32, "4xlarge": 64, "8xlarge": 128, "12xlarge": 192, "24xlarge": 384, "48xlarge": 768},
         {"2xlarge": 440, "4xlarge": 875, "8xlarge": 930, "12xlarge": 1900, "24xlarge": 3800, "48xlarge": 7600}),
)

_KP_FRACTIONAL = Source("https://github.com/aws/karpenter-provider-aws/issues/9395", "2026-12-01")
"""Karpenter's g6f fractional-GPU workaround (2026-07-15): the types report `instance-gpu-count 0` and no
`nvidia.com/gpu`, and need a NodeOverlay to be scheduled as GPUs (_AWS_2026 shows the 0 and 2,861-11,444 MiB)."""
_EKS_ULTRASERVER = Source("https://docs.amazonaws.cn/zh_cn/eks/latest/userguide/ml-eks-nvidia-ultraserver.md",
                          "2026-12-01")
"""EKS "NVIDIA UltraServers": P6e-GB200 on EKS needs Kubernetes 1.33+, the NVIDIA DRA driver with ComputeDomains,
and Capacity Blocks (UltraServers u-p6e-gb200x36/x72); it is not in Karpenter's instance-type reference (_AWS_2026)."""
P6E_CAPACITY_BLOCKS_ONLY = ("p6e-gb200 is sold only as EC2 Capacity Blocks for UltraServers (u-p6e-gb200x36 or "
                            "x72), never on-demand or spot")
"""Why a P6e-GB200 pool without `reserved` capacity is refused (_EKS_ULTRASERVER)."""
_FRACTIONAL = ("a fractional L4 type: Karpenter reports instance-gpu-count 0 and no nvidia.com/gpu for it, so a GPU "
               "NodePool can never select it, and gpu-fleet does not model GPU fractions (it emits no NodeOverlay)")
REFUSED: tuple[Refusal, ...] = (
    *(Refusal(f"g6f.{size}", Cloud.AWS, f"{share} of an NVIDIA L4", _FRACTIONAL,
              "use g6.xlarge (one whole L4) or larger", (_AWS_2026, _KP_FRACTIONAL))
      for size, share in (("large", "1/8"), ("xlarge", "1/8"), ("2xlarge", "1/4"), ("4xlarge", "1/2"))),
    Refusal("gr6f.4xlarge", Cloud.AWS, "1/2 of an NVIDIA L4", _FRACTIONAL, "use gr6.4xlarge or g6.4xlarge",
            (_AWS_2026, _KP_FRACTIONAL)),
    Refusal("p6e-gb200.36xlarge", Cloud.AWS, "4 x NVIDIA GB200 (arm64, in 36- or 72-GPU UltraServers)",
            "P6e-GB200 is not provisioned by gpu-fleet yet, even with Capacity Blocks: Karpenter v1.14.1 does not "
            "list the type, and EKS runs it only with the NVIDIA DRA driver and ComputeDomains, which gpu-fleet does "
            "not install", "use p6-b200.48xlarge (8 x B200, 8 EFA), or an EKS managed node group on the Capacity "
            "Block outside gpu-fleet", (_EKS_ULTRASERVER, _AWS_2026)),
)
"""EC2 instance types gpu-fleet refuses, each with what it does not yet provision (config validation and README)."""

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
    # P6 (p6-b200, p6-b300) on-demand: the page's "Running On-Demand P instances" covers every P type. Spot: no code
    # verified (_P6_ON_DEMAND_ONLY refuses it).
    ("P6", False): _P_ON_DEMAND,
    ("G", False): AwsQuota("L-DB2E81BA", "Running On-Demand G and VT instances", _AWS_QUOTA_PAGE),
    ("G", True): AwsQuota("L-3819A6DF", "All G and VT Spot Instance Requests", _AWS_QUOTA_PAGE),
}

