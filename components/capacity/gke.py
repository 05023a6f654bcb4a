"""GKE's GPU capacity: rows from node pools (per-zone or total bounds) and from node auto-provisioning limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from components import catalog
from components.capacity.rows import CapacityRow, Extractor, PriceBook, ResourceView
from components.kubernetes.conventions import LABEL_CAPACITY, LABEL_CLUSTER, LABEL_CRITICAL

GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_CLUSTER = "gcp:container/cluster:Cluster"


@dataclass(frozen=True)
class _PoolGpus:
    """What GPUs one node of a pool carries."""

    gpu: str
    """Catalog GPU id ("" where the accelerator is unknown to the catalog)."""
    accelerator: str
    """GKE accelerator type string."""
    per_node: int


def _gke_node_pool(r: ResourceView, prices: PriceBook) -> Iterator[CapacityRow]:
    """A GPU node pool's row: its GPUs, node bounds and capacity type, price and fabric; nothing for a CPU pool."""
    inputs = r.inputs
    node_config = inputs.get("nodeConfig") or {}
    machine_name = node_config.get("machineType") or ""
    gpus = _pool_gpus(node_config, machine_name)
    if gpus is None:
        return
    zones = list(inputs.get("nodeLocations") or [])
    min_nodes, max_nodes = _node_bounds(inputs, zones=zones)
    labels = node_config.get("labels") or {}
    spot = bool(node_config.get("spot") or node_config.get("preemptible"))
    region = str(inputs.get("location") or "")
    cluster = inputs.get("cluster")
    yield CapacityRow(
        platform="gke",
        cluster=labels.get(LABEL_CLUSTER) or (cluster if isinstance(cluster, str) else ""),
        region=region,
        pool=str(inputs.get("name") or r.name),
        machine_type=machine_name,
        gpu=gpus.gpu,
        accelerator=gpus.accelerator,
        gpus_per_node=gpus.per_node,
        zones=zones,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        min_gpus=min_nodes * gpus.per_node,
        max_gpus=max_nodes * gpus.per_node,
        spot=spot,
        **prices.row_price(machine_name, region, spot=spot),
        source_urn=r.urn,
        capacity=_capacity_type(node_config, labels=labels, spot=spot),
        production_critical=labels.get(LABEL_CRITICAL) == "true",
        fabric=_fabric(inputs, machine_name=machine_name),
    )


def _pool_gpus(node_config: Mapping[str, Any], machine_name: str) -> _PoolGpus | None:
    """The pool's GPUs from its guest accelerators, else from its machine type; None for a pool without GPUs."""
    accelerators = node_config.get("guestAccelerators") or []
    machine = catalog.find_machine_type(machine_name)
    if not accelerators and machine is None:
        return None
    acc = accelerators[0] if accelerators else {}
    gpus_per_node = int(acc.get("count") or (machine.gpus if machine else 0))
    if gpus_per_node == 0:
        return None
    accelerator = acc.get("type") or (catalog.gpu(machine.gpu).gke_accelerator if machine else "") or ""
    gpu_id = machine.gpu if machine else _gpu_by_accelerator(accelerator)
    return _PoolGpus(gpu=gpu_id, accelerator=accelerator, per_node=gpus_per_node)


def _node_bounds(inputs: Mapping[str, Any], *, zones: list[str]) -> tuple[int, int]:
    """The pool's (min, max) nodes over all its zones: total bounds, per-zone bounds times zones, or a fixed size."""
    auto = inputs.get("autoscaling") or {}
    # Inputs carry only the pair in use; the provider's outputs (what a real preview's stack policies see)
    # carry both, the unused pair as 0 or null. A pool bounded by total has a non-zero total maximum.
    if auto.get("totalMaxNodeCount") or auto.get("totalMinNodeCount"):
        return int(auto.get("totalMinNodeCount") or 0), int(auto.get("totalMaxNodeCount") or 0)
    per_zone = max(len(zones), 1)
    if auto:
        return int(auto.get("minNodeCount") or 0) * per_zone, int(auto.get("maxNodeCount") or 0) * per_zone
    fixed = int(inputs.get("nodeCount") or inputs.get("initialNodeCount") or 0) * per_zone
    return fixed, fixed


def _capacity_type(node_config: Mapping[str, Any], *, labels: Mapping[str, str], spot: bool) -> str:
    """The capacity label gpu-fleet stamps on the pool, else what its node config says: spot, flex-start, on-demand."""
    capacity = labels.get(LABEL_CAPACITY)
    if capacity is None:
        capacity = "spot" if spot else "flex-start" if node_config.get("flexStart") else "on-demand"
    return capacity


def _fabric(inputs: Mapping[str, Any], *, machine_name: str) -> str:
    """The pool's GPU transport (TCPX, TCPXO, RDMA), or TCP."""
    nics = len((inputs.get("networkConfig") or {}).get("additionalNodeNetworkConfigs") or [])
    fabric = catalog.fabric.gke_fabric(machine_name)
    # The transport counts only with every GPU NIC the family needs: with fewer, NCCL falls back to TCP.
    return fabric.transport.value if fabric is not None and nics >= fabric.extra_nics else "TCP"


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
            (h / m.gpus, m)
            for m in catalog.machine_types(catalog.Cloud.GCP)
            if m.gpu == gpu_id and (h := prices.hourly(m.name, region, spot=False)) is not None
        ]
        dearest = max(per_gpu, key=lambda hm: hm[0])[1] if per_gpu else None
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
            **(prices.row_price(dearest.name, region, spot=False, per=dearest.gpus) if dearest else
               {"hourly_usd_per_node": None}),
            source_urn=r.urn,
        )


def _gpu_by_accelerator(accelerator: str) -> str:
    return next((g.id for g in catalog.GPUS if g.gke_accelerator == accelerator), "")


EXTRACTORS: dict[str, Extractor] = {
    GKE_NODE_POOL: _gke_node_pool,
    GKE_CLUSTER: _gke_auto_provisioning,
}


def pool_path(row: CapacityRow) -> str:
    """The stack-config key of a GKE capacity row: a GPU pool, or a cluster's auto-provisioning."""
    cluster = f"gke.regions[{row.region}].clusters[{row.cluster}]"
    return f"{cluster}.auto_provisioning" if row.pool == "auto-provisioning" else f"{cluster}.gpu_pools[{row.pool}]"
