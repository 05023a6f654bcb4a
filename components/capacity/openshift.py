"""OpenShift's GPU capacity: one row per GPU MachineSet, sized by its MachineAutoscaler (or its fixed replicas).

A MachineSet launches one instance type in one zone; its MachineAutoscaler (same name, same cluster) bounds it
between `minReplicas` and `maxReplicas`. Rows are priced from the catalog like EKS's and count against the same
AWS vCPU quotas (the G family's for L4 machines): it is the same EC2 account capacity. A row counts the
instances' physical GPUs whatever the pool's sharing (time-slicing or MIG multiplies what pods can request, not
what is paid for or counts against quota); a pool that launches into a capacity reservation (`capacityReservationId`,
an On-Demand Capacity Reservation or a Capacity Block) is `reserved`, priced at the catalog's On-Demand rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from components import catalog
from components.capacity.rows import CapacityRow, PriceBook, ResourceView
from components.catalog.fabric import OPENSHIFT_AWS_MAX_EFA_INTERFACES
from components.kubernetes.conventions import (
    LABEL_CLUSTER,
    LABEL_CRITICAL,
    LABEL_POOL,
    LABEL_REGION,
    accelerator_value,
)

MACHINESET = "kubernetes:machine.openshift.io/v1beta1:MachineSet"
MACHINEAUTOSCALER = "kubernetes:autoscaling.openshift.io/v1beta1:MachineAutoscaler"


def _labels(r: ResourceView) -> Mapping[str, Any]:
    return (r.inputs.get("metadata") or {}).get("labels") or {}


def provider_spec(machine_set: Mapping[str, Any]) -> Mapping[str, Any]:
    """A MachineSet's `spec.template.spec.providerSpec.value` (from its properties)."""
    spec = machine_set.get("spec") or {}
    return ((((spec.get("template") or {}).get("spec") or {}).get("providerSpec") or {}).get("value") or {})


def _bounds(autoscalers: Mapping[tuple[str, str], Mapping[str, Any]], cluster: str, name: str,
            replicas: Any) -> tuple[int, int]:
    scaler = autoscalers.get((cluster, name))
    if scaler is not None:
        return int(scaler.get("minReplicas") or 0), int(scaler.get("maxReplicas") or 0)
    fixed = int(replicas if replicas is not None else 1)  # the CRD's default is one machine
    return fixed, fixed


def collect(resources: Iterable[ResourceView], prices: PriceBook) -> Iterator[CapacityRow]:
    resources = list(resources)
    autoscalers = {(str(_labels(r).get(LABEL_CLUSTER) or ""),
                    str(((r.inputs.get("spec") or {}).get("scaleTargetRef") or {}).get("name") or "")):
                   r.inputs.get("spec") or {}
                   for r in resources if r.type == MACHINEAUTOSCALER}
    for r in resources:
        if r.type != MACHINESET:
            continue
        value = provider_spec(r.inputs)
        machine = catalog.find_machine_type(str(value.get("instanceType") or ""))
        if machine is None or machine.cloud is not catalog.Cloud.AWS or not machine.gpus:
            continue
        labels = _labels(r)
        cluster = str(labels.get(LABEL_CLUSTER) or "")
        name = str((r.inputs.get("metadata") or {}).get("name") or r.name)
        low, high = _bounds(autoscalers, cluster, name, (r.inputs.get("spec") or {}).get("replicas"))
        placement = value.get("placement") or {}
        region = str(placement.get("region") or labels.get(LABEL_REGION) or "")
        spot = "spotMarketOptions" in value or value.get("marketType") == "Spot"
        reserved = bool(value.get("capacityReservationId"))
        yield CapacityRow(
            platform="openshift",
            cluster=cluster,
            region=region,
            pool=str(labels.get(LABEL_POOL) or name),
            machine_type=machine.name,
            gpu=machine.gpu,
            accelerator=accelerator_value(machine.gpu),
            gpus_per_node=machine.gpus,
            zones=[str(placement["availabilityZone"])] if placement.get("availabilityZone") else [],
            min_nodes=low,
            max_nodes=high,
            min_gpus=low * machine.gpus,
            max_gpus=high * machine.gpus,
            spot=spot,
            **prices.row_price(machine.name, region, spot=spot),
            source_urn=r.urn,
            capacity="spot" if spot else "reserved" if reserved else "on-demand",
            production_critical=labels.get(LABEL_CRITICAL) == "true",
            # One network interface per Machine API machine: EFA x1 at most, whatever the instance could carry.
            fabric=f"EFA x{OPENSHIFT_AWS_MAX_EFA_INTERFACES}" if value.get("networkInterfaceType") == "EFA" else "TCP",
        )


def pool_path(row: CapacityRow) -> str:
    return f"openshift.clusters[{row.cluster}].gpu_pools[{row.pool}]"
