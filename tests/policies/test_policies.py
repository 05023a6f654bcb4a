"""The policy pack over real stacks' resources with config as the engine passes it, and the whole pack over gRPC."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from components import catalog
from components.capacity.budget import StackBudget, stack_budget
from components.config import ConfigError
from gpufleet import cli, policy_gate
from gpufleet.report import Plan
from policies import gke_security
from policies.pack import POLICIES
from tests.support.engine import (
    PACK,
    gpu_pool,
    pack_config,
    run_resource_policy,
    run_resource_policy_over,
    run_stack_policy,
    stack_policy_reports,
    with_inputs,
)
from tests.support.pack_configs import only_policies_for
from tests.support.plans import ROOT, budgets_of, checked_plan, gke_of, gke_only, stack_doc
from tests.support.small_stacks import gke_cluster, gke_region
from tests.support.verdicts import engine_config, newly_violated, reconcile, violated

# --- each policy over a real stack's resources, config as the engine passes it ---------------------------


def test_gpu_quota_names_the_pool_and_the_quota_key(prod_plan: Plan, prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """prod's us-east4 l4-serve at 5 nodes per zone: 2 zones x 5 x 2 L4 = 20 GPUs against 16 granted.

    Planned as prod's us-east4 alone (quotas are per region), under prod's shipped grants."""
    shipped = plan_doc(gke_region(prod_doc, "us-east4"), "prod")
    gpu_pool(prod_doc, "us-east4", "ml-1", "l4-serve")["autoscaling"]["max_nodes"] = 5
    plan = plan_doc(gke_region(prod_doc, "us-east4"), "prod")
    assert newly_violated(plan, shipped, "prod") == {"gpu-quota"}
    (msg,) = run_stack_policy("gpu-quota", plan, engine_config("gpu-quota", "prod"))
    assert msg.startswith("us-east4 NVIDIA_L4_GPUS: 20 GPUs requested at maximum scale, granted 16. "
                          "Pools: ml-1/l4-serve (g2-standard-24, 10 nodes x 2 GPUs = 20 l4) at "
                          "gke.regions[us-east4].clusters[ml-1].gpu_pools[l4-serve]. "), msg
    assert "raise gpu-quota.quotas.us-east4.NVIDIA_L4_GPUS" in msg
    # Granting the 20 (through the schema-checked config) clears it; the shipped plan fits the shipped grants.
    quotas = pack_config("prod")["gpu-quota"]["quotas"]
    quotas["us-east4"]["NVIDIA_L4_GPUS"] = 20
    assert run_stack_policy("gpu-quota", plan, engine_config("gpu-quota", "prod", quotas=quotas)) == []
    assert run_stack_policy("gpu-quota", prod_plan, engine_config("gpu-quota", "prod")) == []


def test_gpu_budget_over_the_daily_and_monthly_budget(dev_gke_plan: Plan, dev_doc: dict[str, Any],
                                                      plan_doc: Any) -> None:
    """dev's h100-spot at 4 nodes: 4 spot a3-highgpu-1g + 4 g2-standard-8 is over $500/day and $12,000/month."""
    dev_plan = dev_gke_plan  # the figures below are dev's GKE side alone
    gpu_pool(dev_doc, "us-central1", "dev-1", "h100-spot")["autoscaling"]["max_nodes"] = 4
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert newly_violated(plan, dev_plan, "dev") == {"gpu-budget"}
    h100, l4 = catalog.price("a3-highgpu-1g", "us-central1"), catalog.price("g2-standard-8", "us-central1")
    assert h100 is not None and h100.spot_hourly_usd is not None and l4 is not None
    hourly = 4 * h100.spot_hourly_usd + 4 * l4.on_demand_hourly_usd
    daily, monthly = run_stack_policy("gpu-budget", plan, engine_config("gpu-budget", "dev"))
    key = "gke.regions[us-central1].clusters[dev-1].gpu_pools"
    assert daily.startswith(f"GPU capacity at maximum scale costs ${round(hourly, 2) * 24:,.2f} per day, over the "
                            "daily budget of $500.00. Largest pools: "
                            f"{key}[h100-spot] ${4 * h100.spot_hourly_usd * 24:,.0f}/day; "
                            f"{key}[l4] ${4 * l4.on_demand_hourly_usd * 24:,.0f}/day."), daily
    assert "raise budgets.daily_usd in the stack config" in daily
    assert monthly.startswith(f"GPU capacity at maximum scale costs ${hourly * 730:,.2f} per month, over the "
                              "monthly budget of $12,000.00."), monthly
    assert "raise budgets.monthly_usd in the stack config" in monthly
    # The same change under a budget it fits: raised where the budget lives, the stack's gpu-fleet:budgets.
    budgets_of(dev_doc).update(daily_usd=800, monthly_usd=25_000)
    raised = plan_doc(gke_only(dev_doc), "dev")
    assert run_stack_policy("gpu-budget", raised, engine_config("gpu-budget", "dev")) == []
    assert run_stack_policy("gpu-budget", dev_plan, engine_config("gpu-budget", "dev")) == []


