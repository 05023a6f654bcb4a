"""GPU-to-GPU fabric per machine family: NICs, MTUs, transports, minimum GKE versions and NCCL bandwidth to expect.

GKE's A3 High and A3 Mega move GPU traffic over extra gVNIC networks (GPUDirect-TCPX / -TCPXO), A3 Ultra and A4
over RoCE (GPUDirect RDMA) beside one extra gVNIC network; EC2's P4d and P5 instances over EFA. Everything gpu-fleet
derives for multi-node training (VPCs, node pool NICs, Network objects, EC2NodeClass interfaces, the fabric check
and its pass bars) asks this module. Every fact names its source and the day it was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import Source

FABRIC_CHECKED = "2026-11-25"
"""The day the fabric sources below were read (the repositories at the commits their URLs name)."""


class Transport(str, Enum):
    """How a pool's GPUs reach GPUs on other nodes; what the plan shows per GPU pool."""

    TCP = "TCP"
    """No GPU fabric: NCCL's socket transport over the node's one primary NIC."""
    TCPX = "TCPX"
    """GPUDirect-TCPX (A3 High): 4 extra gVNIC NICs, NCCL's TCPX plugin and a receive-datapath daemon."""
    TCPXO = "TCPXO"
    """GPUDirect-TCPXO (A3 Mega): 8 extra gVNIC NICs, NCCL's FasTrak plugin."""
    RDMA = "RDMA"
    """GPUDirect RDMA over RoCE v2 (A3 Ultra, A4): one ConnectX-7 NIC per GPU on a RoCE network."""
    EFA = "EFA"
    """AWS Elastic Fabric Adapter (P4d, P5): efa-only interfaces next to one ENA interface."""


# --- sources ------------------------------------------------------------------------------------------------

_CT = "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/1047080375afbb44da4b596be314634e7486af4a/"
"""GoogleCloudPlatform/cluster-toolkit at 1047080 (2026-06-25), the anchor blueprints for GKE GPU networking."""
GKE_GPUDIRECT = Source("https://cloud.google.com/kubernetes-engine/docs/how-to/gpu-bandwidth-gpudirect-tcpx",
                       _CHECKED)
"""GKE "Maximize GPU network bandwidth": A3 Mega up to eight, A3 High up to four secondary NICs, 200 Gbps each."""
GCE_GPU_NETWORKING = Source("https://cloud.google.com/compute/docs/gpus/gpu-network-bandwidth", _CHECKED)
"""Compute Engine "Networking and GPU machines": A3 Ultra and A4 carry 8 ConnectX-7 NICs (3,200 Gbps) for GPU
traffic plus 2 gVNIC NICs (400 Gbps), on 3 VPC networks; the GPU-network technology of each family."""
RDMA_NETWORK_PROFILES = Source("https://cloud.google.com/vpc/docs/rdma-network-profiles", _CHECKED)
"""VPC "RDMA network profiles": zonal (`<zone>-vpc-roce`), only MRDMA NICs, MTU 8896 by default, implied
allow rules instead of firewall rules."""
VERTEX_MTU = Source("https://cloud.google.com/vertex-ai/docs/training/managed-training/networking", _CHECKED)
"""Vertex AI managed training networking: "For A3 Ultra and A4 nodes: Use an MTU of 8896. For A3 Mega nodes: Use
an MTU of 8244."."""
CT_A3_HIGH = Source(_CT + "examples/gke-a3-highgpu/gke-a3-highgpu.yaml", FABRIC_CHECKED)
"""A3 High blueprint: 4 extra gVNIC networks (`network_count: 4`), MTU 8244, /20 subnets, objects vpc1..vpc4."""
CT_A3_MEGA = Source(_CT + "examples/gke-a3-megagpu/gke-a3-megagpu.yaml", FABRIC_CHECKED)
"""A3 Mega blueprint: 8 extra gVNIC networks (`network_count: 8`), MTU 8244, /20 subnets, objects vpc1..vpc8."""
CT_A3_ULTRA = Source(_CT + "examples/gke-a3-ultragpu/gke-a3-ultragpu.yaml", FABRIC_CHECKED)
"""A3 Ultra blueprint: net-1 (one gVNIC network, vpc module MTU default 8896) and a RoCE network with the zone's
`vpc-roce` profile and 8 subnets; GKE `version_prefix: "1.35."`."""
CT_A4 = Source(_CT + "examples/gke-a4/gke-a4.yaml", FABRIC_CHECKED)
"""A4 blueprint: the same layout as A3 Ultra (one gVNIC network, a RoCE network with 8 subnets)."""
CT_A3_ULTRA_FIRST = Source(
    "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/443b8959e6ccf674ee2867fdcaafaa72ea344c7c"
    "/examples/gke-a3-ultragpu/gke-a3-ultragpu.yaml", "2026-12-01")
