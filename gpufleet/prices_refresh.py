"""`gpu-fleet prices refresh`: list prices from the clouds' own catalogs into the reviewed snapshot, and a drift check.

GCP: the Cloud Billing Catalog API lists Compute Engine's SKUs (`GET /v1/services/6F81-5844-456A/skus?key=...`,
at most 5,000 a page, followed by `nextPageToken` until a page has none; docs.cloud.google.com/billing/v1/how-tos/
catalog-api); each machine is composed from its core, RAM, GPU and bundled Local SSD SKUs
(`components.catalog.prices`). AWS: the Price List Bulk API's per-region EC2 offer file
(`/offers/v1.0/aws/AmazonEC2/current/<region>/index.csv`; docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/
reading-service-price-list-file-for-services.html: five metadata rows, then the column names, then one row per SKU
and term). The CSV form of the same offer file is read because it streams row by row: the JSON form of a large
region is gigabytes and must be parsed whole. `--base-url` points either client at a mirror (or a test's loopback
server); the product never fakes a response.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import catalog
from components.catalog import prices as catalog_prices
from components.catalog.types import Cloud, MachineType, Price, PriceSku, Source

GCP_BASE_URL = "https://cloudbilling.googleapis.com"
AWS_BASE_URL = "https://pricing.us-east-1.amazonaws.com"
API_KEY_ENV = "GPU_FLEET_BILLING_API_KEY"
"""The environment variable holding the Cloud Billing API key (a repository secret in the scheduled workflow)."""
HOURS_PER_MONTH = 730
"""GCP prices Local SSD per GiB-month of 730 hours (the same convention as the plan's costs)."""
MAX_PAGES = 200
"""A bound on the SKU listing (Compute Engine has tens of thousands of SKUs, 5,000 a page): a server that keeps
returning page tokens is an error, never an endless loop."""
SNAPSHOT = Path(catalog_prices.__file__).with_name("price_snapshot.py")
_EXCLUDED = ("Commitment", "Reserved", "Sole Tenancy", "DWS", "Custom", "Premium", "suspended", "Extended")
"""SKU descriptions that are not the plain on-demand or Spot list price of a predefined machine."""


class RefreshError(Exception):
    """A catalog could not be read (HTTP error, bad document); one line, never the API key."""


@dataclass(frozen=True)
class Key:
    machine_type: str
    region: str


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, "***" if k == "key" else v) for k, v in urllib.parse.parse_qsl(parts.query)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _open(url: str, timeout: float) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise RefreshError(f"{_redact(url)}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise RefreshError(f"{_redact(url)}: {getattr(exc, 'reason', exc)}") from None


# --- GCP: the Cloud Billing Catalog ---------------------------------------------------------------------------

def gcp_skus(api_key: str, *, base_url: str = GCP_BASE_URL, timeout: float = 60.0,
             page_size: int = 5000) -> Iterator[dict[str, Any]]:
    """Every public Compute Engine SKU, page after page (`pageToken` = the previous page's `nextPageToken`)."""
    token = ""
    for _ in range(MAX_PAGES):
        query = {"key": api_key, "currencyCode": "USD", "pageSize": str(page_size)}
        if token:
            query["pageToken"] = token
        url = f"{base_url}/v1/services/{catalog_prices.GCP_COMPUTE_SERVICE}/skus?{urllib.parse.urlencode(query)}"
        with _open(url, timeout) as response:
            try:
                doc = json.load(response)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise RefreshError(f"{_redact(url)}: not a JSON SKU list ({exc})") from None
        yield from doc.get("skus") or []
        token = doc.get("nextPageToken") or ""
        if not token:
            return
    raise RefreshError(f"the SKU listing did not end after {MAX_PAGES} pages")


@dataclass(frozen=True)
class _Rate:
    sku_id: str
    description: str
    usd: float
    """Per usage unit, hourly (GiB-month SKUs already divided by 730)."""
    unit: str


def _unit_price(sku: Mapping[str, Any]) -> tuple[float, str] | None:
    """The list price of the first tier of the SKU's current pricing, hourly, and its usage unit."""
    infos = sku.get("pricingInfo") or []
    if not infos:
        return None
    expression = infos[-1].get("pricingExpression") or {}
    rates = sorted(expression.get("tieredRates") or [], key=lambda r: float(r.get("startUsageAmount") or 0))
    if not rates:
        return None
    price = rates[0].get("unitPrice") or {}
    if price.get("currencyCode", "USD") != "USD":
        return None
    usd = int(price.get("units") or 0) + int(price.get("nanos") or 0) / 1e9
    unit = str(expression.get("usageUnit") or "")
    return (usd / HOURS_PER_MONTH if unit.endswith(".mo") else usd), unit


def _strip_spot(description: str) -> str:
    return description.removeprefix("Spot Preemptible ")


def _index(skus: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, bool], list[tuple[str, _Rate]]]:
    """(resource group, region, spot) -> [(description without the Spot prefix, rate)] for list-price SKUs."""
    index: dict[tuple[str, str, bool], list[tuple[str, _Rate]]] = {}
    for sku in skus:
        category = sku.get("category") or {}
        usage = category.get("usageType")
        description = str(sku.get("description") or "")
        if usage not in ("OnDemand", "Preemptible") or any(w in description for w in _EXCLUDED):
            continue
        priced = _unit_price(sku)
        if priced is None:
            continue
        rate = _Rate(str(sku.get("skuId") or ""), description, priced[0], priced[1])
        for region in sku.get("serviceRegions") or []:
            key = (str(category.get("resourceGroup") or ""), str(region), usage == "Preemptible")
            index.setdefault(key, []).append((_strip_spot(description), rate))
    return index


