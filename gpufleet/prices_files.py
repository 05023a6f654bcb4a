"""Prices from published price files, for `gpu-fleet prices refresh --gcp-pricing-yml / --aws-vms-csv`.

The documented one-off path for a refresh without API access: the same snapshot rows, read from files that are
themselves generated from the clouds' catalogs. GCP: Cyclenerd's `pricing.yml`, which its weekly workflow
(`.github/workflows/build-pricing.yml`: `build/skus.sh` exports Compute Engine's SKUs from the Cloud Billing Catalog
API, `build/pricing.pl` composes each machine from the SKU patterns of `build/mapping.csv`) writes with the run's
date in `about.timestamp`. AWS: SkyPilot's `catalogs/v8/aws/vms.csv` (one row per type and zone, `Price` the Linux
on-demand rate), which records no date, so the caller names the day it was read. Each row keeps the file's URL at
its commit, the date of its data and how it was read; a machine whose facts in the file disagree with the catalog
is not priced from it (the catalog is the one truth for GPUs, vCPUs and memory).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from components import catalog
from components.catalog.types import Cloud, MachineType, Price, PriceSku, Source
from gpufleet.prices_refresh import Key, RefreshError

CYCLENERD_GPU_FIELDS: dict[str, str] = {
    "a100-40gb": "a100",
    "a100-80gb": "a100-80gb",
    "h100-80gb": "h100-80gb",
    "h100-mega-80gb": "h100-80gb-mega",
    "l4": "l4",
    "rtx-pro-6000": "rtx6000",
}
"""Catalog GPU id -> the field of a `pricing.yml` machine that counts its GPUs (the fields `build/pricing.pl`
reads: `a100`, `a100-80gb`, `h100-80gb`, `h100-80gb-mega`, `l4`, `rtx6000`; Cyclenerd@fd66b26). A GPU without one
(B200, H200) has no Cyclenerd price."""

_UNITS = {"CPU": "h", "RAM": "GiBy.h", "GPU": "h", "LocalSSD": "GiBy.mo"}
"""The Cloud Billing usage unit of each resource group's SKUs (core-hours, GiB-hours, GPU-hours, GiB-months)."""

SKYPILOT_HOW = ("read from SkyPilot's AWS catalog (catalogs/v8/aws/vms.csv, Linux on-demand), which records no date "
                "of its own: dated by the day it was read; no newer AWS price file could be reached")
"""How a SkyPilot row was obtained (the same words for every row of the same file, so they share one source)."""


@dataclass
class FileRead:
    """What one price file gave: the prices, and one line per machine it could not be used for."""

    prices: dict[Key, Price] = field(default_factory=dict)
    """Fresh prices by (machine, region)."""
    skipped: list[str] = field(default_factory=list)
    """`machine: why` for a machine the file has but that disagrees with the catalog."""


def _yaml(text: str, what: str) -> Any:
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RefreshError(f"{what}: not YAML ({str(exc).splitlines()[0]})") from None


def cyclenerd_date(doc: Mapping[str, Any]) -> str:
    """The day `pricing.yml` was generated (its `about.timestamp`, UTC), i.e. the date of its SKU export."""
    about = doc.get("about") or {}
    stamp = about.get("timestamp")
    if not isinstance(stamp, int):
        raise RefreshError("pricing.yml: no `about.timestamp` (the run that generated it)")
    return dt.datetime.fromtimestamp(stamp, dt.UTC).date().isoformat()