"""The A3 Ultra GKE blueprint when it first pinned a version (2025-01-09, "use version prefix with release channels"):
`version_prefix: "1.31."` on RAPID. The oldest GKE minor an anchor ran A3 Ultra's GPUDirect RDMA on; Google's page
"Maximize GPU network bandwidth ... RDMA" with its per-patch minimum could not be read, so no patch floor is kept."""
CT_A4_FIRST = Source(
    "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/f0a39c768f7ea8e2c16c741decee7bf31c6de55f"
    "/examples/gke-a4/gke-a4.yaml", "2026-12-01")
"""The A4 GKE blueprint as first published under that name (2025-03-27): `version_prefix: "1.32."`; the oldest GKE
minor an anchor ran A4's RDMA on (no per-patch minimum read)."""
GKE_VERSIONING = Source("https://cloud.google.com/kubernetes-engine/versioning", "2026-12-01")
"""GKE versioning and support: a minor gets "up to a total of 24 months of support ... after the version has been
made available for new cluster creation in the Regular channel" (about 14 months standard, 10 extended)."""
CT_GPU_DIRECT = Source(_CT + "modules/compute/gke-node-pool/gpu_direct.tf", FABRIC_CHECKED)
"""The toolkit's GPUDirect check: `min_additional_networks` (4 for a3-highgpu-8g, 8 for a3-megagpu-8g) and
`major_minor_version_acceptable_map`, the lowest GKE patch per minor that runs GPUDirect."""
CT_ROCE_NO_FIREWALL = Source(_CT + "modules/network/vpc/main.tf", FABRIC_CHECKED)
"""Precondition: "If var.network_profile contains 'roce', var.firewall_rules must be empty"."""
GKE_MULTI_NETWORK = Source(
    "https://docs.cloud.google.com/kubernetes-engine/docs/how-to/setup-multinetwork-support-for-pods", _CHECKED)
"""Multi-network requirements: GKE 1.28 or later, Dataplane V2; a node pool's networks cannot change after it is
created (the pool is recreated); Device-type Network names at most 41 characters."""
CT_A3_MEGA_RESULT = Source(_CT + "examples/gke-a3-megagpu/README.md", FABRIC_CHECKED)
"""2-node all_gather_perf on A3 Mega with TCPXO: 188.73 GB/s bus bandwidth at 8 GiB, average 53.89 (lines 140-148)."""
CT_CI_A3_HIGH = Source(_CT + "tools/cloud-build/daily-tests/ansible_playbooks/test-validation/test-gke-a3-high.yml",
                       FABRIC_CHECKED)
"""The toolkit's daily A3 High test: 2-node all_gather (1M-512M), `# Avg bus bandwidth` must be >= 25 GB/s."""
CT_CI_A3_MEGA = Source(_CT + "tools/cloud-build/daily-tests/ansible_playbooks/test-validation/test-gke-a3-mega.yml",
                       FABRIC_CHECKED)
"""The toolkit's daily A3 Mega test: 2-node all_gather, `# Avg bus bandwidth` must be >= 30 GB/s."""
CT_CI_A3_ULTRA = Source(_CT + "tools/cloud-build/daily-tests/ansible_playbooks/test-validation/test-gke-a3-ultra.yml",
                        FABRIC_CHECKED)
"""The toolkit's daily A3 Ultra test: 2-node all_gather (1K-8G, gIB), `# Avg bus bandwidth` must be >= 100 GB/s."""
CT_CI_A4 = Source(_CT + "tools/cloud-build/daily-tests/ansible_playbooks/test-validation/test-gke-a4.yml",
                  FABRIC_CHECKED)
"""The toolkit's daily A4 test: 2-node all_gather (1K-8G), `# Avg bus bandwidth` must be >= 100 GB/s."""