def _find(index: Mapping[tuple[str, str, bool], list[tuple[str, _Rate]]], group: str, region: str, spot: bool,
          prefixes: Sequence[str], what: str = "") -> _Rate | None:
    for prefix in prefixes:
        for description, rate in index.get((group, region, spot), []):
            if description.startswith(f"{prefix} {what}".rstrip() + " ") or description == prefix:
                return rate
    return None


def _series(machine: MachineType) -> tuple[str, ...] | None:
    return next((p for s, p in catalog_prices.GCP_SERIES_SKUS.items() if machine.name.startswith(s + "-")), None)


def _gcp_parts(index: Mapping[tuple[str, str, bool], list[tuple[str, _Rate]]], machine: MachineType, region: str,
               spot: bool) -> list[tuple[_Rate, float]] | None:
    """The SKUs (rate, quantity) one machine-hour of `machine` uses; None when any of them is missing."""
    series = _series(machine)
    gpu_prefixes = catalog_prices.GCP_GPU_SKUS.get(machine.gpu)
    if series is None or gpu_prefixes is None:
        return None
    core = _find(index, "CPU", region, spot, series, "Core")
    ram = _find(index, "RAM", region, spot, series, "Ram")
    gpu = _find(index, "GPU", region, spot, gpu_prefixes)
    if core is None or ram is None or gpu is None:
        return None
    parts = [(core, float(machine.vcpus)), (ram, float(machine.memory_gb)), (gpu, float(machine.gpus))]
    if machine.local_ssd_gb:
        ssd = _find(index, "LocalSSD", region, spot, (catalog_prices.GCP_LOCAL_SSD_SKU,))
        if ssd is None:
            return None
        parts.append((ssd, float(machine.local_ssd_gb)))
    return parts


