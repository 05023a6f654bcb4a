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


def _aws(name: str, *, gpu: str, gpus: int, vcpus: int, memory_gib: float, nvme_gb: int, quota: str,
         provisioning: frozenset[Provisioning] = _ALL_AWS, source: Source = AWS_SPECS_SOURCE) -> MachineType:
    """An EC2 instance type; memory in GiB, instance-store NVMe in GB, as DescribeInstanceTypes has them."""
    return MachineType(name, cloud=Cloud.AWS, gpu=gpu, gpus=gpus, vcpus=vcpus, memory_gb=memory_gib,
                       local_ssd_gb=nvme_gb, aws_quota=quota, provisioning=provisioning, source=source,
                       efa_interfaces=_EFA.get(name, 0))


def _g7(name: str, *, gpu: str, gpus: int, vcpus: int, memory_gib: float, nvme_gb: int) -> MachineType:
    """A g7 or g7e size: counts against the G quota, its facts from _AWS_2026."""
    return _aws(name, gpu=gpu, gpus=gpus, vcpus=vcpus, memory_gib=memory_gib, nvme_gb=nvme_gb, quota="G",
                source=_AWS_2026)


MACHINE_TYPES: tuple[MachineType, ...] = (
    # AWS P5 family counts against its own Spot quota (All P5 Spot Instance Requests), hence "P5".
    _aws("p5.48xlarge", gpu="h100-80gb", gpus=8, vcpus=192, memory_gib=2048, nvme_gb=30400, quota="P5"),
    _aws("p5e.48xlarge", gpu="h200-141gb", gpus=8, vcpus=192, memory_gib=2048, nvme_gb=30400, quota="P5",
         provisioning=_P5E),
    _aws("p5en.48xlarge", gpu="h200-141gb", gpus=8, vcpus=192, memory_gib=2048, nvme_gb=30400, quota="P5"),
    _aws("p4d.24xlarge", gpu="a100-40gb", gpus=8, vcpus=96, memory_gib=1152, nvme_gb=8000, quota="P"),
    _aws("p4de.24xlarge", gpu="a100-80gb", gpus=8, vcpus=96, memory_gib=1152, nvme_gb=8000, quota="P"),
    # g6 (L4): 12xlarge and 24xlarge have 4 GPUs, 48xlarge 8, every other size 1.
    _aws("g6.xlarge", gpu="l4", gpus=1, vcpus=4, memory_gib=16, nvme_gb=250, quota="G"),
    _aws("g6.2xlarge", gpu="l4", gpus=1, vcpus=8, memory_gib=32, nvme_gb=450, quota="G"),
    _aws("g6.4xlarge", gpu="l4", gpus=1, vcpus=16, memory_gib=64, nvme_gb=600, quota="G"),
    _aws("g6.8xlarge", gpu="l4", gpus=1, vcpus=32, memory_gib=128, nvme_gb=900, quota="G"),
    _aws("g6.12xlarge", gpu="l4", gpus=4, vcpus=48, memory_gib=192, nvme_gb=3760, quota="G"),
    _aws("g6.16xlarge", gpu="l4", gpus=1, vcpus=64, memory_gib=256, nvme_gb=1880, quota="G"),
    _aws("g6.24xlarge", gpu="l4", gpus=4, vcpus=96, memory_gib=384, nvme_gb=3760, quota="G"),
    _aws("g6.48xlarge", gpu="l4", gpus=8, vcpus=192, memory_gib=768, nvme_gb=7520, quota="G"),
    # g6e (L40S): same GPU counts per size as g6, twice the memory.
    _aws("g6e.xlarge", gpu="l40s", gpus=1, vcpus=4, memory_gib=32, nvme_gb=250, quota="G"),
    _aws("g6e.2xlarge", gpu="l40s", gpus=1, vcpus=8, memory_gib=64, nvme_gb=450, quota="G"),
    _aws("g6e.4xlarge", gpu="l40s", gpus=1, vcpus=16, memory_gib=128, nvme_gb=600, quota="G"),
    _aws("g6e.8xlarge", gpu="l40s", gpus=1, vcpus=32, memory_gib=256, nvme_gb=900, quota="G"),
    _aws("g6e.12xlarge", gpu="l40s", gpus=4, vcpus=48, memory_gib=384, nvme_gb=3800, quota="G"),
    _aws("g6e.16xlarge", gpu="l40s", gpus=1, vcpus=64, memory_gib=512, nvme_gb=1900, quota="G"),
    _aws("g6e.24xlarge", gpu="l40s", gpus=4, vcpus=96, memory_gib=768, nvme_gb=3800, quota="G"),
    _aws("g6e.48xlarge", gpu="l40s", gpus=8, vcpus=192, memory_gib=1536, nvme_gb=7600, quota="G"),
    # The 2026 types (_AWS_2026). p5.4xlarge is P5's single-H100 size (one EFA interface, not on by default).
    _aws("p5.4xlarge", gpu="h100-80gb", gpus=1, vcpus=16, memory_gib=256, nvme_gb=3800, quota="P5", source=_AWS_2026),
    _aws("p6-b200.48xlarge", gpu="b200", gpus=8, vcpus=192, memory_gib=2048, nvme_gb=30400, quota="P6",
         provisioning=_P6_ON_DEMAND_ONLY, source=_AWS_2026),
    _aws("p6-b300.48xlarge", gpu="b300", gpus=8, vcpus=192, memory_gib=4096, nvme_gb=30400, quota="P6",
         provisioning=_P6_ON_DEMAND_ONLY, source=_AWS_2026),
    # g7e (RTX PRO 6000) and g7 (RTX PRO 4500): 2xlarge, 4xlarge and 8xlarge carry 1 GPU, 12xlarge 2, 24xlarge 4,
    # 48xlarge 8 (_AWS_2026).
    _g7("g7e.2xlarge", gpu="rtx-pro-6000", gpus=1, vcpus=8, memory_gib=64, nvme_gb=1900),
    _g7("g7e.4xlarge", gpu="rtx-pro-6000", gpus=1, vcpus=16, memory_gib=128, nvme_gb=1900),
    _g7("g7e.8xlarge", gpu="rtx-pro-6000", gpus=1, vcpus=32, memory_gib=256, nvme_gb=1900),
    _g7("g7e.12xlarge", gpu="rtx-pro-6000", gpus=2, vcpus=48, memory_gib=512, nvme_gb=3800),
    _g7("g7e.24xlarge", gpu="rtx-pro-6000", gpus=4, vcpus=96, memory_gib=1024, nvme_gb=7600),
    _g7("g7e.48xlarge", gpu="rtx-pro-6000", gpus=8, vcpus=192, memory_gib=2048, nvme_gb=15200),
    _g7("g7.2xlarge", gpu="rtx-pro-4500", gpus=1, vcpus=8, memory_gib=32, nvme_gb=440),
    _g7("g7.4xlarge", gpu="rtx-pro-4500", gpus=1, vcpus=16, memory_gib=64, nvme_gb=875),
    _g7("g7.8xlarge", gpu="rtx-pro-4500", gpus=1, vcpus=32, memory_gib=128, nvme_gb=930),
    _g7("g7.12xlarge", gpu="rtx-pro-4500", gpus=2, vcpus=48, memory_gib=192, nvme_gb=1900),
    _g7("g7.24xlarge", gpu="rtx-pro-4500", gpus=4, vcpus=96, memory_gib=384, nvme_gb=3800),
    _g7("g7.48xlarge", gpu="rtx-pro-4500", gpus=8, vcpus=192, memory_gib=768, nvme_gb=7600),
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
    *(Refusal(f"g6f.{size}", cloud=Cloud.AWS, carries=f"{share} of an NVIDIA L4", reason=_FRACTIONAL,
              hint="use g6.xlarge (one whole L4) or larger", sources=(_AWS_2026, _KP_FRACTIONAL))
      for size, share in (("large", "1/8"), ("xlarge", "1/8"), ("2xlarge", "1/4"), ("4xlarge", "1/2"))),
    Refusal("gr6f.4xlarge", cloud=Cloud.AWS, carries="1/2 of an NVIDIA L4", reason=_FRACTIONAL,
            hint="use gr6.4xlarge or g6.4xlarge", sources=(_AWS_2026, _KP_FRACTIONAL)),
    Refusal("p6e-gb200.36xlarge", cloud=Cloud.AWS, carries="4 x NVIDIA GB200 (arm64, in 36- or 72-GPU UltraServers)",
            reason="P6e-GB200 is not provisioned by gpu-fleet yet, even with Capacity Blocks: Karpenter v1.14.1 does "
            "not list the type, and EKS runs it only with the NVIDIA DRA driver and ComputeDomains, which gpu-fleet "
            "does not install",
            hint="use p6-b200.48xlarge (8 x B200, 8 EFA), or an EKS managed node group on the Capacity Block outside "
            "gpu-fleet", sources=(_EKS_ULTRASERVER, _AWS_2026)),
)
"""EC2 instance types gpu-fleet refuses, each with what it does not yet provision (config validation and README)."""