def test_gpu_budget_prices_from_the_policy_config_override_the_catalog(dev_plan: Plan) -> None:
    prices = [{"machine_type": "g2-standard-8", "region": "us-central1", "on_demand_hourly_usd": 10}]
    daily, _monthly = run_stack_policy("gpu-budget", dev_plan, engine_config("gpu-budget", "dev", prices=prices))
    # 4 x $10/h = $960/day for the l4 pool alone
    assert "over the daily budget of $500.00" in daily and "gke.regions[us-central1].clusters[dev-1].gpu_pools[l4] " \
        "$960/day" in daily


def test_gpu_budget_warning_names_the_threshold_crossed(dev_doc: dict[str, Any],
                                                        plan_doc: Any) -> None:
    """dev's h100-spot back at 2 nodes (the price refresh cut it to 1): within budget, but past 90% of the monthly
    and 70% of the daily budget."""
    gpu_pool(dev_doc, "us-central1", "dev-1", "h100-spot")["autoscaling"]["max_nodes"] = 2
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert "gpu-budget" not in violated(plan, "dev")
    h100, l4 = catalog.price("a3-highgpu-1g", "us-central1"), catalog.price("g2-standard-8", "us-central1")
    assert h100 is not None and h100.spot_hourly_usd is not None and l4 is not None
    hourly = 2 * h100.spot_hourly_usd + 4 * l4.on_demand_hourly_usd
    daily_share, monthly_share = hourly * 24 / 500, hourly * 730 / 12_000
    assert 0.7 <= daily_share < 0.9 <= monthly_share <= 1  # what the change is meant to produce
    daily, monthly = run_stack_policy("gpu-budget-warning", plan, engine_config("gpu-budget-warning", "dev"))
    assert daily.startswith(f"GPU capacity at maximum scale would use {daily_share:.0%} of the daily budget "
                            f"(${round(hourly, 2) * 24:,.2f} of $500.00), past the 70% warning threshold."), daily
    assert monthly.startswith(f"GPU capacity at maximum scale would use {monthly_share:.0%} of the monthly budget "
                              f"(${hourly * 730:,.2f} of $12,000.00), past the 90% warning threshold."), monthly
    assert "gke.regions[us-central1].clusters[dev-1].gpu_pools[l4] $" in daily
    # The default thresholds (70%, 90%, seed 002's) apply when the stack's budget names none.
    del budgets_of(dev_doc)["thresholds"]
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert run_stack_policy("gpu-budget-warning", plan, engine_config("gpu-budget-warning", "dev")) == [daily, monthly]
    # Passing counterpart: dev without the H100s is well under 70% of both budgets.
    gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"] = [gpu_pool(dev_doc, "us-central1", "dev-1", "l4")]
    gpu_pool(dev_doc, "us-central1", "dev-1", "l4")["autoscaling"]["max_nodes"] = 4
    assert run_stack_policy("gpu-budget-warning", plan_doc(gke_only(dev_doc), "dev"),
                            engine_config("gpu-budget-warning", "dev")) == []


