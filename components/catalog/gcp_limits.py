"""GCP and GKE facts a stack must respect: regions and zones, boot disks and Local SSD per machine, size limits.

Config validation asks these so a stack that GCP or GKE would refuse fails at plan time, with the limit's
source, instead of half-way through `pulumi up`. Each fact cites the page it was read from.
"""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass

from components.catalog.types import CHECKED as _CHECKED
from components.catalog.types import Source

GCP_REGIONS_SOURCE = Source("https://docs.cloud.google.com/compute/docs/regions-zones", _CHECKED)
"""GCP "Regions and zones". Read from a public copy of `gcloud compute regions list` (42 regions, africa-south1
to us-west4, with their zones); the page itself could not be retrieved. Every region and zone of GPU_ZONES,
and every GCP region of SkyPilot's v9 catalog that was read, is in it (tests/catalog/test_catalog.py checks the
first)."""


def _zones(region: str, *, letters: str = "abc") -> tuple[str, ...]:
    return tuple(f"{region}-{letter}" for letter in letters)


GCP_REGIONS: dict[str, tuple[str, ...]] = {
    **{r: _zones(r) for r in (
        "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3",
        "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2", "australia-southeast1",
        "australia-southeast2", "europe-central2", "europe-north1", "europe-north2", "europe-southwest1",
        "europe-west10", "europe-west12", "europe-west2", "europe-west3", "europe-west4", "europe-west6",
        "europe-west8", "europe-west9", "me-central1", "me-central2", "me-west1", "northamerica-northeast1",
        "northamerica-northeast2", "northamerica-south1", "southamerica-east1", "southamerica-west1",
        "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
    )},
    # The three regions whose zones are not -a, -b, -c.
    "europe-west1": _zones("europe-west1", letters="bcd"),
    "us-central1": _zones("us-central1", letters="abcf"),
    "us-east1": _zones("us-east1", letters="bcd"),
}
"""Every GCP region and its zones (GCP_REGIONS_SOURCE)."""


@dataclass(frozen=True)
class MachineSeries:
    """What one accelerator-optimized machine series accepts as boot disk and as Local SSD."""

    name: str
    """GCP's name of the series, e.g. ``A3 Mega``."""
    _: KW_ONLY
    """Every field after the name only by keyword: a row names each fact it states."""
    machines: tuple[str, ...]
    """Machine types of the series that the catalog knows."""
    boot_disk_types: tuple[str, ...]
    """Boot disk types the series supports, in the order of preference (the first is gpu-fleet's advice)."""
    attachable_local_ssd: dict[str, int]
    """Machine -> the most Local SSD disks (375 GiB) that can be attached; empty where Local SSD is bundled
    (MachineType.local_ssd_gb) and its count is fixed."""
    source: Source


_ACCEL_DISKS = Source("https://docs.cloud.google.com/compute/docs/accelerator-optimized-machines", _CHECKED)
"""Accelerator-optimized machine family, "Supported disk types for A3 / A2 / G2" and each series' machine table
(read from a public copy of the page, before A3 Ultra was added to it): A3 High/Mega take pd-balanced, pd-ssd
and Hyperdisk (Hyperdisk Balanced only on the 8-GPU shapes), no pd-standard; A2 takes pd-standard, pd-balanced,
pd-ssd and Hyperdisk ML (no Hyperdisk Balanced); G2 takes pd-balanced, pd-ssd, Hyperdisk ML and Throughput, and
"Standard Persistent Disk (pd-standard) isn't supported" on G2. Local SSD: A2 Standard "up to 3,000 GiB", G2 per
machine ("Max Local SSD supported (GiB)": 375, 750 for g2-standard-24, 1,500 for -48, 3,000 for -96); A2 Ultra
and A3 attach theirs automatically."""
_HYPERDISK_BOOT = Source("https://docs.cloud.google.com/compute/docs/disks/hd-types/hyperdisk-balanced", _CHECKED)
"""About Hyperdisk Balanced: "Hyperdisk Balanced and Hyperdisk Balanced High Availability are the only Hyperdisk
types you can use as a boot disk"; so Hyperdisk ML/Throughput/Extreme never appear in boot_disk_types."""
_A3_ULTRA_DISKS = Source("https://docs.cloud.google.com/compute/docs/disks/hyperdisks", _CHECKED)
"""About Hyperdisk, machine series table: A3 (H200), i.e. A3 Ultra, takes Hyperdisk and no Persistent Disk; the
Vertex AI DiskSpec reference agrees ("for A3U machines, the default value is hyperdisk-balanced",
docs.cloud.google.com/vertex-ai/docs/reference/rest/v1/DiskSpec). Not read from the accelerator page itself."""