def compose_gcp(skus: Iterable[Mapping[str, Any]], keys: Iterable[Key], *, today: str,
                base_url: str = GCP_BASE_URL) -> dict[Key, Price]:
    """A price per (machine, region) whose core, RAM and GPU SKUs (and Local SSD) are all listed there."""
    index = _index(skus)
    source = Source(f"{base_url}/v1/services/{catalog_prices.GCP_COMPUTE_SERVICE}/skus", today)
    found: dict[Key, Price] = {}
    for key in keys:
        machine = catalog.find_machine_type(key.machine_type)
        if machine is None or machine.cloud is not Cloud.GCP:
            continue
        on_demand = _gcp_parts(index, machine, key.region, False)
        if on_demand is None:
            continue
        spot = _gcp_parts(index, machine, key.region, True)
        skus_used = [PriceSku(r.sku_id, r.description, q, r.unit) for r, q in on_demand]
        skus_used += [PriceSku(r.sku_id, r.description, q, r.unit, spot=True) for r, q in spot or []]
        found[key] = Price(key.machine_type, key.region, round(sum(r.usd * q for r, q in on_demand), 9),
                           round(sum(r.usd * q for r, q in spot), 9) if spot else None, source, tuple(skus_used),
                           "composed by `gpu-fleet prices refresh` from the Cloud Billing Catalog's Compute Engine "
                           "SKUs (vCPUs x core + GiB x RAM + GPUs x GPU + bundled Local SSD GiB x Local SSD)")
    return found


# --- AWS: the Price List Bulk API -----------------------------------------------------------------------------

_AWS_FILTER = {"TermType": "OnDemand", "Operating System": "Linux", "Tenancy": "Shared",
               "Pre Installed S/W": "NA", "CapacityStatus": "Used", "Unit": "Hrs", "Currency": "USD"}
"""A plain Linux, shared-tenancy, on-demand instance hour (CapacityStatus `Used`: not an unused reservation)."""


def aws_offer(region: str, machine_types: Iterable[str], *, base_url: str = AWS_BASE_URL, timeout: float = 600.0,
              today: str) -> dict[Key, Price]:
    """On-demand Linux prices of `machine_types` in `region`, from the region's EC2 offer file, streamed."""
    wanted = set(machine_types)
    url = f"{base_url}/offers/v1.0/aws/AmazonEC2/current/{region}/index.csv"
    found: dict[Key, Price] = {}
    with _open(url, timeout) as response:
        lines = io.TextIOWrapper(response, encoding="utf-8", newline="")
        reader = csv.reader(lines)
        meta = {row[0]: row[1] for row in (next(reader, []) for _ in range(5)) if len(row) >= 2}
        header = next(reader, None)
        if header is None or "Instance Type" not in header:
            raise RefreshError(f"{url}: not an EC2 offer file (no `Instance Type` column after 5 metadata rows)")
        published = str(meta.get("Publication Date") or today)[:10]
        source = Source(url, published)
        for values in reader:
            row = dict(zip(header, values, strict=False))
            if row.get("Instance Type") not in wanted or any(row.get(k) != v for k, v in _AWS_FILTER.items()):
                continue
            if row.get("License Model", "No License required") != "No License required":
                continue
            usd = float(row["PricePerUnit"])
            sku = PriceSku(row.get("SKU") or None, row.get("PriceDescription") or "", 1.0, "Hrs")
            found[Key(row["Instance Type"], region)] = Price(
                row["Instance Type"], region, usd, None, source, (sku,),
                f"read by `gpu-fleet prices refresh` from the AWS Price List Bulk API's EC2 offer file for {region} "
                f"(version {meta.get('Version', '?')})")
    return found


# --- The snapshot ---------------------------------------------------------------------------------------------

def _source_id(price: Price) -> str:
    """A readable key: the repository (a vendored file on GitHub) or the API host's first label, and the date."""
    parts = urllib.parse.urlsplit(price.source.url)
    path = parts.path.strip("/").split("/")
    name = path[1] if parts.netloc == "github.com" and len(path) > 1 else parts.netloc.split(".")[0] or "source"
    return f"{name}-{price.source.checked}"


