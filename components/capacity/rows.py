"""GPU capacity and cost, computed from the resources a program registers (not from its config).

The offline plan and the CrossGuard policies both call `capacity_rows` on what would really be deployed,
so the numbers a reviewer reads are the numbers policies judge. Each platform contributes an extractor per
resource type; GKE node pools and GKE node auto-provisioning limits are known today.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from components import catalog
from components.gpu_node_pool import LABEL_CAPACITY, LABEL_CLUSTER, LABEL_CRITICAL
from components.pricing import TYPE as PRICING_TYPE

HOURS_PER_MONTH = 730
"""Cloud billing convention (GCP and AWS both price a month as 730 hours)."""

GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_CLUSTER = "gcp:container/cluster:Cluster"


class ResourceView(NamedTuple):
    """What capacity needs of a registered resource: type token, URN, logical name and properties.

    `inputs` are a custom resource's inputs, or a component's registered outputs.
    """

    type: str
    urn: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class CapacityRow:
    platform: str
    cluster: str
    region: str
    pool: str
    machine_type: str
    gpu: str
    accelerator: str
    gpus_per_node: int
    zones: list[str]
    min_nodes: int
    max_nodes: int
    min_gpus: int
    max_gpus: int
    spot: bool
    hourly_usd_per_node: float | None
    source_urn: str
    capacity: str = "on-demand"
    """on-demand, spot, flex-start or queued."""
    production_critical: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Cost:
    hourly_usd_max: float
    monthly_usd_min: float
    monthly_usd_max: float
    unpriced_pools: list[str] = field(default_factory=list)
    """Source URNs of rows without a price (left out of the sums, and reported)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PriceBook:
    """Catalog list prices, with overrides (machine type, region) -> (on-demand, spot) taking precedence."""

    overrides: Mapping[tuple[str, str], tuple[float, float | None]] = field(default_factory=dict)

    def hourly(self, machine: str, region: str, *, spot: bool) -> float | None:
        if (machine, region) in self.overrides:
            on_demand, spot_price = self.overrides[(machine, region)]
        else:
            p = catalog.price(machine, region)
            if p is None:
                return None
            on_demand, spot_price = p.on_demand_hourly_usd, p.spot_hourly_usd
        # Without a spot price, spot capacity is priced at on-demand: a ceiling must never be understated.
        return (spot_price if spot_price is not None else on_demand) if spot else on_demand


Extractor = Callable[[ResourceView, PriceBook], Iterator[CapacityRow]]


def _gke_node_pool(r: ResourceView, prices: PriceBook) -> Iterator[CapacityRow]:
    inputs = r.inputs
    node_config = inputs.get("nodeConfig") or {}
    accelerators = node_config.get("guestAccelerators") or []
    machine_name = node_config.get("machineType") or ""
    machine = catalog.find_machine_type(machine_name)
    if not accelerators and machine is None:
        return
    acc = accelerators[0] if accelerators else {}
    gpus_per_node = int(acc.get("count") or (machine.gpus if machine else 0))
    if gpus_per_node == 0:
        return
    accelerator = acc.get("type") or (catalog.gpu(machine.gpu).gke_accelerator if machine else "") or ""
    gpu_id = machine.gpu if machine else _gpu_by_accelerator(accelerator)
    zones = list(inputs.get("nodeLocations") or [])
    auto = inputs.get("autoscaling") or {}
    # Inputs carry only the pair in use; the provider's outputs (what a real preview's stack policies see)
    # carry both, the unused pair as 0 or null. A pool bounded by total has a non-zero total maximum.
    if auto.get("totalMaxNodeCount") or auto.get("totalMinNodeCount"):
        min_nodes = int(auto.get("totalMinNodeCount") or 0)
        max_nodes = int(auto.get("totalMaxNodeCount") or 0)
    elif auto:
        per_zone = max(len(zones), 1)
        min_nodes = int(auto.get("minNodeCount") or 0) * per_zone
        max_nodes = int(auto.get("maxNodeCount") or 0) * per_zone
    else:
        fixed = int(inputs.get("nodeCount") or inputs.get("initialNodeCount") or 0) * max(len(zones), 1)
        min_nodes = max_nodes = fixed
    labels = node_config.get("labels") or {}
    capacity = labels.get(LABEL_CAPACITY)
    spot = bool(node_config.get("spot") or node_config.get("preemptible"))
    if capacity is None:
        capacity = "spot" if spot else "flex-start" if node_config.get("flexStart") else "on-demand"
    region = str(inputs.get("location") or "")
    cluster = inputs.get("cluster")
    yield CapacityRow(
        platform="gke",
        cluster=labels.get(LABEL_CLUSTER) or (cluster if isinstance(cluster, str) else ""),
        region=region,
        pool=str(inputs.get("name") or r.name),
        machine_type=machine_name,
        gpu=gpu_id,
        accelerator=accelerator,
        gpus_per_node=gpus_per_node,
        zones=zones,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        min_gpus=min_nodes * gpus_per_node,
        max_gpus=max_nodes * gpus_per_node,
        spot=spot,
        hourly_usd_per_node=prices.hourly(machine_name, region, spot=spot),
        source_urn=r.urn,
        capacity=capacity,
        production_critical=labels.get(LABEL_CRITICAL) == "true",
    )


