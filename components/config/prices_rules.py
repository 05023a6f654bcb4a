"""Rules of `gpu-fleet:prices`: an override replaces one catalog price, so it must name one that can exist.

The plan's cost, the budget policies and the cloud budgets all read the price an override sets; one for a region
that does not exist, for a GPU the region does not offer, or written twice (which one wins?) would be a price
nobody wrote for a node anybody runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from components import catalog
from components.catalog import aws_limits
from components.config.eks import AWS_REGION_PATTERN
from components.config.errors import Issue
from components.config.model import Fleet, PriceOverride


def check_prices(fleet: Fleet) -> Iterator[Issue]:
    seen: dict[tuple[str, str], int] = {}
    for i, p in enumerate(fleet.prices):
        path = f"prices[{i}]"
        yield from _machine_and_region(path, p)
        key = (p.machine_type, p.region)
        if key in seen:
            yield Issue(f"{path}.region", f"{p.machine_type} in {p.region} is already priced by prices[{seen[key]}]",
                        p.region, "keep one override per machine type and region: which of the two would count "
                        "is not written anywhere")
        seen.setdefault(key, i)
        if p.spot_hourly_usd is not None and p.spot_hourly_usd > p.on_demand_hourly_usd:
            yield Issue(f"{path}.spot_hourly_usd", "spot price above on-demand", p.spot_hourly_usd,
                        f"Spot is a discount on on_demand_hourly_usd ({p.on_demand_hourly_usd}); check the two")


def _machine_and_region(path: str, p: PriceOverride) -> Iterator[Issue]:
    machine = catalog.find_machine_type(p.machine_type)
    aws_region = re.match(AWS_REGION_PATTERN, p.region) is not None
    if machine is None:
        yield Issue(f"{path}.machine_type", "unknown machine type", p.machine_type,
                    catalog.machine_hint(p.machine_type, catalog.Cloud.AWS if aws_region else catalog.Cloud.GCP))
        return
    if aws_region != (machine.cloud is catalog.Cloud.AWS):
        form = "an AWS region such as us-east-1" if machine.cloud is catalog.Cloud.AWS \
            else "a GCP region such as us-central1"
        yield Issue(f"{path}.region", f"{p.machine_type} is a {machine.cloud.value.upper()} machine type, "
                    "priced per region of its own cloud", p.region, f"use {form}")
    elif aws_region and p.region not in aws_limits.AWS_REGIONS:
        yield Issue(f"{path}.region", "not an AWS region", p.region, aws_limits.aws_region_hint(p.region))
    elif not aws_region and p.region not in catalog.GCP_REGIONS:
        yield Issue(f"{path}.region", "not a GCP region", p.region, catalog.gcp_region_hint(p.region))
    elif not aws_region and p.region in catalog.gpu_zone_regions() \
            and catalog.gpu_zones(machine.gpu, p.region) is None:
        gpu = catalog.gpu(machine.gpu)
        yield Issue(f"{path}.region", f"{p.machine_type} carries {gpu.model}, which {p.region} does not offer",
                    p.region, f"regions with {gpu.model}: {', '.join(catalog.gpu_regions(gpu.id))}")
