"""Karpenter pools for training (issue 17 §2, §3): reservations and placement groups, disruption outside the
maintenance window, pool taints, the CPU pool, node repair, Karpenter's metrics and rules, EFA NodeOverlays.

Emitted objects are checked against the reference CRDs (schema and CEL) and chart values in ../shared/reference.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest

from components.aws.disruption import training_budgets
from components.config import load_fleet
from components.config.gke import MaintenanceWindow
from gpufleet.report import Plan
from tests.cel_rules import violations, with_defaults
from tests.support.karpenter_budgets import allowed
from tests.test_eks import PATH, eks_of, errors, pool_of, raw_eks
from tests.test_kubernetes_objects import crd_schemas, manifests, validate

CPATH = "eks.regions[us-east-1].clusters[ml-aws]"


def objects(plan: Plan, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == kind}


def assert_valid(obj: dict[str, Any]) -> None:
    """The reference CRD's OpenAPI schema and its CEL rules, as the API server applies them on create."""
    validate(obj)
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    broken = list(violations(schema, with_defaults(schema, obj)))
    assert not broken, f"{obj['kind']} {obj['metadata']['name']}: {broken}"


def efa_pool(raw: dict[str, Any], **extra: Any) -> dict[str, Any]:
    pool = pool_of(raw)
    pool.update(instance_types=["p5.48xlarge"], zones=["us-east-1a"], gpu_limit=16, **extra)
    return pool


# --- W1: reservations and placement groups ------------------------------------------------------------

@pytest.mark.parametrize(("change", "expected"), [
    ({"capacity_types": ["reserved", "on-demand"], "capacity_reservations": [{"id": "cr-0abc"}],
      "placement_group": {"create": True}},
     f"{PATH}.placement_group.create: a placement group gpu-fleet creates cannot hold a capacity reservation"),
    ({"placement_group": {"name": "pg", "id": "pg-0abc"}}, f"{PATH}.placement_group: give exactly one of"),
    ({"placement_group": {"id": "sg-0abc"}}, f"{PATH}.placement_group.id: String should match pattern"),
])
def test_placement_group_rules(change: dict[str, Any], expected: str) -> None:
    raw = raw_eks()
    efa_pool(raw, **change)
    assert any(e.startswith(expected) for e in errors(raw)), errors(raw)


def test_create_on_a_pool_without_efa_is_refused() -> None:
    raw = raw_eks()
    pool_of(raw)["placement_group"] = {"create": True}
    assert any(e.startswith(f"{PATH}.placement_group.create: gpu-fleet creates placement groups for EFA pools")
               for e in errors(raw))


def test_reserved_efa_pool_names_its_reservations_group(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    pools = eks_of(prod_doc)["regions"][0]["clusters"][0]["gpu_pools"]
    pools[0]["placement_group"] = {"id": "pg-0123456789abcdef0"}
    plan = plan_doc(prod_doc, "prod")
    h100 = objects(plan, "EC2NodeClass")["h100"]
    assert h100["spec"]["placementGroupSelector"] == {"id": "pg-0123456789abcdef0"}
    assert_valid(h100)
    groups = {r.inputs["name"] for r in plan.resources if r.type == "aws:ec2/placementGroup:PlacementGroup"}
    assert groups == {"ml-aws-a100-efa"}


def test_prod_h100_consumes_its_reservation_outside_any_new_placement_group(prod_plan: Plan) -> None:
    classes = objects(prod_plan, "EC2NodeClass")
    assert "placementGroupSelector" not in classes["h100"]["spec"]
    assert classes["h100"]["spec"]["capacityReservationSelectorTerms"] == [
        {"tags": {"gpu-fleet/reservation": "h100-training"}}]
    # An EFA pool without reserved capacity keeps its cluster placement group.
    assert classes["a100"]["spec"]["placementGroupSelector"] == {"name": "ml-aws-a100-efa"}
    groups = [r for r in prod_plan.resources if r.type == "aws:ec2/placementGroup:PlacementGroup"]
    assert [g.inputs["name"] for g in groups] == ["ml-aws-a100-efa"]
    assert groups[0].inputs["strategy"] == "cluster"


# --- W2: training pools and the maintenance window ---------------------------------------------------------

def test_training_pools_never_expire_and_have_no_forced_termination(prod_plan: Plan) -> None:
    pools = objects(prod_plan, "NodePool")
    for name in ("h100", "a100"):
        tmpl = pools[name]["spec"]["template"]["spec"]
        assert tmpl["expireAfter"] == "Never"
        assert "terminationGracePeriod" not in tmpl
    l40s = pools["l40s"]["spec"]["template"]["spec"]
    assert (l40s["expireAfter"], l40s["terminationGracePeriod"]) == ("720h", "24h")


@pytest.mark.parametrize(("change", "expected"), [
    ({"workload": "training", "disruption": {"expire_after": "720h"}},
     f"{PATH}.disruption.expire_after: a training pool"),
    ({"production_critical": True, "disruption": {"termination_grace_period": "24h"}},
     f"{PATH}.disruption.termination_grace_period: a training pool"),
    ({"workload": "batch"}, f"{PATH}.workload: Input should be 'training' or 'serving'"),
])
def test_training_disruption_rules(change: dict[str, Any], expected: str) -> None:
    raw = raw_eks()
    pool_of(raw).update(change)
    assert any(e.startswith(expected) for e in errors(raw)), errors(raw)


def test_a_training_pool_may_say_never_and_a_serving_pool_may_expire() -> None:
    raw = raw_eks()
    pool_of(raw).update(workload="training", disruption={"expire_after": "Never"})
    load_fleet(raw)
    raw = raw_eks()
    pool_of(raw).update(workload="serving", disruption={"expire_after": "168h", "termination_grace_period": "1h"})
    load_fleet(raw)


def _in_window(window: MaintenanceWindow, at: datetime) -> bool:
    """Whether `at` lies in a run of the window, the way GKE reads it: each listed day, from `start`, for
    `duration_hours` (so a run may reach into the next day)."""
    weekdays = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]  # datetime.weekday() order
    hours, minutes = (int(x) for x in window.start.split(":"))
    for back in range(2):
        start = (at - timedelta(days=back)).replace(hour=hours, minute=minutes)
        if weekdays[start.weekday()] in {d.value for d in window.days} and \
                start <= at < start + timedelta(hours=window.duration_hours):
            return True
    return False