KP_INSTANCE_TYPES = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/v1.14/reference/instance-types.md", FABRIC_CHECKED)
"""Karpenter v1.14 instance types (from EC2 DescribeInstanceTypes): `vpc.amazonaws.com/efa` and network bandwidth."""
KP_NETWORK_CARDS = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/pkg/providers/instancetype/zz_generated.vpclimits.go", "2026-12-01")
"""Karpenter's generated VPC limits (file last changed 7f27b4e, 2026-08-18): NetworkCards per type, p5en.48xlarge 16,
p6-b200.48xlarge 8, p6-b300.48xlarge 17, p5.4xlarge 1."""
KP_EFA_DESIGN = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/designs/efa-for-static-capacity.md", FABRIC_CHECKED)
"""Karpenter's static EFA design: "IP optimized" = ENA and efa-only on network card 0, efa-only on every other
card; one EC2NodeClass layout does not fit instance types with other network topologies."""
EKS_EFA_GUIDE = Source(
    "https://github.com/awsdocs/amazon-eks-user-guide/blob/4d52b4d0/latest/ug/ml/node-efa.adoc", FABRIC_CHECKED)
"""EKS user guide, EFA: efa-only needs VPC CNI 1.18.5+, EFA-only traffic stays in one AZ, the EFA device plugin,
and the 2-node nccl-tests MPIJob (`vpc.amazonaws.com/efa: 32` on p5.48xlarge)."""
ADT_NCCL = Source(
    "https://github.com/aws-samples/awsome-distributed-training/blob/7217859f"
    "/micro-benchmarks/nccl-tests/README.md", FABRIC_CHECKED)
"""awsome-distributed-training nccl-tests results: 2 x p5.48xlarge all_reduce 487.09 GB/s bus bandwidth at 16 GiB
(line 224); 2 x p4de.24xlarge 78.33 GB/s at 2 GiB (line 187)."""
AICR_P5_FLOOR = Source(
    "https://github.com/NVIDIA/aicr/blob/bc05c6be/recipes/overlays/h100-eks-ubuntu-training.yaml", FABRIC_CHECKED)
"""NVIDIA AICR's EKS H100 training recipe: all_reduce bus bandwidth at the largest size must be >= 300 GB/s."""
OPENSHIFT_EFA_SOURCES: tuple[Source, ...] = (
    Source("https://github.com/openshift/api/blob/2a3d73913/machine/v1beta1/types_awsprovider.go", FABRIC_CHECKED),
    Source("https://github.com/openshift/enhancements/blob/5e369c2/enhancements/machine-api/aws-efa-networking.md",
           FABRIC_CHECKED),
)
"""openshift/api `AWSMachineProviderConfig.networkInterfaceType` (ENA or EFA) sets the type of the *primary*
interface, and no multi-NIC field exists; the enhancement: "OpenShift only supports a single network interface on
instances created by Machine API today, as such, the EFA network interface will be the primary network interface"."""

GCP_NETWORKS_QUOTA_METRIC = "NETWORKS"
"""Compute Engine's project-wide quota on VPC networks (`gcloud compute project-info describe`: `metric: NETWORKS`;
it includes the project's `default` network). GPU fabrics add networks: A3 Mega 8, A3 High 4, A3 Ultra 1 + one RoCE
network per zone. Source: GCP_NETWORKS_QUOTA_SOURCE."""
GCP_NETWORKS_QUOTA_SOURCE = Source("https://cloud.google.com/vpc/docs/quota", _CHECKED)
"""VPC "Quotas and limits", per project: Networks ("This includes the default network, which you can remove")."""

OPENSHIFT_AWS_MAX_EFA_INTERFACES = 1
"""EFA interfaces a Machine API (OpenShift on AWS) machine can have: its primary interface (OPENSHIFT_EFA_SOURCES).
A p5.48xlarge MachineSet thus gets 1 of its 32 EFA devices; never promise more."""