def _gke_auto_provisioning(r: ResourceView, prices: PriceBook) -> Iterator[CapacityRow]:
    """Node auto-provisioning can create GPU nodes of any shape up to its GPU resource limits."""
    autoscaling = r.inputs.get("clusterAutoscaling") or {}
    if not autoscaling.get("enabled"):
        return
    region = str(r.inputs.get("location") or "")
    for limit in autoscaling.get("resourceLimits") or []:
        gpu_id = _gpu_by_accelerator(str(limit.get("resourceType") or ""))
        if not gpu_id:
            continue
        max_gpus = int(limit.get("maximum") or 0)
        min_gpus = int(limit.get("minimum") or 0)
        # Priced at the dearest per-GPU machine of that GPU in the region: a ceiling, never an understatement.
        per_gpu = [
            (h / m.gpus)
            for m in catalog.machine_types(catalog.Cloud.GCP)
            if m.gpu == gpu_id and (h := prices.hourly(m.name, region, spot=False)) is not None
        ]
        yield CapacityRow(
            platform="gke",
            cluster=str(r.inputs.get("name") or r.name),
            region=region,
            pool="auto-provisioning",
            machine_type="",
            gpu=gpu_id,
            accelerator=str(limit.get("resourceType")),
            gpus_per_node=1,
            zones=list(r.inputs.get("nodeLocations") or []),
            min_nodes=min_gpus,
            max_nodes=max_gpus,
            min_gpus=min_gpus,
            max_gpus=max_gpus,
            spot=False,
            hourly_usd_per_node=max(per_gpu) if per_gpu else None,
            source_urn=r.urn,
        )


def _gpu_by_accelerator(accelerator: str) -> str:
    return next((g.id for g in catalog.GPUS if g.gke_accelerator == accelerator), "")


EXTRACTORS: dict[str, Extractor] = {
    GKE_NODE_POOL: _gke_node_pool,
    GKE_CLUSTER: _gke_auto_provisioning,
}
"""Resource type token -> rows it contributes. EKS node groups, Karpenter NodePools and OpenShift
MachineSets plug in here; policies and the plan need no change."""


def pool_path(row: CapacityRow) -> str:
    """The stack-config key a user edits for this capacity row."""
    if row.platform == "gke":
        cluster = f"gke.regions[{row.region}].clusters[{row.cluster}]"
        return f"{cluster}.auto_provisioning" if row.pool == "auto-provisioning" else f"{cluster}.gpu_pools[{row.pool}]"
    return f"{row.platform}.{row.region}.{row.cluster}.{row.pool}"


def stack_prices(resources: Iterable[ResourceView]) -> PriceBook:
    """The price overrides the stack itself published (`gpu-fleet:prices`, via the pricing component)."""
    overrides: dict[tuple[str, str], tuple[float, float | None]] = {}
    for r in resources:
        if r.type == PRICING_TYPE:
            for p in r.inputs.get("prices") or []:
                spot = p.get("spot_hourly_usd")
                overrides[(p["machine_type"], p["region"])] = (
                    float(p["on_demand_hourly_usd"]), float(spot) if spot is not None else None)
    return PriceBook(overrides)


def capacity_rows(resources: Iterable[ResourceView], prices: PriceBook | None = None) -> list[CapacityRow]:
    """GPU capacity rows of `resources`, priced by the catalog, then the stack's overrides, then `prices`."""
    resources = list(resources)
    book = PriceBook({**stack_prices(resources).overrides, **(prices.overrides if prices else {})})
    rows: list[CapacityRow] = []
    for r in resources:
        extractor = EXTRACTORS.get(r.type)
        if extractor is not None:
            rows.extend(extractor(r, book))
    return sorted(rows, key=lambda row: (row.platform, row.region, row.cluster, row.pool, row.source_urn))


def cost(rows: Iterable[CapacityRow]) -> Cost:
    hourly_min = hourly_max = 0.0
    unpriced: list[str] = []
    for row in rows:
        if row.hourly_usd_per_node is None:
            unpriced.append(row.source_urn)
            continue
        hourly_min += row.min_nodes * row.hourly_usd_per_node
        hourly_max += row.max_nodes * row.hourly_usd_per_node
    return Cost(
        hourly_usd_max=round(hourly_max, 2),
        monthly_usd_min=round(hourly_min * HOURS_PER_MONTH, 2),
        monthly_usd_max=round(hourly_max * HOURS_PER_MONTH, 2),
        unpriced_pools=unpriced,
    )