def test_gpu_spot_share_counts_gpus_at_maximum_scale(dev_gke_plan: Plan, dev_doc: dict[str, Any],
                                                     plan_doc: Any) -> None:
    """dev's l4 on spot: all 5 GPUs (4 L4 + 1 H100) are spot, above the 70% allowed."""
    dev_plan = dev_gke_plan  # the figures below are dev's GKE side alone
    gpu_pool(dev_doc, "us-central1", "dev-1", "l4")["capacity"] = "spot"
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert newly_violated(plan, dev_plan, "dev") == {"gpu-spot-share"}
    (msg,) = run_stack_policy("gpu-spot-share", plan, engine_config("gpu-spot-share", "dev"))
    key = "gke.regions[us-central1].clusters[dev-1].gpu_pools"
    assert msg.startswith("5 of 5 GPUs at maximum scale are spot (100%), above the 70% allowed. "
                          f"Spot pools: {key}[h100-spot]; {key}[l4]. "), msg
    assert "raise gpu-spot-share.max_spot_share" in msg
    # The shipped dev stack: 1 of 5 GPUs on spot, within 70% but not within 15%.
    assert run_stack_policy("gpu-spot-share", dev_plan, engine_config("gpu-spot-share", "dev")) == []
    (msg,) = run_stack_policy("gpu-spot-share", dev_plan, engine_config("gpu-spot-share", "dev", max_spot_share=0.15))
    assert msg.startswith(f"1 of 5 GPUs at maximum scale are spot (20%), above the 15% allowed. Spot pools: "
                          f"{key}[h100-spot]. "), msg


@pytest.mark.parametrize("drift", ["spot", "preemptible"])
def test_gpu_critical_not_spot_reports_the_pool(drift: str, prod_plan: Plan, prod_doc: dict[str, Any],
                                                plan_doc: Any) -> None:
    """The config validator refuses a critical spot pool, so the drift is made in the registered node pool (of
    prod's us-central1 ml-1 alone, the pool's cluster; the shipped prod is checked whole below)."""
    region = plan_doc(gke_cluster(prod_doc, "us-central1", "ml-1"), "prod")
    plan = with_inputs(region, "us-central1-ml-1-l4-serve", lambda p: p["nodeConfig"].update({drift: True}))
    assert newly_violated(plan, region, "prod") == {"gpu-critical-not-spot"}
    ((msg, urn),) = stack_policy_reports("gpu-critical-not-spot", plan, engine_config("gpu-critical-not-spot", "prod"))
    assert msg == ("ml-1/l4-serve (g2-standard-24, 9 nodes x 2 GPUs = 18 l4) is production-critical but runs on "
                   "spot capacity. Set gke.regions[us-central1].clusters[ml-1].gpu_pools[l4-serve].capacity: "
                   "on-demand, or production_critical: false.")
    assert urn is not None and urn.endswith("$gcp:container/nodePool:NodePool::us-central1-ml-1-l4-serve")
    assert stack_policy_reports("gpu-critical-not-spot", prod_plan,
                                engine_config("gpu-critical-not-spot", "prod")) == []