# --- records ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NcclBar:
    """What a 2-node NCCL test on a fabric showed in an anchor's published run, and the anchors' pass bars."""

    collective: str
    """nccl-tests binary, e.g. `all_gather_perf`."""
    sizes: tuple[str, str]
    """Message sizes the anchor runs (`-b`, `-e`); the last row is the largest."""
    measured_gbs: float | None
    """Bus bandwidth (GB/s) an anchor published for the largest message; None where none did."""
    floor_gbs: float | None
    """An anchor's pass bar on the largest message's bus bandwidth; None where none sets one."""
    avg_floor_gbs: float | None
    """An anchor CI's pass bar on `# Avg bus bandwidth` (the mean over every size)."""
    basis: str
    """Where the numbers come from, in a sentence a reviewer can check."""
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class GkeFabric:
    """One GKE machine family's GPU networking, as the anchor blueprints build it."""

    family: str
    """Stable key of the family (`a3-mega`): names its VPCs and subnets, which its pools in every region share."""
    machine_types: tuple[str, ...]
    transport: Transport
    gvnic_networks: int
    """Extra gVNIC networks a node needs (each a VPC with one subnet per region)."""
    rdma_subnets: int
    """Subnets of the zone's RoCE network (one per ConnectX-7 NIC); 0 where the family has none."""
    gvnic_mtu: int
    """MTU of the family's gVNIC GPU networks."""
    rdma_mtu: int | None
    """MTU of the RoCE network."""
    line_rate_gbps: int
    """GPU-fabric line rate of one node (all GPU NICs), Gbps."""
    network_names: tuple[str, ...]
    """Kubernetes Network / GKENetworkParamSet names in NIC order (the anchors' names; pods' annotations use them)."""
    min_gke: dict[str, str]
    """Lowest GKE version per minor that runs this fabric; minors above the highest listed are all fine."""
    min_gke_minor: str
    """Minors below this one do not run the fabric at all."""
    nccl: tuple[NcclBar, ...]
    sources: tuple[Source, ...]

    @property
    def extra_nics(self) -> int:
        """NICs beyond the primary one: `additional_node_network_configs` entries of a node pool."""
        return self.gvnic_networks + self.rdma_subnets

    @property
    def rdma_network_names(self) -> tuple[str, ...]:
        return self.network_names[self.gvnic_networks:]

    @property
    def gvnic_network_names(self) -> tuple[str, ...]:
        return self.network_names[:self.gvnic_networks]


_A3_HIGH_NCCL = NcclBar(
    collective="all_gather_perf", sizes=("1M", "512M"), measured_gbs=None, floor_gbs=None, avg_floor_gbs=25.0,
    basis="the toolkit's daily 2-node A3 High test passes at an average bus bandwidth of 25 GB/s (raised from 18 in "
    "cluster-toolkit PR 5167); no anchor publishes a largest-size figure (PR 3644's partial log: 41 GB/s at 64 MB)",
    sources=(CT_CI_A3_HIGH,))
_A3_MEGA_NCCL = NcclBar(
    collective="all_gather_perf", sizes=("1K", "8G"), measured_gbs=188.73, floor_gbs=None, avg_floor_gbs=30.0,
    basis="2 x a3-megagpu-8g with TCPXO reached 188.73 GB/s at 8 GiB (94% of the 200 GB/s fabric) in the toolkit's "
    "README run; its daily test passes at an average of 30 GB/s", sources=(CT_A3_MEGA_RESULT, CT_CI_A3_MEGA))
_RDMA_NCCL = NcclBar(
    collective="all_gather_perf", sizes=("1K", "8G"), measured_gbs=None, floor_gbs=None, avg_floor_gbs=100.0,
    basis="the toolkit's daily 2-node test passes at an average bus bandwidth of 100 GB/s; no anchor publishes a "
    "largest-size figure", sources=(CT_CI_A3_ULTRA, CT_CI_A4))