_HYPERDISK_ONLY_2026 = Source("https://docs.cloud.google.com/compute/docs/disks/hyperdisks", "2026-12-01")
"""A4, A4X and G4 boot from Hyperdisk Balanced: cluster-toolkit's A4X blueprint sets `disk_type: hyperdisk-balanced`
and the fabric review lists "Hyperdisk boot" for A4; the Hyperdisk page's machine-series table for A4 and G4 was not
read. Unverified for G4: hyperdisk-balanced is asked for explicitly, which every Titanium series takes."""

_PD = ("pd-balanced", "pd-ssd")
_A2_STANDARD = ("a2-highgpu-1g", "a2-highgpu-2g", "a2-highgpu-4g", "a2-highgpu-8g", "a2-megagpu-16g")
_G2 = ("g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16", "g2-standard-24", "g2-standard-32",
       "g2-standard-48", "g2-standard-96")
MACHINE_SERIES: tuple[MachineSeries, ...] = (
    MachineSeries("A2 Standard", machines=_A2_STANDARD, boot_disk_types=(*_PD, "pd-standard"),
                  attachable_local_ssd=dict.fromkeys(_A2_STANDARD, 8), source=_ACCEL_DISKS),
    MachineSeries("A2 Ultra", machines=("a2-ultragpu-1g", "a2-ultragpu-2g", "a2-ultragpu-4g", "a2-ultragpu-8g"),
                  boot_disk_types=(*_PD, "pd-standard"), attachable_local_ssd={}, source=_ACCEL_DISKS),
    MachineSeries("A3 High", machines=("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"), boot_disk_types=_PD,
                  attachable_local_ssd={}, source=_ACCEL_DISKS),
    MachineSeries("A3 High", machines=("a3-highgpu-8g",), boot_disk_types=(*_PD, "hyperdisk-balanced"),
                  attachable_local_ssd={}, source=_ACCEL_DISKS),
    MachineSeries("A3 Mega", machines=("a3-megagpu-8g",), boot_disk_types=(*_PD, "hyperdisk-balanced"),
                  attachable_local_ssd={}, source=_ACCEL_DISKS),
    MachineSeries("A3 Ultra", machines=("a3-ultragpu-8g",), boot_disk_types=("hyperdisk-balanced",),
                  attachable_local_ssd={}, source=_A3_ULTRA_DISKS),
    MachineSeries("A4", machines=("a4-highgpu-8g",), boot_disk_types=("hyperdisk-balanced",),
                  attachable_local_ssd={}, source=_HYPERDISK_ONLY_2026),
    MachineSeries("G4", machines=("g4-standard-48", "g4-standard-96", "g4-standard-192", "g4-standard-384"),
                  boot_disk_types=("hyperdisk-balanced",), attachable_local_ssd={}, source=_HYPERDISK_ONLY_2026),
    MachineSeries("G2", machines=_G2, boot_disk_types=_PD,
                  attachable_local_ssd={"g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1,
                                        "g2-standard-16": 1, "g2-standard-24": 2, "g2-standard-32": 1,
                                        "g2-standard-48": 4, "g2-standard-96": 8},
                  source=_ACCEL_DISKS),
)
BOOT_DISK_SOURCES: tuple[Source, ...] = (_ACCEL_DISKS, _HYPERDISK_BOOT, _A3_ULTRA_DISKS, _HYPERDISK_ONLY_2026)
GKE_DEFAULT_BOOT_DISK = "pd-balanced"
"""What GKE gives a node pool that names no boot disk type (node_config.disk_type)."""


def boot_disk(machine: str) -> str | None:
    """The boot disk to ask for when a pool names none.

    None (GKE's default) where the series takes it, else the series' first boot disk type (A3 Ultra has no
    Persistent Disk: hyperdisk-balanced).
    """
    found = series(machine)
    if found is None or GKE_DEFAULT_BOOT_DISK in found.boot_disk_types:
        return None
    return found.boot_disk_types[0]