@pytest.mark.parametrize("window", [
    MaintenanceWindow(),
    MaintenanceWindow(start="22:30", duration_hours=5, days=["SA"]),  # crosses midnight into Sunday
    MaintenanceWindow(start="20:00", duration_hours=6, days=["SA", "SU", "MO"]),  # Saturday wraps to Sunday run
    MaintenanceWindow(start="00:00", duration_hours=24, days=["FR", "SA"]),  # two days merge into one run
])
def test_budgets_block_drift_and_consolidation_exactly_outside_the_window(window: MaintenanceWindow) -> None:
    budgets = training_budgets(window, "1")
    start = datetime(2026, 11, 29, 0, 0)  # a Sunday
    for step in range(0, 7 * 24 * 60 + 60, 30):
        at = start + timedelta(minutes=step)
        inside = _in_window(window, at)
        for reason in ("Drifted", "Underutilized"):
            assert allowed(budgets, reason, at) == (1 if inside else 0), (at, reason, budgets)
        assert allowed(budgets, "Empty", at) == 1  # empty nodes run no job


def test_a_window_open_all_week_blocks_nothing() -> None:
    window = MaintenanceWindow(start="00:00", duration_hours=24, days=["MO", "TU", "WE", "TH", "FR", "SA", "SU"])
    assert training_budgets(window, "10%") == [{"nodes": "10%"}]


def test_the_window_comes_from_cluster_maintenance(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    cluster = eks_of(prod_doc)["regions"][0]["clusters"][0]
    cluster["maintenance"] = {"window": {"start": "04:15", "duration_hours": 8, "days": ["WE"]}}
    plan = plan_doc(prod_doc, "prod")
    h100 = objects(plan, "NodePool")["h100"]
    assert h100["spec"]["disruption"]["budgets"] == [
        {"nodes": "1"},
        {"nodes": "0", "reasons": ["Drifted", "Underutilized"], "schedule": "15 12 * * 3", "duration": "160h"}]
    assert_valid(h100)
    # Karpenter's CEL: schedule and duration only together.
    broken = copy.deepcopy(h100)
    del broken["spec"]["disruption"]["budgets"][1]["duration"]
    schema = crd_schemas()[("karpenter.sh/v1", "NodePool")]
    assert any("duration" in v for v in violations(schema, with_defaults(schema, broken)))


def test_dated_exclusions_are_refused_with_a_hint() -> None:
    raw = raw_eks()
    raw["eks"]["regions"][0]["clusters"][0]["maintenance"] = {"exclusions": [
        {"name": "launch", "start": "2026-12-01T00:00:00Z", "end": "2026-12-08T00:00:00Z"}]}
    (issue,) = [e for e in errors(raw) if e.startswith(f"{CPATH}.maintenance.exclusions[launch]")]
    assert "cron without a year" in issue and "karpenter.sh/do-not-disrupt" in issue