def render(prices: Sequence[Price], unpriced: Mapping[str, str], *, taken: str) -> str:
    """The snapshot module's text: sources, one row per line (a reviewable diff), the unpriced machines."""
    sources: dict[str, dict[str, str]] = {}
    ids: dict[tuple[str, str, str], str] = {}
    for p in prices:
        triple = (p.source.url, p.source.checked, p.how)
        if triple not in ids:
            base = _source_id(p)
            ids[triple] = base if base not in sources else f"{base}-{len(sources)}"
            sources[ids[triple]] = {"url": p.source.url, "as_of": p.source.checked, "how": p.how}
    lines = ['"""GENERATED by `gpu-fleet prices refresh`; review the diff, do not edit rows by hand.', "",
             "Each row: machine type, region, on-demand and Spot USD per machine-hour, the source it came from",
             '(url, the date of the data, how it was obtained) and the SKUs it is composed of.', '"""', "",
             "from __future__ import annotations", "", "from typing import Any", "", f"TAKEN = {taken!r}", "",
             "SOURCES: dict[str, dict[str, str]] = {"]
    lines += [f"    {k!r}: {v!r}," for k, v in sources.items()]
    lines += ["}", "", "ROWS: tuple[dict[str, Any], ...] = ("]
    for p in sorted(prices, key=lambda p: (catalog.machine_type(p.machine_type).cloud.value, p.machine_type,
                                           p.region)):
        skus = [(s.sku_id or "", s.description, s.quantity, s.unit, s.spot) for s in p.skus]
        row = {"machine_type": p.machine_type, "region": p.region, "on_demand": p.on_demand_hourly_usd,
               "spot": p.spot_hourly_usd, "source": ids[(p.source.url, p.source.checked, p.how)], "skus": skus}
        lines.append(f"    {row!r},")
    lines += [")", "", "UNPRICED: dict[str, str] = {"]
    lines += [f"    {k!r}: {v!r}," for k, v in sorted(unpriced.items())]
    lines += ["}", ""]
    return "\n".join(lines)


def merge(current: Iterable[Price], fresh: Mapping[Key, Price]) -> list[Price]:
    """The new snapshot: every fresh price, and each current row nothing newer replaced, with its true date."""
    merged = {Key(p.machine_type, p.region): p for p in current}
    merged.update(fresh)
    return list(merged.values())


# --- The drift check ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Used:
    """A price a stack's plan uses: which figure (on-demand or Spot) of which row, and by which pool."""

    machine_type: str
    region: str
    spot: bool
    pool: str
    """The pool's stack-config key, with its stack (`prod: gke.regions[...]...`)."""


def _age_days(as_of: str, today: dt.date) -> int:
    return (today - dt.date.fromisoformat(as_of)).days


def drift(current: Mapping[Key, Price], fresh: Mapping[Key, Price], used: Iterable[Used], *, today: dt.date,
          max_age_days: int, max_change_percent: float) -> list[str]:
    """One line per used price older than `max_age_days`, or moved by more than `max_change_percent` since.

    The age is the snapshot row's: a price the catalog still confirms is stale until the snapshot is refreshed,
    because the plan and the policies read the snapshot, not the catalog.
    """
    problems: list[str] = []
    for u in used:
        key = Key(u.machine_type, u.region)
        old = current.get(key)
        if old is None:
            continue  # unpriced: the plan and the gpu-budget policy report it
        figure = "spot" if u.spot and old.spot_hourly_usd is not None else "on-demand"
        age = _age_days(old.as_of, today)
        new = fresh.get(key)
        if new is not None:
            before = old.spot_hourly_usd if figure == "spot" else old.on_demand_hourly_usd
            after = new.spot_hourly_usd if figure == "spot" else new.on_demand_hourly_usd
            if before is not None and after is not None and before > 0:
                moved = (after - before) / before * 100
                if abs(moved) > max_change_percent:
                    problems.append(f"{u.pool}: the {figure} price of {u.machine_type} in {u.region} moved "
                                    f"{moved:+.1f}% (${before:,.4f} -> ${after:,.4f}/h), over the "
                                    f"{max_change_percent:g}% allowed; run `gpu-fleet prices refresh` and review "
                                    "the snapshot diff")
                    continue
        if age > max_age_days:
            problems.append(f"{u.pool}: the price of {u.machine_type} in {u.region} is from {old.as_of}, {age} "
                            f"days old, over the {max_age_days} days allowed; run `gpu-fleet prices refresh`, or "
                            "price it with the stack's gpu-fleet:prices")
    return problems