def test_nap_gpu_limits_on_the_registered_cluster(dev_gke_plan: Plan, dev_doc: dict[str, Any],
                                                  plan_doc: Any) -> None:
    """Auto-provisioning with cpu and memory limits only: nothing bounds the GPU nodes it may create (planned as
    dev's GKE side alone, the cluster's)."""
    cluster = gke_of(dev_doc)["regions"][0]["clusters"][0]
    cluster["auto_provisioning"] = {"enabled": True, "cpu_max": 64, "memory_max_gb": 256}
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert newly_violated(plan, dev_gke_plan, "dev") == {"nap-gpu-limits"}
    (msg,) = run_resource_policy_over("nap-gpu-limits", plan, engine_config("nap-gpu-limits", "dev"))
    assert msg == ("gke.regions[us-central1].clusters[dev-1] has node auto-provisioning without GPU resource "
                   "limits: it could create GPU nodes of any type and number. Set "
                   "gke.regions[us-central1].clusters[dev-1].auto_provisioning.gpu_limits.")
    cluster["auto_provisioning"]["gpu_limits"] = [{"gpu": "l4", "max": 4}]
    plan = plan_doc(gke_only(dev_doc), "dev")
    assert run_resource_policy_over("nap-gpu-limits", plan, engine_config("nap-gpu-limits", "dev")) == []
    # ... and the limit is capacity the quota policy now counts: 4 pool L4s + 4 auto-provisioned = 8.
    (row,) = [r for r in plan.capacity if r.pool == "auto-provisioning"]
    assert (row.gpu, row.max_gpus) == ("l4", 4)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda p: p.update(enableLegacyAbac=True), "legacy ABAC is on"),
    (lambda p: p["masterAuth"]["clientCertificateConfig"].update(issueClientCertificate=True),
     "a client certificate is issued"),
    # a password reaches the policy in the engine's secret envelope
    (lambda p: p["masterAuth"].update(password={SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": "hunter2hunter2"}),
     "basic authentication is configured"),
])
def test_gke_legacy_auth_disabled(change: Callable[[dict[str, Any]], None], problem: str,
                                  dev_gke_plan: Plan) -> None:
    dev_plan = dev_gke_plan  # dev's GKE side alone: its one cluster is what the policy judges
    config = engine_config("gke-legacy-auth-disabled", "dev")
    assert run_resource_policy_over("gke-legacy-auth-disabled", dev_plan, config) == []
    plan = with_inputs(dev_plan, "us-central1-dev-1", change)
    assert newly_violated(plan, dev_plan, "dev") == {"gke-legacy-auth-disabled"}
    (msg,) = run_resource_policy_over("gke-legacy-auth-disabled", plan, config)
    assert msg.startswith(f"gke.regions[us-central1].clusters[dev-1]: {problem}. Authenticate with IAM"), msg
    assert "(CIS GKE Benchmark 5.8.1, 5.8.3)" in msg and "gke-legacy-auth-disabled.exempt" in msg
    exempt = engine_config("gke-legacy-auth-disabled", "dev", exempt=["dev-1"])
    assert run_resource_policy_over("gke-legacy-auth-disabled", plan, exempt) == []