GKE_FABRICS: tuple[GkeFabric, ...] = (
    GkeFabric(family="a3-high", machine_types=("a3-highgpu-8g",), transport=Transport.TCPX, gvnic_networks=4,
              rdma_subnets=0, gvnic_mtu=8244, rdma_mtu=None, line_rate_gbps=800,
              network_names=tuple(f"vpc{i}" for i in range(1, 5)),
              min_gke={"1.27": "1.27.16-gke.2874000", "1.28": "1.28.15-gke.3163000", "1.29": "1.29.15-gke.2467000"},
              min_gke_minor="1.28",
              nccl=(_A3_HIGH_NCCL,), sources=(GKE_GPUDIRECT, CT_A3_HIGH, CT_GPU_DIRECT, VERTEX_MTU, GKE_MULTI_NETWORK)),
    GkeFabric(family="a3-mega", machine_types=("a3-megagpu-8g",), transport=Transport.TCPXO, gvnic_networks=8,
              rdma_subnets=0, gvnic_mtu=8244, rdma_mtu=None, line_rate_gbps=1600,
              network_names=tuple(f"vpc{i}" for i in range(1, 9)),
              min_gke={"1.28": "1.28.15-gke.3163000", "1.29": "1.29.15-gke.2467000", "1.30": "1.30.14-gke.1922000",
                       "1.31": "1.31.14-gke.1243000", "1.32": "1.32.11-gke.1174000"}, min_gke_minor="1.28",
              nccl=(_A3_MEGA_NCCL,), sources=(GKE_GPUDIRECT, CT_A3_MEGA, CT_GPU_DIRECT, VERTEX_MTU, GKE_MULTI_NETWORK)),
    # A3 Ultra and A4: the oldest minor an anchor blueprint ran each on (CT_A3_ULTRA_FIRST, CT_A4_FIRST); today's
    # blueprints pin 1.35, which is a choice of theirs, not a floor. No per-patch minimum was read.
    GkeFabric(family="a3-ultra", machine_types=("a3-ultragpu-8g",), transport=Transport.RDMA, gvnic_networks=1,
              rdma_subnets=8, gvnic_mtu=8896, rdma_mtu=8896, line_rate_gbps=3200,
              network_names=("gvnic-1", *(f"rdma-{i}" for i in range(8))), min_gke={}, min_gke_minor="1.31",
              nccl=(_RDMA_NCCL,),
              sources=(GCE_GPU_NETWORKING, CT_A3_ULTRA, CT_A3_ULTRA_FIRST, RDMA_NETWORK_PROFILES, VERTEX_MTU,
                       CT_ROCE_NO_FIREWALL, GKE_MULTI_NETWORK)),
    # A4 (B200): the RoCE layout of A3 Ultra (CT_A4), so A4 pools get the same RDMA fabric.
    GkeFabric(family="a4", machine_types=("a4-highgpu-8g",), transport=Transport.RDMA, gvnic_networks=1, rdma_subnets=8,
              gvnic_mtu=8896, rdma_mtu=8896, line_rate_gbps=3200,
              network_names=("gvnic-1", *(f"rdma-{i}" for i in range(8))), min_gke={}, min_gke_minor="1.32",
              nccl=(_RDMA_NCCL,), sources=(GCE_GPU_NETWORKING, CT_A4, CT_A4_FIRST, RDMA_NETWORK_PROFILES, VERTEX_MTU,
                                           CT_ROCE_NO_FIREWALL, GKE_MULTI_NETWORK)),
)
"""GKE families with a GPU fabric; every other GKE GPU machine (A2, G2, the smaller A3 High shapes) has none."""

_FABRIC_BY_MACHINE: dict[str, GkeFabric] = {m: f for f in GKE_FABRICS for m in f.machine_types}

GKE_OLDEST_MINOR: dict[str, str] = {"RAPID": "1.33", "REGULAR": "1.33", "STABLE": "1.33", "EXTENDED": "1.32"}
"""The oldest GKE minor a cluster of each release channel can run on 2026-12-01, for stacks that leave
`gke.min_master_version` unset. Derived, not read from GKE's release schedule (which could not be read): GKE_VERSIONING
gives a minor 14 months of standard support from its Regular availability, 24 with the Extended channel; 1.32 reached
Regular about 2025-02 and 1.33 about 2025-06 (Kubernetes upstream released them 2024-12-11 and 2025-04-23), so on
2026-12-01 standard support starts at 1.33 and Extended may still run 1.32. Unverified; refresh from the schedule."""
GKE_OLDEST_MINOR_CHECKED = "2026-12-01"


def gke_fabric(machine_type: str) -> GkeFabric | None:
    """The GPU fabric of a GKE machine type; None where it has none (its GPUs talk across nodes over TCP)."""
    return _FABRIC_BY_MACHINE.get(machine_type)


# --- AWS EFA ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EfaFabric:
    """EFA of one EC2 instance type (the interface count itself is MachineType.efa_interfaces)."""

    instance_type: str
    line_rate_gbps: int
    """Network bandwidth of the instance (EFA and IP together), Gbps."""
    nccl: tuple[NcclBar, ...]
    sources: tuple[Source, ...]