_CT_PRECONDITIONS = Source(
    "https://github.com/GoogleCloudPlatform/cluster-toolkit/blob/1047080375afbb44da4b596be314634e7486af4a"
    "/modules/compute/gke-node-pool/main.tf", "2026-12-01")
"""cluster-toolkit's node-pool preconditions (lines 387-460), each a GKE refusal: "Compact placement is not supported
with blue-green upgrades"; "Compact placement with DWS Flex start is only supported for A3 Ultra, A4, and H4D machine
types" (regex `^(a3-ultragpu-|a4-|h4d-)`, cluster-toolkit PR 5737)."""
COMPACT_FLEX_START_PREFIXES = ("a3-ultragpu-", "a4-", "h4d-")
"""Machine types on which GKE combines compact placement with flex-start (_CT_PRECONDITIONS)."""
POOL_RULE_SOURCES: tuple[Source, ...] = (_CT_PRECONDITIONS,)


def compact_flex_start(machine: str) -> bool:
    """Whether GKE takes a compact-placement pool of ``machine`` on flex-start VMs."""
    return machine.startswith(COMPACT_FLEX_START_PREFIXES)


LOCAL_SSD_GB = 375
"""Every Local SSD disk is 375 GiB (docs.cloud.google.com/compute/docs/disks/local-ssd)."""

_GKE_QUOTAS = Source("https://cloud.google.com/kubernetes-engine/quotas", _CHECKED)
GKE_MAX_NODES_PER_POOL_ZONE = 1000
"""GKE Standard "Nodes per node pool zone: 1,000" (_GKE_QUOTAS)."""

_GKE_POD_CIDR = Source("https://cloud.google.com/kubernetes-engine/docs/how-to/flexible-pod-cidr", _CHECKED)
GKE_NODE_POD_PREFIX = 24
"""With GKE's default of 110 Pods per node "Kubernetes assigns a /24 CIDR block (256 addresses) to each of the
nodes" (_GKE_POD_CIDR); gpu-fleet keeps that default, so a Pod range narrower than /24 cannot hold one node."""

_GKE_ALIAS_IPS = Source("https://docs.cloud.google.com/kubernetes-engine/docs/concepts/alias-ips", _CHECKED)
GKE_SERVICES_MAX_PREFIX = 27
"""The smallest Service range GKE takes for a VPC-native cluster: a /27 (32 addresses), per the Service range
sizing of "VPC-native clusters" (_GKE_ALIAS_IPS). The table itself could not be retrieved to quote; /27 is
from the page as remembered and from GKE's --services-ipv4-cidr guidance. Verify before relying on it."""

_PD_SIZE = Source("https://docs.cloud.google.com/compute/docs/disks/persistent-disks", _CHECKED)
MAX_BOOT_DISK_GB = 65536
""""Persistent Disk volumes can be up to 64 TiB in size" (_PD_SIZE): 65,536 GiB."""

_NAMING = Source("https://docs.cloud.google.com/compute/docs/naming-resources", _CHECKED)
MAX_RESOURCE_NAME = 63
"""Compute Engine resource names follow RFC 1035: at most 63 characters (_NAMING)."""

_PROJECT_IDS = Source("https://cloud.google.com/resource-manager/docs/creating-managing-projects", _CHECKED)
PROJECT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
"""A project ID "must be 6 to 30 characters", "can only contain lowercase letters, numbers, and hyphens",
"must start with a letter" and "cannot end with a hyphen" (_PROJECT_IDS, as quoted by the firestore-path
crate's docs)."""

LIMIT_SOURCES: tuple[Source, ...] = (_GKE_QUOTAS, _GKE_POD_CIDR, _GKE_ALIAS_IPS, _PD_SIZE, _NAMING, _PROJECT_IDS)

_SERIES_BY_MACHINE: dict[str, MachineSeries] = {m: s for s in MACHINE_SERIES for m in s.machines}


def series(machine: str) -> MachineSeries | None:
    """The accelerator-optimized series of ``machine``; None where the catalog does not know it."""
    return _SERIES_BY_MACHINE.get(machine)