def test_gke_deletion_protection_where_the_stack_requires_it(prod_plan: Plan, dev_plan: Plan,
                                                             prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """prod's us-east4 (its three clusters: the policy judges each cluster) with gke.deletion_protection off names
    every cluster; the shipped prod, whole, requires it and passes."""
    shipped = plan_doc(gke_region(prod_doc, "us-east4"), "prod")  # test_gpu_quota_names_the_pool_...'s baseline too
    gke_of(prod_doc)["deletion_protection"] = False
    plan = plan_doc(gke_region(prod_doc, "us-east4"), "prod")
    assert newly_violated(plan, shipped, "prod") == {"gke-deletion-protection"}
    required = engine_config("gke-deletion-protection", "prod")
    assert required == {"required": True, "exempt": [], "waivers": []}
    messages = run_resource_policy_over("gke-deletion-protection", plan, required)
    clusters = [c["name"] for c in gke_of(prod_doc)["regions"][1]["clusters"]]
    assert gke_of(prod_doc)["regions"][1]["name"] == "us-east4" and clusters == ["ml-1", "research-1", "svc-1"]
    assert messages == [f"gke.regions[us-east4].clusters[{name}] has no deletion protection, which this stack "
                        "requires. Set gke.deletion_protection: true in the stack config. An accepted exception goes "
                        f"in gke-deletion-protection.exempt (the GKE name {name!r}) of the stack's policy config, "
                        "with the reason." for name in clusters]
    assert stack_doc("prod")["config"]["gpu-fleet:gke"]["deletion_protection"] is True
    assert run_resource_policy_over("gke-deletion-protection", prod_plan, required) == []
    # dev opts out (required: false), as does the schema default; under prod's config dev-1 would be caught.
    for config in (engine_config("gke-deletion-protection", "dev"), engine_config("gke-deletion-protection")):
        assert config["required"] is False
        assert run_resource_policy_over("gke-deletion-protection", dev_plan, config) == []
    (msg,) = run_resource_policy_over("gke-deletion-protection", dev_plan, required)
    assert msg.startswith("gke.regions[us-central1].clusters[dev-1] has no deletion protection")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_policies_called_here_see_what_the_analyzer_hands_them(stack: str,
                                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    """The in-process calls above (wrapping, config, component outputs) agree with the pack served over gRPC."""
    plan = _shipped_verdict(tmp_path_factory, stack)
    over_grpc: dict[str, list[str]] = {}
    for v in plan.policy["violations"]:
        over_grpc.setdefault(v["policy"], []).append(v["message"])
    assert violated(plan, stack) == over_grpc
    # Both shipped stacks sit past 70% of a budget; prod's A100 production pools have no reservation; dev's
    # alerts reach no receiver (prod's do). gpu-price-age joins them once the price data (GCP's of 2026-07-30)
    # is older than the days the stack's pack config allows: a fact of today's date, read from the plan.
    limit = json.loads((PACK / "config" / f"{stack}.json").read_text())["gpu-price-age"]["max_age_days"]
    stale = any((p["age_days"] or 0) > limit for p in plan.to_json()["prices"])
    advisories = ({"gpu-budget-warning"} | ({"gpu-price-age"} if stale else set())
                  | ({"gpu-critical-capacity-reserved"} if stack == "prod" else {"alerts-have-receivers"}))
    assert set(over_grpc) == advisories


# --- the pack through the analyzer -----------------------------------------------------------------


def _shipped_verdict(factory: pytest.TempPathFactory, stack: str) -> Plan:
    """The shipped stack's plan with the real pack's verdict under its shipped config: one pack run per run."""
    return checked_plan(factory, stack, (ROOT / f"Pulumi.{stack}.yaml").read_text(),
                        PACK / "config" / f"{stack}.json")


def _seed_000_h100_pool(doc: dict[str, Any]) -> dict[str, Any]:
    """prod's us-central1 ml-1 with seed 000's h100-prod: 8 a3-megagpu-8g per zone in 3 zones (quotas are per region;
    the region's other clusters hold no A3 Mega)."""
    doc = gke_cluster(doc, "us-central1", "ml-1")
    cluster = gke_of(doc)["regions"][0]["clusters"][0]
    pool = next(p for p in cluster["gpu_pools"] if p["name"] == "h100-prod")
    pool.update(zones=["us-central1-a", "us-central1-b", "us-central1-c"], compact_placement=False,
                autoscaling={"per": "zone", "min_nodes": 1, "max_nodes": 8})
    return doc


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_pass_the_pack(stack: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    verdict = _shipped_verdict(tmp_path_factory, stack).policy
    assert verdict["config"] == str(PACK / "config" / f"{stack}.json")
    assert {p["name"] for p in verdict["policies"]} == {p.name for p in POLICIES}
    assert not [v for v in verdict["violations"] if v["level"] == "mandatory"], verdict["violations"]


@pytest.fixture(scope="module")
def seed_000_planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`gpu-fleet plan prod` of seed 000's pool with the real pack, only gpu-quota on at prod's shipped settings: one
    plan and one pack run for the verdict's two tests below (issue 22)."""
    tmp = tmp_path_factory.mktemp("seed-000")
    stack = tmp / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump(_seed_000_h100_pool(stack_doc("prod"))))
    out, md = tmp / "plan.json", tmp / "plan.md"
    config = only_policies_for("prod", ["gpu-quota"], tmp)
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["plan", "prod", "--config", str(stack), "--policy-config", str(config),
                         "--json", str(out), "--markdown", str(md)])
    return {"code": code, "json": json.loads(out.read_text()), "markdown": md.read_text()}


def test_seed_000_h100_pool_breaks_seed_002_quota(seed_000_planned: dict[str, Any]) -> None:
    """8 a3-megagpu-8g per zone x 3 zones in us-central1 = 192 H100 against 32 granted there.

    The real pack with only gpu-quota on, at prod's shipped settings."""
    violations = seed_000_planned["json"]["policy"]["violations"]
    assert any(v["level"] == "mandatory" for v in violations)
    quota_msgs = [v["message"] for v in violations if v["policy"] == "gpu-quota"]
    assert any("NVIDIA_H100_MEGA_GPUS: 192 GPUs requested" in m and "gpu_pools[h100-prod]" in m for m in quota_msgs)


def test_cli_exit_1_on_mandatory_violation(seed_000_planned: dict[str, Any]) -> None:
    """The CLI's verdict on seed 000's pool: gpu-quota is mandatory in prod's config (the others are off here)."""
    assert seed_000_planned["code"] == 1
    doc = seed_000_planned["json"]
    assert doc["policy"]["pack"] == "gpu-fleet"
    assert any(v["policy"] == "gpu-quota" and v["level"] == "mandatory" for v in doc["policy"]["violations"])
    md = seed_000_planned["markdown"]
    assert "| mandatory | [`gpu-quota`](" in md and "docs/policies.md#gpu-quota)" in md


@pytest.mark.parametrize(("config", "expected"), [
    ({"gpu-quotas": {}}, "gpu-quotas: no such policy in the pack"),
    ({"gpu-spot-share": {"max_spot_share": "seventy"}}, "gpu-spot-share.max_spot_share: 'seventy' is not of type"),
    ({"gpu-spot-share": {"max_spot": 0.5}}, "Additional properties are not allowed"),
    ({"gpu-budget": {"enforcementLevel": "strict"}}, "gpu-budget.enforcementLevel: not an enforcement level"),
    ({"gpu-quota": {"quotas": {"us-central1": {"NVIDIA_L4_GPUS": -1}}}}, "-1 is less than the minimum of 0"),
])
def test_bad_pack_config_is_rejected(config: dict[str, Any], expected: str, tmp_path: Path) -> None:
    """Against the schemas the real pack serves, as run_pack reconciles them (the test below goes through run_pack)."""
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as info:
        reconcile(path)
    assert any(expected in str(i) for i in info.value.issues), [str(i) for i in info.value.issues]


def test_enforcement_levels_are_overridable_per_stack(dev_plan: Plan, tmp_path: Path) -> None:
    path = only_policies_for("dev", ["gpu-quota"], tmp_path,
                         {"gpu-quota": {"enforcementLevel": "advisory", "quotas": {}}})
    result = policy_gate.run_pack(PACK, path, dev_plan.resources, stack="dev", project="gpu-fleet")
    levels = {v["level"] for v in result.violations if v["policy"] == "gpu-quota"}
    assert levels == {"advisory"} and not result.mandatory_failed


def test_the_pack_config_holds_no_budget_number(dev_plan: Plan, tmp_path: Path) -> None:
    """One source: the budget lives in the stack's gpu-fleet:budgets; a copy in the pack config is refused."""
    for stack in ("dev", "prod"):
        cfg = pack_config(stack)
        assert not {"gpu-budget", "gpu-budget-warning"} & set(cfg), stack
    path = tmp_path / "copy.json"
    path.write_text(json.dumps({"gpu-budget": {"daily_budget_usd": 500}}))
    with pytest.raises(ConfigError) as info:
        policy_gate.run_pack(PACK, path, dev_plan.resources[:1], stack="dev", project="gpu-fleet")
    assert any("gpu-budget: Additional properties are not allowed ('daily_budget_usd'" in str(i)
               for i in info.value.issues), [str(i) for i in info.value.issues]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_budget_policies_judge_the_stacks_own_budget(stack: str, request: pytest.FixtureRequest) -> None:
    """The policies read the budget the stack published, the same numbers its cloud budgets are built from."""
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    doc = budgets_of(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()))
    (published,) = [r for r in plan.resources if r.type == "gpufleet:budgets:FleetBudget"]
    assert stack_budget([published.view()]) == StackBudget(
        amounts={p: float(doc[f"{p}_usd"]) for p in ("daily", "monthly") if f"{p}_usd" in doc},
        thresholds=doc.get("thresholds", [0.7, 0.9]))
    (warning,) = run_stack_policy("gpu-budget-warning", plan, engine_config("gpu-budget-warning", stack))
    period = "daily" if doc.get("daily_usd") and stack == "prod" else "monthly"
    assert f"of the {period} budget" in warning