_P5_NCCL = (
    NcclBar(collective="all_reduce_perf", sizes=("8", "16G"), measured_gbs=487.09, floor_gbs=300.0, avg_floor_gbs=None,
            basis="NVIDIA AICR's EKS H100 training recipe requires 300 GB/s at the largest size; awsome-distributed-"
            "training measured 487.09 GB/s at 16 GiB on 2 x p5.48xlarge", sources=(AICR_P5_FLOOR, ADT_NCCL)),
)
_P4_NCCL = (
    NcclBar(collective="all_reduce_perf", sizes=("8", "2G"), measured_gbs=78.33, floor_gbs=None, avg_floor_gbs=None,
            basis="awsome-distributed-training measured 78.33 GB/s at 2 GiB on 2 x p4de.24xlarge (the same 4 x 100 "
            "Gbps EFA as p4d); it is a reference, no anchor sets a pass bar", sources=(ADT_NCCL,)),
)
_NO_PUBLISHED = (
    NcclBar(collective="all_reduce_perf", sizes=("8", "16G"), measured_gbs=None, floor_gbs=None, avg_floor_gbs=None,
            basis="no anchor publishes a result or a pass bar for this instance type", sources=(KP_INSTANCE_TYPES,)),
)

EFA_FABRICS: tuple[EfaFabric, ...] = (
    EfaFabric(instance_type="p5.48xlarge", line_rate_gbps=3200, nccl=_P5_NCCL,
              sources=(KP_INSTANCE_TYPES, ADT_NCCL, AICR_P5_FLOOR)),
    # p6-b200: 8 EFA interfaces on 8 network cards (Karpenter's zz_generated.vpclimits.go, KP_NETWORK_CARDS), which
    # is the layout gpu-fleet's EC2NodeClass writes (ENA and EFA on card 0, EFA on every other card).
    EfaFabric(instance_type="p6-b200.48xlarge", line_rate_gbps=3200, nccl=_NO_PUBLISHED,
              sources=(KP_INSTANCE_TYPES, KP_NETWORK_CARDS)),
    # p5e carries the same 32 x 100 Gbps EFA as p5; the anchors' runs are p5 runs, hence only a reference.
    EfaFabric(instance_type="p5e.48xlarge", line_rate_gbps=3200, nccl=_NO_PUBLISHED, sources=(KP_INSTANCE_TYPES,)),
    EfaFabric(instance_type="p5en.48xlarge", line_rate_gbps=3200, nccl=_NO_PUBLISHED, sources=(KP_INSTANCE_TYPES,)),
    EfaFabric(instance_type="p4d.24xlarge", line_rate_gbps=400, nccl=_P4_NCCL, sources=(KP_INSTANCE_TYPES, ADT_NCCL)),
    EfaFabric(instance_type="p4de.24xlarge", line_rate_gbps=400, nccl=_P4_NCCL, sources=(KP_INSTANCE_TYPES, ADT_NCCL)),
)
"""The EC2 instance types gpu-fleet gives EFA by default (multi-node training machines)."""

_EFA_BY_TYPE: dict[str, EfaFabric] = {f.instance_type: f for f in EFA_FABRICS}

EFA_LAYOUT_REFUSED: dict[str, str] = {
    "p6-b300.48xlarge": "its 16 EFA interfaces sit on 17 network cards (Karpenter's zz_generated.vpclimits.go), a "
                        "layout gpu-fleet's EC2NodeClass does not write yet (it puts ENA and EFA on card 0 and one EFA "
                        "on each next card, KP_EFA_DESIGN): gpu-fleet does not provision EFA for it",
}
"""EFA instance types whose network-card layout gpu-fleet cannot write: their pools run without EFA, `efa: true` is
refused with this reason."""


def efa_fabric(instance_type: str) -> EfaFabric | None:
    """EFA facts of an instance type that gets EFA by default; None for every other type."""
    return _EFA_BY_TYPE.get(instance_type)


def efa_by_default(instance_type: str) -> bool:
    """Whether a pool of this instance type gets its EFA interfaces unless the config turns them off."""
    return instance_type in _EFA_BY_TYPE
