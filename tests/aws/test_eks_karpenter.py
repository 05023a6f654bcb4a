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
from tests.support.cel_rules import assert_valid, violations, with_defaults
from tests.support.eks_config import CPATH, PATH, eks_of, errors, pool_of, raw_eks
from tests.support.k8s_schemas import crd_schemas, manifests
from tests.support.karpenter_budgets import allowed
from tests.support.promtool import needs_promtool
from tests.support.small_stacks import eks_only


def objects(plan: Plan, kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == kind}


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
    plan = plan_doc(eks_only(prod_doc), "prod")  # prod's EKS side: placement groups are EKS's alone
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
    plan = plan_doc(eks_only(prod_doc), "prod")  # prod's EKS side
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


# --- W3: premium pools do not catch unpinned GPU pods ----------------------------------------------------------

def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Kubernetes' toleration matching (k8s.io/api core/v1 toleration.go `ToleratesTaint`)."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("key") and t["key"] != taint["key"]:
            continue
        if t.get("operator", "Equal") == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False


EXTENDED_RESOURCE_TOLERATION = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
"""What EKS's ExtendedResourceToleration admission plugin adds to a pod requesting nvidia.com/gpu."""


def test_an_unpinned_one_gpu_pod_only_fits_pools_without_eight_gpu_nodes(prod_plan: Plan) -> None:
    fits = {name for name, pool in objects(prod_plan, "NodePool").items()
            if all(_tolerates(EXTENDED_RESOURCE_TOLERATION, t)
                   for t in pool["spec"]["template"]["spec"].get("taints", []))}
    assert fits == {"l40s", "cpu"}  # cpu: no GPUs, so the pod's nvidia.com/gpu request does not fit there
    for name in ("h100", "a100"):
        assert {"key": "gpu-fleet/pool", "value": name, "effect": "NoSchedule"} in \
            objects(prod_plan, "NodePool")[name]["spec"]["template"]["spec"]["taints"]
        assert "weight" not in objects(prod_plan, "NodePool")[name]["spec"]


@pytest.mark.parametrize(("change", "dedicated"), [
    ({}, True),  # g6e.48xlarge: 8 GPUs
    ({"instance_types": ["g6e.12xlarge", "g6e.48xlarge"]}, False),  # a 4-GPU size exists
    ({"instance_types": ["g6e.12xlarge"], "workload": "training"}, True),
    ({"dedicated": False}, False),
])
def test_which_pools_carry_the_pool_taint(change: dict[str, Any], dedicated: bool) -> None:
    from components.config.eks import is_dedicated

    raw = raw_eks()
    pool_of(raw).update(change)
    fleet = load_fleet(raw)
    assert fleet.eks is not None
    assert is_dedicated(fleet.eks.regions[0].clusters[0].gpu_pools[0]) is dedicated


def test_gpu_node_agents_tolerate_every_gpu_pool_taint(prod_doc: dict[str, Any], plan_doc: Any,
                                                       prod_plan: Plan) -> None:
    def releases(plan: Plan) -> dict[str, dict[str, Any]]:
        return {r.inputs["chart"]: r.inputs.get("values") or {} for r in plan.resources
                if r.type == "kubernetes:helm.sh/v3:Release"}

    taints = [t for p in objects(prod_plan, "NodePool").values() for t in p["spec"]["template"]["spec"].get(
        "taints", [])]
    assert any(t["key"] == "gpu-fleet/pool" for t in taints)
    agents = releases(prod_plan)
    for chart in ("nvidia-device-plugin", "dcgm-exporter", "aws-efa-k8s-device-plugin"):
        assert all(_tolerates(agents[chart]["tolerations"], t) for t in taints), chart
    # The device plugin keeps its chart's own default tolerations (v0.20.0 values.yaml:86-93).
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in agents["nvidia-device-plugin"]["tolerations"]
    eks_of(prod_doc)["regions"][0]["clusters"][0]["addons"]["gpu_software"] = "operator"
    operator = releases(plan_doc(eks_only(prod_doc), "prod"))["gpu-operator"]  # the EKS cluster's alone
    assert all(_tolerates(operator["daemonsets"]["tolerations"], t) for t in taints)