def test_every_policy_has_a_schema_with_defaults() -> None:
    for policy in POLICIES:
        schema = policy.config_schema
        assert schema is not None, policy.name
        assert all("default" in prop for prop in schema.properties.values()), policy.name
        assert policy.name == policy.name.lower() and " " not in policy.name and policy.description


def test_exempt_names_skip_resource_policies(dev_plan: Plan) -> None:
    (cluster,) = [r for r in dev_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    props = copy.deepcopy(cluster.inputs)
    props["enableShieldedNodes"] = False
    assert run_resource_policy("gke-shielded-nodes", cluster.type, props)
    assert run_resource_policy("gke-shielded-nodes", cluster.type, props, {"exempt": [props["name"]]}) == []


def test_auto_repair_is_asked_of_every_pool_but_dynamic_workload_scheduler_ones() -> None:
    pool = {"name": "p", "location": "us-central1", "cluster": "c", "nodeConfig": {},
            "management": {"autoRepair": False, "autoUpgrade": True}}
    assert "auto-repair off" in str(gke_security.auto_repair_upgrade(pool, {}))
    flex = {**pool, "nodeConfig": {"flexStart": True}}
    queued = {**pool, "queuedProvisioning": {"enabled": True}}
    assert gke_security.auto_repair_upgrade(flex, {}) is None
    assert gke_security.auto_repair_upgrade(queued, {}) is None
    flex["management"] = {"autoRepair": False, "autoUpgrade": False}
    assert "has auto-upgrade off" in str(gke_security.auto_repair_upgrade(flex, {}))


def test_control_plane_open_to_most_of_the_internet(dev_plan: Plan) -> None:
    """An authorized network wider than min_prefix_length is as good as none (config validation refuses it too)."""
    (cluster,) = [r for r in dev_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    config = engine_config("gke-control-plane-access", "dev")
    assert config["min_prefix_length"] == 8
    props = copy.deepcopy(cluster.inputs)
    assert run_resource_policy("gke-control-plane-access", cluster.type, props, config) == []
    props["masterAuthorizedNetworksConfig"]["cidrBlocks"].append({"cidrBlock": "0.0.0.0/0", "displayName": "any"})
    (msg,) = run_resource_policy("gke-control-plane-access", cluster.type, props, config)
    assert msg.startswith("gke.regions[us-central1].clusters[dev-1] admits 0.0.0.0/0 to its public control plane")
    assert "Narrow gke.regions[us-central1].clusters[dev-1].authorized_networks" in msg and "5.6.3" in msg
    props["masterAuthorizedNetworksConfig"]["cidrBlocks"][-1]["cidrBlock"] = "100.64.0.0/10"
    assert run_resource_policy("gke-control-plane-access", cluster.type, props, config) == []
    assert run_resource_policy("gke-control-plane-access", cluster.type, props,
                               engine_config("gke-control-plane-access", "dev", min_prefix_length=16))