def fetch(keys: Iterable[Key], *, api_key: str | None, gcp_base_url: str = GCP_BASE_URL,
          aws_base_url: str = AWS_BASE_URL, today: str) -> dict[Key, Price]:
    """Fresh prices for `keys` from both clouds' catalogs (GCP needs `api_key`; the AWS files are public)."""
    keys = list(keys)
    gcp = [k for k in keys if catalog.machine_type(k.machine_type).cloud is Cloud.GCP]
    aws = [k for k in keys if catalog.machine_type(k.machine_type).cloud is Cloud.AWS]
    found: dict[Key, Price] = {}
    if gcp:
        if not api_key:
            raise RefreshError(f"{API_KEY_ENV} is not set: the Cloud Billing Catalog API needs an API key")
        found.update(compose_gcp(gcp_skus(api_key, base_url=gcp_base_url), gcp, today=today, base_url=gcp_base_url))
    for region in sorted({k.region for k in aws}):
        machines = sorted({k.machine_type for k in aws if k.region == region})
        found.update(aws_offer(region, machines, base_url=aws_base_url, today=today))
    return found


def keys_of(prices: Iterable[Price], used: Iterable[Used]) -> list[Key]:
    """What a refresh prices: every snapshot row, every used price, and each known machine in their regions."""
    keys = {Key(p.machine_type, p.region) for p in prices} | {Key(u.machine_type, u.region) for u in used}
    by_cloud: dict[Cloud, set[str]] = {}
    for k in keys:
        by_cloud.setdefault(catalog.machine_type(k.machine_type).cloud, set()).add(k.region)
    for cloud, regions in by_cloud.items():
        keys |= {Key(m.name, r) for m in catalog.machine_types(cloud) for r in regions}
    return sorted(keys, key=lambda k: (k.machine_type, k.region))


def unpriced(prices: Iterable[Price], keys: Iterable[Key], curated: Mapping[str, str],
             fresh: Mapping[Key, Price]) -> dict[str, str]:
    """Each machine of `keys` without a price in some of its regions, and why.

    A machine with no price anywhere keeps its curated reason (the snapshot's `UNPRICED`, which says what no source
    has); otherwise the reason names the regions missing and the price data this refresh read for its cloud.
    """
    priced = {(p.machine_type, p.region) for p in prices}
    regions: dict[str, set[str]] = {}
    for k in keys:
        regions.setdefault(k.machine_type, set()).add(k.region)
    read: dict[Cloud, set[str]] = {}
    for p in fresh.values():
        read.setdefault(catalog.machine_type(p.machine_type).cloud, set()).add(_source_id(p))
    out: dict[str, str] = {}
    for machine, where in sorted(regions.items()):
        missing = sorted(r for r in where if (machine, r) not in priced)
        if not missing:
            continue
        if machine in curated and len(missing) == len(where):
            out[machine] = curated[machine]
            continue
        sources = ", ".join(sorted(read.get(catalog.machine_type(machine).cloud, ()))) or "none read this time"
        scope = "" if len(missing) == len(where) else \
            f" in {', '.join(missing)} (priced in {', '.join(sorted(set(where) - set(missing)))})"
        out[machine] = (f"no list price{scope} in the price data read ({sources}); price it with the stack's "
                        "gpu-fleet:prices")
    return out


def write(path: Path, prices: Sequence[Price], unpriced: Mapping[str, str], *, taken: str) -> bool:
    """Write the snapshot; True when its rows changed (the date alone does not count)."""
    text = render(prices, unpriced, taken=taken)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if _without_taken(old) == _without_taken(text):
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _without_taken(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("TAKEN = "))