def cyclenerd_mapping(text: str) -> dict[str, tuple[str, str]]:
    """`build/mapping.csv`: mapping key -> (resource group, SKU description pattern); the first row of a key wins."""
    out: dict[str, tuple[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        key, group, pattern = row.get("MAPPING") or "", row.get("GROUP") or "", row.get("SKU_DESCRIPTION") or ""
        if key and group and pattern:
            out.setdefault(key, (group, pattern))
    if not out:
        raise RefreshError("mapping.csv: no MAPPING,GROUP,SKU_DESCRIPTION rows")
    return out


def _disagreement(machine: MachineType, entry: Mapping[str, Any]) -> str | None:
    gpu_field = CYCLENERD_GPU_FIELDS.get(machine.gpu)
    if gpu_field is None:
        return f"no pricing.yml GPU field for the catalog's {machine.gpu}"
    facts = {"cpu": machine.vcpus, "ram": machine.memory_gb, gpu_field: machine.gpus,
             "local-ssd": machine.local_ssd_gb}
    wrong = [f"{k} {entry.get(k, 0)} (catalog {v})" for k, v in facts.items() if (entry.get(k) or 0) != v]
    return "pricing.yml says " + ", ".join(wrong) if wrong else None


def _skus(machine: MachineType, mapping: Mapping[str, tuple[str, str]], *, spot: bool) -> tuple[PriceSku, ...]:
    """The SKU patterns `build/pricing.pl` composes the machine from.

    `gce.compute.{cpu,ram}.<series>`, the GPU's `gce.compute.gpu.<field>` and `gce.storage.ssd.local`, each with
    `.spot` for the Spot figure.
    """
    series = machine.name.split("-")[0]
    gpu_field = CYCLENERD_GPU_FIELDS[machine.gpu].replace("-", ".")
    parts = [(f"gce.compute.cpu.{series}", machine.vcpus), (f"gce.compute.ram.{series}", machine.memory_gb),
             (f"gce.compute.gpu.{gpu_field}", machine.gpus)]
    if machine.local_ssd_gb:
        parts.append(("gce.storage.ssd.local", machine.local_ssd_gb))
    out = []
    for key, quantity in parts:
        group, pattern = mapping.get(key + (".spot" if spot else ""), ("", ""))
        if not pattern:
            raise RefreshError(f"mapping.csv has no {key}{'.spot' if spot else ''} row for {machine.name}")
        out.append(PriceSku(None, f"{pattern} (resource group {group})", float(quantity), _UNITS[group], spot))
    return tuple(out)


def _usd(cost: Mapping[str, Any], figure: str) -> float | None:
    value = cost.get(figure)
    # pricing.pl writes 0 where a SKU of the machine is missing in the region: no price, not a free machine.
    return float(value) if isinstance(value, int | float) and value > 0 else None


def cyclenerd_prices(pricing_yml: str, mapping_csv: str, keys: Iterable[Key], *, url: str) -> FileRead:
    """GCP prices for `keys` from Cyclenerd's `pricing.yml`, with the SKU patterns each is composed of.

    The figures are `compute.instance.<machine>.cost.<region>.hour` and `.hour_spot`.
    """
    doc = _yaml(pricing_yml, "pricing.yml")
    instances = ((doc or {}).get("compute") or {}).get("instance") if isinstance(doc, dict) else None
    if not isinstance(instances, dict):
        raise RefreshError("pricing.yml: no compute.instance table")
    as_of, mapping = cyclenerd_date(doc), cyclenerd_mapping(mapping_csv)
    how = (f"read by `gpu-fleet prices refresh --gcp-pricing-yml` from Cyclenerd's pricing.yml, generated {as_of} "
           "from the Cloud Billing Catalog API's Compute Engine SKUs by its weekly build-pricing workflow; Cyclenerd "
           "composes each machine from the SKU patterns listed (build/mapping.csv at the same commit), SKU ids are "
           "not in the file")
    read = FileRead()
    for key in keys:
        machine = catalog.find_machine_type(key.machine_type)
        entry = instances.get(key.machine_type)
        if machine is None or machine.cloud is not Cloud.GCP or not isinstance(entry, dict):
            continue
        problem = _disagreement(machine, entry)
        if problem is not None:
            read.skipped.append(f"{machine.name}: {problem}")
            continue
        cost = (entry.get("cost") or {}).get(key.region) or {}
        on_demand, spot = _usd(cost, "hour"), _usd(cost, "hour_spot")
        if on_demand is None:
            continue
        skus = _skus(machine, mapping, spot=False) + (_skus(machine, mapping, spot=True) if spot else ())
        read.prices[key] = Price(key.machine_type, key.region, on_demand, spot, Source(url, as_of), skus, how)
    read.skipped = sorted(set(read.skipped))
    return read


def skypilot_aws(vms_csv: str, keys: Iterable[Key], *, url: str, as_of: str) -> FileRead:
    """AWS on-demand prices for `keys` from SkyPilot's `vms.csv`; every zone row of a region must agree."""
    wanted = {(k.machine_type, k.region) for k in keys
              if (m := catalog.find_machine_type(k.machine_type)) is not None and m.cloud is Cloud.AWS}
    seen: dict[tuple[str, str], set[float]] = {}
    reader = csv.DictReader(io.StringIO(vms_csv))
    if not reader.fieldnames or not {"InstanceType", "Price", "Region"} <= set(reader.fieldnames):
        raise RefreshError("vms.csv: no InstanceType, Price and Region columns")
    for row in reader:
        key = (row["InstanceType"], row["Region"])
        if key in wanted and row.get("Price"):
            seen.setdefault(key, set()).add(float(row["Price"]))
    read = FileRead()
    for (machine, region), figures in sorted(seen.items()):
        if len(figures) != 1:
            read.skipped.append(f"{machine}: vms.csv rows of {region} disagree ({sorted(figures)})")
            continue
        sku = PriceSku(None, f"EC2 {machine} Linux shared-tenancy on-demand instance hour (vms.csv row)", 1.0, "Hrs")
        read.prices[Key(machine, region)] = Price(machine, region, figures.pop(), None, Source(url, as_of), (sku,),
                                                  SKYPILOT_HOW)
    return read