# AWS on-demand list prices live in the reviewed snapshot (components/catalog/price_snapshot.py), each row with its
# source, date and SKU; Spot is market-priced, so no Spot figure is kept. p5e.48xlarge has no on-demand price (_P5E).
PRICES: tuple[Price, ...] = tuple(p for p in _prices.PRICES if p.machine_type in {m.name for m in MACHINE_TYPES})

# Keyed by (MachineType.aws_quota, spot). On-demand, every P instance shares one quota; Spot splits P5
# (p5, p5e, p5en) from P4/P3/P2 - the old single "All P Spot Instance Requests" quota is now L-7212CCBC's
# "All P4, P3 and P2 Spot Instance Requests".
_P_ON_DEMAND = AwsQuota("L-417A185B", name="Running On-Demand P instances", source=_AWS_QUOTA_PAGE)
AWS_QUOTAS: dict[tuple[str, bool], AwsQuota] = {
    ("P", False): _P_ON_DEMAND,
    ("P", True): AwsQuota("L-7212CCBC", name="All P4, P3 and P2 Spot Instance Requests", source=_AWS_QUOTA_PAGE),
    ("P5", False): _P_ON_DEMAND,
    ("P5", True): AwsQuota("L-C4BD4855", name="All P5 Spot Instance Requests", source=_AWS_QUOTA_PAGE),
    # P6 (p6-b200, p6-b300) on-demand: the page's "Running On-Demand P instances" covers every P type. Spot: no code
    # verified (_P6_ON_DEMAND_ONLY refuses it).
    ("P6", False): _P_ON_DEMAND,
    ("G", False): AwsQuota("L-DB2E81BA", name="Running On-Demand G and VT instances", source=_AWS_QUOTA_PAGE),
    ("G", True): AwsQuota("L-3819A6DF", name="All G and VT Spot Instance Requests", source=_AWS_QUOTA_PAGE),
}
