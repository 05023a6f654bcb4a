"""List prices per machine type and region, with provenance: the snapshot `gpu-fleet prices refresh` writes.

The figures live in `price_snapshot.py`, a generated file reviewed as a diff in a pull request; this module turns
its rows into `Price` records (source, date, the SKUs each price is composed of) and holds the rules that say
which billing SKUs make up a GCP machine: GCP prices an accelerator VM as vCPUs x a core SKU + GiB x a RAM SKU
+ GPUs x a GPU SKU (+ the bundled Local SSD), per region and per on-demand or Spot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.catalog import price_snapshot as _snapshot
from components.catalog.types import Price, PriceSku, Source

GCP_COMPUTE_SERVICE = "6F81-5844-456A"
"""Compute Engine's service id in the Cloud Billing Catalog (`services/6F81-5844-456A/skus`)."""

_SKU_DESCRIPTIONS = Source(
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob"
    "/dac31281f2a4575f0a8bff20ac04fc71a5ff2190/build/mapping.csv", "2026-08-20")
"""Cyclenerd's SKU mapping: the description patterns of the A2/A3/G2/G4 core and RAM SKUs, of each GPU SKU and of
Local SSD, with their resource groups (CPU, RAM, GPU, LocalSSD); the same repository's `build/pricing.pl` adds the
bundled Local SSD (`local-ssd` GB in `build/gcp.yml`) at the monthly Local SSD SKU over 730 hours."""
_GPUHUNT = Source("https://github.com/dstackai/gpuhunt/blob/3584151/src/gpuhunt/providers/gcp.py", "2026-08-19")
"""gpuhunt reads the same catalog and maps the A3 Mega machine to the `A3Plus Instance` core and RAM SKUs and its
GPU to `Nvidia H100 80GB Mega GPU` or `... Plus GPU`; Cyclenerd prices A3 Mega's cores with the `A3 Instance` SKUs.
The refresh tries `A3Plus Instance` first and records which one it used."""
GCP_SKU_SOURCES: tuple[Source, ...] = (_SKU_DESCRIPTIONS, _GPUHUNT)

GCP_SERIES_SKUS: dict[str, tuple[str, ...]] = {
    "a2-highgpu": ("A2 Instance",),
    "a2-megagpu": ("A2 Instance",),
    "a2-ultragpu": ("A2 Instance",),
    "a3-highgpu": ("A3 Instance",),
    "a3-megagpu": ("A3Plus Instance", "A3 Instance"),
    "g2-standard": ("G2 Instance",),
    "g4-standard": ("G4 Instance",),
}
"""Machine-name prefix -> description prefixes of its core and RAM SKUs (`<prefix> Core running in ...`, `<prefix>
Ram running in ...`; the Spot SKUs start with `Spot Preemptible `), first match wins. A3 Ultra is absent: no
source names its core and RAM SKUs, so it stays unpriced rather than composed from a guess."""

GCP_GPU_SKUS: dict[str, tuple[str, ...]] = {
    "a100-40gb": ("Nvidia Tesla A100 GPU",),
    "a100-80gb": ("Nvidia Tesla A100 80GB GPU",),
    "h100-80gb": ("Nvidia H100 80GB GPU",),
    "h100-mega-80gb": ("Nvidia H100 80GB Mega GPU", "Nvidia H100 80GB Plus GPU"),
    "l4": ("Nvidia L4 GPU",),
    "rtx-pro-6000": ("RTX 6000 96GB",),
}
"""Catalog GPU id -> description prefixes of its GPU SKU (`... running in <geo>`; Spot: `... attached to Spot
Preemptible VMs running in <geo>`)."""

GCP_LOCAL_SSD_SKU = "SSD backed Local Storage"
"""The Local SSD SKU (resource group LocalSSD, priced per GiB-month); Spot: `... attached to Spot Preemptible VMs`."""


def _sku(raw: Any) -> PriceSku:
    sku_id, description, quantity, unit, spot = raw  # the snapshot's SKU tuple, as price_snapshot.py writes it
    return PriceSku(sku_id=sku_id or None, description=str(description), quantity=float(quantity), unit=str(unit),
                    spot=bool(spot))


def _price(row: Mapping[str, Any], sources: Mapping[str, Mapping[str, str]]) -> Price:
    source = sources[row["source"]]
    return Price(machine_type=row["machine_type"], region=row["region"], on_demand_hourly_usd=float(row["on_demand"]),
                 spot_hourly_usd=None if row.get("spot") is None else float(row["spot"]),
                 source=Source(source["url"], source["as_of"]), skus=tuple(_sku(s) for s in row.get("skus") or ()),
                 how=source["how"])


def load(rows: tuple[dict[str, Any], ...] = _snapshot.ROWS,
         sources: Mapping[str, Mapping[str, str]] = _snapshot.SOURCES) -> tuple[Price, ...]:
    """The snapshot's rows as `Price` records, in the snapshot's order."""
    return tuple(_price(row, sources) for row in rows)


PRICES: tuple[Price, ...] = load()
"""Every list price the catalog has, both clouds."""

UNPRICED: dict[str, str] = dict(_snapshot.UNPRICED)
"""Machine types the catalog knows but could not price from any source, with the reason (shown in the plan)."""

SNAPSHOT_TAKEN: str = _snapshot.TAKEN
"""The day the snapshot was last written."""
