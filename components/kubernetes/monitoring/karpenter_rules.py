"""Alert rules over Karpenter's own metrics: failed launches, missing capacity, used-up reservations, spot reclaims.

The series are Karpenter v1.14.1's, as its controller exports them (scraped through the chart's ServiceMonitor):
- `karpenter_cloudprovider_instance_launch_failures_total{zone, zone_id, capacity_type, reason}`: one increment
  per failed CreateFleet offering (aws/karpenter-provider-aws v1.14.1 pkg/providers/instance/metrics.go:34-50,
  incremented in instance.go:595). `reason` comes from `errors.ToReasonMessage` (pkg/errors/errors.go:235-299):
  named reasons for errors that do not heal by waiting (Unauthorized, AMINotFound, VCPULimitExceeded,
  SpotQuotaExceeded, InsufficientFreeAddressesInSubnet, ...), and the generic `LaunchFailed` for the rest, which
  is where InsufficientInstanceCapacity and ReservationCapacityExceeded land.
- `karpenter_cloudprovider_instance_type_offering_available{instance_type, capacity_type, zone}`: 1 or 0 per
  offering of every NodePool's instance types (pkg/controllers/metrics/controller.go:51-100); a `reserved`
  offering is available only while its reservation has capacity left (offering/reserved_capacity_resolver.go:98),
  and a zone without a reservation reports 0 as well, so the rule takes the maximum over the pool's types and zones.
- `karpenter_nodeclaims_disrupted_total{reason, nodepool, capacity_type}`: one increment per NodeClaim Karpenter
  deletes on an interruption message from its SQS queue, `reason` being the message kind, `spot_interrupted` for an
  EC2 Spot Instance Interruption Warning (aws/karpenter-provider-aws v1.14.1, commit bde00654,
  pkg/controllers/interruption/utils.go:162-166 and messages/types.go:40; labels from sigs.k8s.io/karpenter
  6e7eab7a pkg/metrics/metrics.go:27,61-74, constants.go:29-32). Unlike `karpenter_interruption_received_messages_total`
  (labelled by `message_type` only, and counting the account's messages for instances of other clusters too), it
  counts only this cluster's nodes, per NodePool. The series exists only from its first increment, so a NodePool's
  first interruption since Karpenter started shows as a new series, which `increase()` does not count.
Metric names are listed in website/content/en/docs/reference/metrics.md at v1.14.1. Every rule carries a
severity; `Rule.to_dict` adds `FLEET_ALERT_LABEL`, which routing matches on, as it does to every gpu-fleet alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from components.kubernetes.monitoring.rules import Rule, RuleGroup

GROUP = "gpufleet-karpenter"
LAUNCH_FAILURES = "karpenter_cloudprovider_instance_launch_failures_total"
OFFERING_AVAILABLE = "karpenter_cloudprovider_instance_type_offering_available"
CAPACITY_REASON = "LaunchFailed"
"""The reason Karpenter gives InsufficientInstanceCapacity (and every error it has no name for)."""
FAILURE_WINDOW = "15m"
"""Launch failures are counted over this window; Karpenter retries a NodeClaim's launch every few seconds."""
CAPACITY_FOR = "30m"
"""Spot and on-demand ICE come and go, and Karpenter falls back to other offerings: only a sustained run alerts."""
RESERVATION_FOR = "15m"
DISRUPTED = "karpenter_nodeclaims_disrupted_total"
SPOT_REASON = "spot_interrupted"
"""The disruption reason of a NodeClaim deleted on a Spot Interruption Warning (messages.SpotInterruptionKind)."""
INTERRUPTION_WINDOW = "15m"
"""A warning comes two minutes before EC2 reclaims the node: the alert stays up this long after the last one."""


@dataclass(frozen=True)
class ReservedPool:
    """A NodePool that may consume reserved capacity, and the instance types it may take it as."""

    pool: str
    instance_types: tuple[str, ...]


def _labels(severity: str, **extra: str) -> dict[str, str]:
    return {"severity": severity, **extra}


def _launch_failures() -> Iterable[Rule]:
    failures = f"increase({LAUNCH_FAILURES}{{reason!=\"{CAPACITY_REASON}\"}}[{FAILURE_WINDOW}])"
    yield Rule(
        "KarpenterNodeClaimLaunchFailures", f"sum by (reason, capacity_type, zone) ({failures}) > 0", True, None,
        _labels("critical"),
        {"summary": "Karpenter cannot launch {{ $labels.capacity_type }} nodes in {{ $labels.zone }}: "
                    "{{ $labels.reason }}",
         "description": "EC2 refused launches for a reason that does not heal by waiting (permissions, AMI, quota, "
                        "subnet addresses). Pending pods stay pending until it is fixed; see the NodeClaim events."})
    ice = f"increase({LAUNCH_FAILURES}{{reason=\"{CAPACITY_REASON}\"}}[{FAILURE_WINDOW}])"
    yield Rule(
        "KarpenterInsufficientCapacity", f"sum by (capacity_type, zone) ({ice}) > 0", True, CAPACITY_FOR,
        _labels("warning"),
        {"summary": "EC2 has had no {{ $labels.capacity_type }} capacity in {{ $labels.zone }} for "
                    f"{CAPACITY_FOR}",
         "description": "Karpenter's launches keep failing with insufficient capacity. Pods of pools limited to "
                        "this zone or capacity type stay pending; check for a reservation or another zone."})


def _reservations(pools: Sequence[ReservedPool]) -> Iterable[Rule]:
    for p in pools:
        types = "|".join(p.instance_types)
        yield Rule(
            "KarpenterReservationExhausted",
            f"max({OFFERING_AVAILABLE}{{capacity_type=\"reserved\", instance_type=~\"{types}\"}}) == 0",
            True, RESERVATION_FOR, _labels("warning", pool=p.pool),
            {"summary": f"NodePool {p.pool} has no reserved capacity left",
             "description": f"No capacity reservation the pool selects has room for {', '.join(p.instance_types)}"
                            " (used up, expiring, or never matched). New nodes fall back to on-demand at list "
                            "price where the pool allows it, or stay pending."})


def _spot_interruptions() -> Iterable[Rule]:
    spot = f'{DISRUPTED}{{reason="{SPOT_REASON}"}}'
    counted = f"increase({spot}[{INTERRUPTION_WINDOW}]) > 0"
    # A first interruption appears as a new series (value 1), which increase() cannot see. It counts only when
    # the same Karpenter pod was already scraped a window ago, so a Prometheus restart does not alert on history.
    first = (f"({spot} unless {spot} offset {INTERRUPTION_WINDOW}) and on (namespace, pod) "
             f"(up offset {INTERRUPTION_WINDOW} == 1)")
    yield Rule(
        "KarpenterSpotInterruptions", f"sum by (nodepool) ({counted} or {first}) > 0", True, None,
        _labels("warning"),
        {"summary": "EC2 is reclaiming spot nodes of NodePool {{ $labels.nodepool }}",
         "description": f"Karpenter received Spot Interruption Warnings in the last {INTERRUPTION_WINDOW} and is "
                        "draining those nodes (two minutes' notice). Pods without checkpoints lose their work; "
                        "repeated warnings mean the pool's spot offerings are scarce."})


def karpenter_rule_groups(reserved: Sequence[ReservedPool]) -> list[RuleGroup]:
    """The Karpenter group: launches, capacity and spot interruptions for every cluster, reservations per pool."""
    return [RuleGroup(GROUP, (*_launch_failures(), *_spot_interruptions(), *_reservations(reserved)))]