def test_fabric_check_workers_tolerate_the_pool_and_request_no_huge_pages(prod_doc: dict[str, Any],
                                                                         prod_plan: Plan) -> None:
    from gpufleet import fabric_check

    fleet = load_fleet({"environment": "prod", "eks": eks_of(prod_doc)})
    check = fabric_check.build(fleet, f"{CPATH}.gpu_pools[h100]", gcp_project="p")
    worker = check.manifests[0]["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]
    taints = objects(prod_plan, "NodePool")["h100"]["spec"]["template"]["spec"]["taints"]
    assert all(_tolerates(worker["tolerations"], t) for t in taints)
    limits = worker["containers"][0]["resources"]["limits"]
    assert not any(k.startswith("hugepages-") for k in limits)


# --- W5: the CPU pool --------------------------------------------------------------------------------------

def test_cpu_pool_is_untainted_cpu_limited_and_valid(prod_plan: Plan) -> None:
    pool = objects(prod_plan, "NodePool")["cpu"]
    node_class = objects(prod_plan, "EC2NodeClass")["cpu"]
    assert_valid(pool)
    assert_valid(node_class)
    spec = pool["spec"]
    assert spec["limits"] == {"cpu": "256"} and "taints" not in spec["template"]["spec"]
    reqs = {r["key"]: r for r in spec["template"]["spec"]["requirements"]}
    assert reqs["karpenter.k8s.aws/instance-category"]["values"] == ["c", "m", "r"]
    assert reqs["karpenter.k8s.aws/instance-generation"] == {
        "key": "karpenter.k8s.aws/instance-generation", "operator": "Gt", "values": ["6"]}
    assert reqs["karpenter.sh/capacity-type"]["values"] == ["spot", "on-demand"]
    assert spec["template"]["spec"]["nodeClassRef"]["name"] == "cpu"
    assert node_class["spec"]["metadataOptions"]["httpTokens"] == "required"


def test_cpu_pool_is_not_gpu_capacity_and_policies_pass(prod_plan: Plan) -> None:
    from policies import eks_security

    assert "cpu" not in {r.pool for r in prod_plan.capacity if r.platform == "eks"}
    assert eks_security.nodepool_gpu_limit(objects(prod_plan, "NodePool")["cpu"], {}) is None


@pytest.mark.parametrize(("change", "expected"), [
    ({"capacity_types": ["reserved"]}, f"{CPATH}.cpu_pool.capacity_types: the CPU pool takes no capacity"),
    ({"categories": ["g"]}, f"{CPATH}.cpu_pool.categories[0]: Input should be 'c', 'm' or 'r'"),
    ({"cpu_limit": 0}, f"{CPATH}.cpu_pool.cpu_limit: Input should be greater than or equal to 1"),
])
def test_cpu_pool_rules(change: dict[str, Any], expected: str) -> None:
    raw = raw_eks()
    raw["eks"]["regions"][0]["clusters"][0]["cpu_pool"] = change
    assert any(e.startswith(expected) for e in errors(raw)), errors(raw)


def test_a_gpu_pool_may_not_take_the_cpu_pools_name() -> None:
    raw = raw_eks()
    pool_of(raw)["name"] = "cpu"
    assert any(e.startswith(f"{CPATH}.gpu_pools[cpu].name: is the name of the cluster's CPU NodePool")
               for e in errors(raw))


def test_cpu_pool_can_be_switched_off(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    eks_of(dev_doc)["regions"][0]["clusters"][0]["cpu_pool"] = {"enabled": False}
    assert "cpu" not in objects(plan_doc(eks_only(dev_doc), "dev"), "NodePool")


# --- §3: node repair, Karpenter's metrics and rules ---------------------------------------------------------

def _karpenter_values(plan: Plan) -> dict[str, Any]:
    (release,) = [r for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.name.endswith("-karpenter-chart")]
    return release.inputs["values"]


def test_node_repair_and_the_service_monitor_are_on_with_keys_the_chart_has(prod_plan: Plan) -> None:
    from tests.support.k8s_schemas import unknown_helm_keys

    values = _karpenter_values(prod_plan)
    assert not unknown_helm_keys("karpenter", values)
    assert values["settings"]["featureGates"]["nodeRepair"] is True
    assert values["serviceMonitor"]["enabled"] is True
    assert values["serviceMonitor"]["additionalLabels"] == {"release": "kube-prometheus-stack"}


def test_the_karpenter_chart_waits_for_the_servicemonitor_crd(prod_plan: Plan) -> None:
    (release,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.name.endswith("-karpenter-chart")]
    (stack,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                and r.inputs["chart"] == "kube-prometheus-stack"]
    assert stack.urn in release.dependencies


def test_prometheus_selects_the_karpenter_service_monitor(prod_plan: Plan) -> None:
    (stack,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                and r.inputs["chart"] == "kube-prometheus-stack"]
    spec = stack.inputs["values"]["prometheus"]["prometheusSpec"]
    # No release-label selector: every ServiceMonitor is selected; the label covers the chart default too.
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_karpenter_rules_reach_the_cluster_with_the_fleet_label(prod_plan: Plan) -> None:
    from components.kubernetes.conventions import FLEET_ALERT_LABEL

    rules = [m for m in manifests(prod_plan) if m["kind"] == "PrometheusRule"
             and any(g["name"] == "gpufleet-karpenter" for g in m["spec"]["groups"])]
    assert rules
    (group,) = [g for g in rules[0]["spec"]["groups"] if g["name"] == "gpufleet-karpenter"]
    assert {r["alert"] for r in group["rules"]} == {
        "KarpenterNodeClaimLaunchFailures", "KarpenterInsufficientCapacity", "KarpenterReservationExhausted",
        "KarpenterSpotInterruptions"}
    assert all(r["labels"][FLEET_ALERT_LABEL[0]] == FLEET_ALERT_LABEL[1] for r in group["rules"])
    (exhausted,) = [r for r in group["rules"] if r["alert"] == "KarpenterReservationExhausted"]
    assert exhausted["labels"]["pool"] == "h100" and 'instance_type=~"p5.48xlarge"' in exhausted["expr"]


# Series as Karpenter v1.14.1 exports them, with the target labels the Prometheus Operator adds to a ServiceMonitor
# scrape (namespace, pod, service, job).
SCRAPED = {"namespace": "kube-system", "pod": "karpenter-6d9f-abcde", "service": "karpenter", "job": "karpenter"}
FLEET = {"gpu_fleet": "true"}


def _failures(values: str, reason: str, capacity: str = "spot", zone: str = "us-east-1a") -> dict[str, str]:
    from tests.support.promtool import labelled

    return labelled("karpenter_cloudprovider_instance_launch_failures_total", values, capacity_type=capacity,
                  reason=reason, zone=zone, zone_id="use1-az1", **SCRAPED)


def _groups() -> list[Any]:
    from components.kubernetes.monitoring.karpenter_rules import ReservedPool, karpenter_rule_groups

    return karpenter_rule_groups([ReservedPool("h100", ("p5.48xlarge",))])


@needs_promtool
def test_launch_failures_that_do_not_heal_alert_at_once(tmp_path: Any) -> None:
    from tests.support.promtool import alert, run_promtool

    run_promtool(tmp_path, _groups(), [{
        "interval": "1m",
        "input_series": [_failures("0x5 1 2 3 4 5 6 7 8 9 10", "Unauthorized", capacity="on-demand"),
                         _failures("0+1x40", "LaunchFailed")],  # ICE: not this alert
        "alert_rule_test": [
            alert("4m", "KarpenterNodeClaimLaunchFailures"),
            alert("8m", "KarpenterNodeClaimLaunchFailures",
                  {"severity": "critical", "reason": "Unauthorized", "capacity_type": "on-demand",
                   "zone": "us-east-1a", **FLEET}),
        ],
    }])


@needs_promtool
def test_insufficient_capacity_alerts_only_when_it_lasts(tmp_path: Any) -> None:
    from tests.support.promtool import alert, run_promtool

    run_promtool(tmp_path, _groups(), [{
        "interval": "1m",
        "input_series": [_failures("0+1x60", "LaunchFailed", zone="us-east-1a"),
                         # A five-minute burst in another zone: Karpenter fell back, nothing to page about.
                         _failures("0x10 1 2 3 4 5 5x50", "LaunchFailed", zone="us-east-1b")],
        "alert_rule_test": [
            alert("25m", "KarpenterInsufficientCapacity"),
            alert("40m", "KarpenterInsufficientCapacity",
                  {"severity": "warning", "capacity_type": "spot", "zone": "us-east-1a", **FLEET}),
        ],
    }])


@needs_promtool
def test_an_exhausted_reservation_alerts_once_no_zone_has_room(tmp_path: Any) -> None:
    from tests.support.promtool import alert, labelled, run_promtool

    offering = "karpenter_cloudprovider_instance_type_offering_available"
    run_promtool(tmp_path, _groups(), [{
        "interval": "1m",
        "input_series": [
            labelled(offering, "1x20 0x40", instance_type="p5.48xlarge", capacity_type="reserved", zone="us-east-1a",
                   **SCRAPED),
            # Karpenter reports 0 for every other zone of the type (no reservation there): not an alert by itself.
            labelled(offering, "0x60", instance_type="p5.48xlarge", capacity_type="reserved", zone="us-east-1b",
                   **SCRAPED),
            labelled(offering, "1x60", instance_type="p5.48xlarge", capacity_type="on-demand", zone="us-east-1a",
                   **SCRAPED),
        ],
        "alert_rule_test": [
            alert("15m", "KarpenterReservationExhausted"),
            alert("30m", "KarpenterReservationExhausted"),
            alert("40m", "KarpenterReservationExhausted", {"severity": "warning", "pool": "h100", **FLEET}),
        ],
    }])


def _disrupted(values: str, pool: str, reason: str = "spot_interrupted", capacity: str = "spot") -> dict[str, str]:
    """`karpenter_nodeclaims_disrupted_total` as Karpenter v1.14.1 exports it: absent until its first increment."""
    from tests.support.promtool import labelled

    return labelled("karpenter_nodeclaims_disrupted_total", values, reason=reason, nodepool=pool,
                    capacity_type=capacity, **SCRAPED)


@needs_promtool
def test_spot_interruptions_alert_per_nodepool_including_the_first(tmp_path: Any) -> None:
    from tests.support.promtool import alert, labelled, run_promtool

    run_promtool(tmp_path, _groups(), [{
        "interval": "1m",
        "input_series": [
            labelled("up", "1x90", **SCRAPED),
            # The first warning for l4 at 20m creates the series; a second comes at 60m.
            _disrupted("_x19 1x39 2x30", "l4"),
            # Karpenter deleting a drifted on-demand node is not a spot interruption.
            _disrupted("_x19 1x70", "h100", reason="drifted", capacity="on-demand"),
        ],
        "alert_rule_test": [
            alert("10m", "KarpenterSpotInterruptions"),
            alert("25m", "KarpenterSpotInterruptions", {"severity": "warning", "nodepool": "l4", **FLEET}),
            alert("45m", "KarpenterSpotInterruptions"),
            alert("65m", "KarpenterSpotInterruptions", {"severity": "warning", "nodepool": "l4", **FLEET}),
            alert("85m", "KarpenterSpotInterruptions"),
        ],
    }])


@needs_promtool
def test_spot_series_already_there_when_prometheus_starts_do_not_alert(tmp_path: Any) -> None:
    from tests.support.promtool import alert, labelled, run_promtool

    run_promtool(tmp_path, _groups(), [{
        "interval": "1m",
        # Prometheus starts at 0m and finds Karpenter's old count: nothing new happened.
        "input_series": [labelled("up", "1x30", **SCRAPED), _disrupted("3x30", "l4")],
        "alert_rule_test": [alert("5m", "KarpenterSpotInterruptions"), alert("20m", "KarpenterSpotInterruptions")],
    }])


def test_dev_cpu_pool_is_small_and_spot(dev_plan: Plan) -> None:
    pool = objects(dev_plan, "NodePool")["cpu"]
    assert pool["spec"]["limits"] == {"cpu": "64"}
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]} in \
        pool["spec"]["template"]["spec"]["requirements"]
    assert_valid(pool)


def test_reserved_with_a_created_group_exits_2_with_one_line(prod_doc: dict[str, Any], tmp_path: Any,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from gpufleet import cli

    eks_of(prod_doc)["regions"][0]["clusters"][0]["gpu_pools"][0]["placement_group"] = {"create": True}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(prod_doc))
    # In-process, the CLI's own main (the console script's exit and stderr on refused EKS input:
    # tests/aws/test_eks_hardening.py test_refused_input_exits_2_with_one_line_and_no_traceback).
    code = cli.main(["plan", "prod", "--config", str(path), "--no-policy"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "placement_group" in ln]
    assert line.strip().startswith("eks.regions[us-east-1].clusters[ml-aws].gpu_pools[h100].placement_group.create: ")
    assert "hint: name the group the reservation was made in" in line
