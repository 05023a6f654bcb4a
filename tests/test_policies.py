"""The policy pack: each policy as a function over engine-wrapped props, and the whole pack over gRPC."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from components import catalog
from components.capacity import CapacityRow
from components.capacity.budget import StackBudget, stack_budget
from components.config import ConfigError
from gpufleet import cli, policy_gate
from gpufleet.report import Plan
from policies import budget, caps, gke_security, quota, spot
from policies.pack import PACK_NAME, POLICIES
from tests.conftest import ROOT, budgets_of, gke_of, gke_only

PACK = ROOT / "policies"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel
OPTIONS = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None)  # none set


def engine_props(props: dict[str, Any]) -> Any:
    """Props as the analyzer hands them to a policy: through a protobuf Struct, deserialized and proxied."""
    s = struct_pb2.Struct()
    s.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(s)))


def policy_resource(typ: str, props: dict[str, Any], urn: str = "urn:x") -> PolicyResource:
    return PolicyResource(typ, engine_props(props), urn, urn.rsplit("::", 1)[-1], OPTIONS, None, None, [], {})


def run_resource_policy(name: str, typ: str, props: dict[str, Any], config: Mapping[str, Any] | None = None,
                        urn: str = "urn:x") -> list[str]:
    policy = next(p for p in POLICIES if p.name == name)
    found: list[str] = []
    args = ResourceValidationArgs(typ, engine_props(props), urn, urn.rsplit("::", 1)[-1], OPTIONS, None,
                                  dict(config) if config is not None else None)
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[attr-defined]
    return found


def stack_policy_reports(name: str, plan: Plan, config: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(message, URN) pairs a stack policy reports over what AnalyzeStack would hand it for `plan`."""
    policy = next(p for p in POLICIES if p.name == name)
    # As policy_gate sends them: a custom resource's inputs (a preview), a component's registered outputs.
    resources = [policy_resource(r.type, r.properties, r.urn) for r in plan.resources]
    found: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources, dict(config)),  # type: ignore[attr-defined]
                    lambda message, urn=None: found.append((message, urn)))
    return found


def run_stack_policy(name: str, plan: Plan, config: Mapping[str, Any]) -> list[str]:
    return [message for message, _ in stack_policy_reports(name, plan, config)]


def run_resource_policy_over(name: str, plan: Plan, config: Mapping[str, Any]) -> list[str]:
    """A resource policy over every resource of `plan`, as Analyze is called once per resource."""
    return [m for r in plan.resources for m in run_resource_policy(name, r.type, r.properties, config, r.urn)]


def pack_config(stack: str) -> dict[str, Any]:
    return json.loads((PACK / "config" / f"{stack}.json").read_text())


def engine_config(name: str, stack: str | None = None, **settings: Any) -> dict[str, Any]:
    """What `args.get_config()` returns to policy `name` under the stack's pack config plus `settings`.

    Reconciled as policy_gate does it for the CLI (schema defaults from the pack's AnalyzerInfo, then the file,
    then JSON Schema), then through the Configure call's protobuf Struct (integers arrive as floats).
    """
    file_config = pack_config(stack) if stack else {}
    file_config[name] = {**file_config.get(name, {}), **settings}
    info = _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", POLICIES, EnforcementLevel.MANDATORY).GetAnalyzerInfo(
        None, None)
    _, props = policy_gate.reconcile_config(info, file_config, f"{stack}.json")[name]
    s = struct_pb2.Struct()
    s.update(props)
    return json_format.MessageToDict(s)


def violated(plan: Plan, stack: str) -> dict[str, list[str]]:
    """Every policy of the pack that reports on `plan` under the stack's pack config -> its messages."""
    found = {}
    for policy in POLICIES:
        config = engine_config(policy.name, stack)
        run = run_stack_policy if isinstance(policy, StackValidationPolicy) else run_resource_policy_over
        if messages := run(policy.name, plan, config):
            found[policy.name] = messages
    return found


def newly_violated(plan: Plan, baseline: Plan, stack: str) -> set[str]:
    return set(violated(plan, stack)) - set(violated(baseline, stack))


def gpu_pool(doc: dict[str, Any], region: str, cluster: str, pool: str) -> dict[str, Any]:
    """A GPU pool of a stack document, for a targeted change."""
    r = next(r for r in gke_of(doc)["regions"] if r["name"] == region)
    c = next(c for c in r["clusters"] if c["name"] == cluster)
    return next(p for p in c["gpu_pools"] if p["name"] == pool)


def with_inputs(plan: Plan, name: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    """`plan` with `change` applied to a copy of custom resource `name`'s inputs (a drift no config allows)."""
    resources = []
    for r in plan.resources:
        if r.custom and r.name == name:
            inputs = copy.deepcopy(r.inputs)
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    assert resources != plan.resources, name
    return dataclasses.replace(plan, resources=resources)


# --- policies as functions -------------------------------------------------------------------------


def test_private_nodes_and_control_plane(dev_plan: Plan) -> None:
    (cluster,) = [r for r in dev_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    props = copy.deepcopy(cluster.inputs)
    assert run_resource_policy("gke-private-nodes", cluster.type, props) == []
    props["privateClusterConfig"]["enablePrivateNodes"] = False
    (msg,) = run_resource_policy("gke-private-nodes", cluster.type, props)
    assert "CIS GKE Benchmark 5.6.5" in msg
    props["masterAuthorizedNetworksConfig"] = {"cidrBlocks": []}
    (msg,) = run_resource_policy("gke-control-plane-access", cluster.type, props)
    assert "authorized_networks" in msg and "5.6.3" in msg


def test_unknown_values_are_not_violations(dev_plan: Plan) -> None:
    (cluster,) = [r for r in dev_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    props = copy.deepcopy(cluster.inputs)
    props["workloadIdentityConfig"] = {"workloadPool": UNKNOWN}
    # unknown in a preview is not missing: no violation ...
    assert run_resource_policy("gke-workload-identity", cluster.type, props) == []
    # ... while a missing pool is one
    props["workloadIdentityConfig"] = {}
    assert run_resource_policy("gke-workload-identity", cluster.type, props)
    assert gke_security.workload_identity({"workloadIdentityConfig": {"workloadPool": None}}, {})


def test_node_pool_guardrails(dev_plan: Plan) -> None:
    pool = next(r for r in dev_plan.resources if r.type == "gcp:container/nodePool:NodePool"
                and r.inputs["name"] != "system")
    props = copy.deepcopy(pool.inputs)
    for name in ("gke-node-service-account", "gke-secure-boot", "gke-node-auto-repair-upgrade",
                 "gke-gpu-pool-tainted", "gpu-pool-max-nodes"):
        assert run_resource_policy(name, pool.type, props) == [], name
    props["nodeConfig"]["serviceAccount"] = "123-compute@developer.gserviceaccount.com"
    props["nodeConfig"]["taints"] = []
    props["management"]["autoUpgrade"] = False
    assert "5.2.1" in run_resource_policy("gke-node-service-account", pool.type, props)[0]
    assert run_resource_policy("gke-gpu-pool-tainted", pool.type, props)
    assert "auto-upgrade" in run_resource_policy("gke-node-auto-repair-upgrade", pool.type, props)[0]
    del props["autoscaling"]["maxNodeCount"]
    props["autoscaling"].pop("totalMaxNodeCount", None)
    assert "no maximum" in run_resource_policy("gpu-pool-max-nodes", pool.type, props)[0]


def test_security_violations_name_the_config_key_and_the_way_out(dev_plan: Plan) -> None:
    (cluster,) = [r for r in dev_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    props = copy.deepcopy(cluster.inputs)
    props["enableShieldedNodes"] = False
    (msg,) = run_resource_policy("gke-shielded-nodes", cluster.type, props)
    assert msg.startswith("gke.regions[us-central1].clusters[dev-1] does not enforce Shielded GKE Nodes.")
    assert "gke-shielded-nodes.exempt" in msg and "'dev-1'" in msg
    props["masterAuthorizedNetworksConfig"] = {"cidrBlocks": []}
    (msg,) = run_resource_policy("gke-control-plane-access", cluster.type, props)
    assert "Set gke.regions[us-central1].clusters[dev-1].authorized_networks" in msg
    pools = {r.inputs["name"]: r for r in dev_plan.resources if r.type == "gcp:container/nodePool:NodePool"}
    for name, key in (("l4", "gke.regions[us-central1].clusters[dev-1].gpu_pools[l4]"),
                      ("system", "gke.regions[us-central1].clusters[dev-1].system_pool")):
        props = copy.deepcopy(pools[name].inputs)
        props["nodeConfig"]["shieldedInstanceConfig"]["enableSecureBoot"] = False
        (msg,) = run_resource_policy("gke-secure-boot", pools[name].type, props)
        assert msg.startswith(f"{key} boots without Secure Boot."), msg


def test_nap_needs_gpu_limits() -> None:
    cluster: dict[str, Any] = {"name": "c", "clusterAutoscaling": {"enabled": True, "resourceLimits": [
        {"resourceType": "cpu", "maximum": 100}]}}
    assert caps.nap_limits(cluster)
    cluster["clusterAutoscaling"]["resourceLimits"].append({"resourceType": "nvidia-l4", "maximum": 8})
    assert caps.nap_limits(cluster) is None


def _row(**kw: Any) -> CapacityRow:
    base: dict[str, Any] = dict(platform="gke", cluster="ml-1", region="us-central1", pool="p",
                                machine_type="a3-megagpu-8g", gpu="h100-mega-80gb", accelerator="nvidia-h100-mega-80gb",
                                gpus_per_node=8, zones=["us-central1-a"], min_nodes=0, max_nodes=4, min_gpus=0,
                                max_gpus=32, spot=False, hourly_usd_per_node=10.0, source_urn="urn:p")
    base.update(kw)
    return CapacityRow(**base)


def test_quota_metric_per_machine_and_spot() -> None:
    rows = [_row(pool="mega"),
            _row(pool="h100", machine_type="a3-highgpu-8g", gpu="h100-80gb"),
            _row(pool="h100-spot", machine_type="a3-highgpu-8g", gpu="h100-80gb", spot=True, capacity="spot")]
    usage = quota.quota_usage(rows)
    assert usage[("us-central1", "NVIDIA_H100_MEGA_GPUS")].requested == 32
    assert usage[("us-central1", "NVIDIA_H100_GPUS")].requested == 32
    assert usage[("us-central1", "PREEMPTIBLE_NVIDIA_H100_GPUS")].requested == 32
    assert usage[("global", catalog.GCP_ALL_REGIONS_METRIC)].requested == 96
    (msg,) = quota.check(rows[:1], {"quotas": {"us-central1": {"NVIDIA_H100_MEGA_GPUS": 16}},
                                    "global_quotas": {"GPUS_ALL_REGIONS": 100}})
    assert msg.startswith("us-central1 NVIDIA_H100_MEGA_GPUS: 32 GPUs requested at maximum scale, granted 16.")
    assert "gke.regions[us-central1].clusters[ml-1].gpu_pools[mega]" in msg


def test_preemptible_capacity_without_preemptible_quota_counts_against_standard_quota() -> None:
    spot_pool = _row(pool="h100-spot", machine_type="a3-highgpu-8g", gpu="h100-80gb", spot=True, capacity="spot")
    flex_pool = _row(pool="h100-flex", machine_type="a3-highgpu-8g", gpu="h100-80gb", capacity="flex-start")
    on_demand = _row(pool="h100", machine_type="a3-highgpu-8g", gpu="h100-80gb", max_gpus=16)
    rows = [spot_pool, flex_pool, on_demand]
    with_preemptible = {"us-central1": {"NVIDIA_H100_GPUS": 16, "PREEMPTIBLE_NVIDIA_H100_GPUS": 64}}
    usage = quota.quota_usage(rows, with_preemptible)
    assert usage[("us-central1", "NVIDIA_H100_GPUS")].requested == 16
    assert usage[("us-central1", "PREEMPTIBLE_NVIDIA_H100_GPUS")].requested == 64
    # No preemptible quota in the region: Spot and flex-start VMs take standard quota (32 + 32 + 16).
    usage = quota.quota_usage(rows, {"us-central1": {"NVIDIA_H100_GPUS": 48}})
    assert usage[("us-central1", "NVIDIA_H100_GPUS")].requested == 80
    assert ("us-central1", "PREEMPTIBLE_NVIDIA_H100_GPUS") not in usage
    # Without the quota config (the plain capacity view) preemptible capacity stays on PREEMPTIBLE_*.
    assert quota.quota_usage(rows)[("us-central1", "PREEMPTIBLE_NVIDIA_H100_GPUS")].requested == 64
    config = {"quotas": {"us-central1": {"NVIDIA_H100_GPUS": 40}}, "global_quotas": {"GPUS_ALL_REGIONS": 100}}
    (standard,) = [m for m in quota.check(rows, config) if m.startswith("us-central1 ")]
    assert standard.startswith("us-central1 NVIDIA_H100_GPUS: 80 GPUs requested at maximum scale, granted 40.")
    assert "gpu_pools[h100-spot]" in standard and "gpu_pools[h100-flex]" in standard
    assert "set gpu-quota.quotas.us-central1.PREEMPTIBLE_NVIDIA_H100_GPUS" in standard
    assert not quota.check(rows, {"quotas": {"us-central1": {"NVIDIA_H100_GPUS": 80}},
                                  "global_quotas": {"GPUS_ALL_REGIONS": 100}})


def test_aws_quota_counts_vcpus_of_the_family() -> None:
    machine = catalog.machine_type("p5.48xlarge")
    row = _row(platform="eks", region="us-east-1", machine_type=machine.name, gpu=machine.gpu, max_nodes=2,
               max_gpus=16)
    code = catalog.aws_quota(machine, spot=False).code
    usage = quota.quota_usage([row])
    assert usage[("us-east-1", code)].requested == 2 * machine.vcpus
    assert quota.check([row], {"quotas": {"us-east-1": {code: 2 * machine.vcpus}}}) == []
    assert quota.check([row], {"quotas": {"us-east-1": {code: machine.vcpus}}})


def test_budget_and_thresholds() -> None:
    rows = [_row(max_nodes=10, hourly_usd_per_node=100.0)]  # $1,000/h = $24,000/day

    def daily(usd: float) -> StackBudget:
        return StackBudget(amounts={"daily": usd}, thresholds=[0.7, 0.9])

    assert budget.over_budget(rows, daily(20_000))
    assert budget.over_budget(rows, daily(30_000)) == []
    (warn,) = budget.past_thresholds(rows, daily(30_000))
    assert "80%" in warn and "70% warning threshold" in warn
    assert budget.past_thresholds(rows, daily(40_000)) == []
    (no_budget,) = budget.over_budget(rows, None)
    assert "no budget" in no_budget and "budgets.daily_usd" in no_budget


def test_spot_share_and_critical_pools() -> None:
    rows = [_row(pool="a", max_gpus=80, spot=True), _row(pool="b", max_gpus=20)]
    (msg,) = spot.spot_share(rows, {"max_spot_share": 0.7})
    assert "80 of 100 GPUs" in msg
    assert spot.spot_share(rows, {"max_spot_share": 0.8}) == []
    assert spot.critical_on_spot([_row(spot=True, production_critical=True)])


# --- each policy over a real stack's resources, config as the engine passes it ---------------------------


def test_gpu_quota_names_the_pool_and_the_quota_key(prod_plan: Plan, prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """prod's us-east4 l4-serve at 5 nodes per zone: 2 zones x 5 x 2 L4 = 20 GPUs against 16 granted."""
    gpu_pool(prod_doc, "us-east4", "ml-1", "l4-serve")["autoscaling"]["max_nodes"] = 5
    plan = plan_doc(prod_doc, "prod")
    assert newly_violated(plan, prod_plan, "prod") == {"gpu-quota"}
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
def test_gpu_critical_not_spot_reports_the_pool(drift: str, prod_plan: Plan) -> None:
    """The config validator refuses a critical spot pool, so the drift is made in the registered node pool."""
    plan = with_inputs(prod_plan, "us-central1-ml-1-l4-serve",
                       lambda p: p["nodeConfig"].update({drift: True}))
    assert newly_violated(plan, prod_plan, "prod") == {"gpu-critical-not-spot"}
    ((msg, urn),) = stack_policy_reports("gpu-critical-not-spot", plan, engine_config("gpu-critical-not-spot", "prod"))
    assert msg == ("ml-1/l4-serve (g2-standard-24, 9 nodes x 2 GPUs = 18 l4) is production-critical but runs on "
                   "spot capacity. Set gke.regions[us-central1].clusters[ml-1].gpu_pools[l4-serve].capacity: "
                   "on-demand, or production_critical: false.")
    assert urn is not None and urn.endswith("$gcp:container/nodePool:NodePool::us-central1-ml-1-l4-serve")
    assert stack_policy_reports("gpu-critical-not-spot", prod_plan,
                                engine_config("gpu-critical-not-spot", "prod")) == []


def test_nap_gpu_limits_on_the_registered_cluster(dev_plan: Plan, dev_doc: dict[str, Any], plan_doc: Any) -> None:
    """Auto-provisioning with cpu and memory limits only: nothing bounds the GPU nodes it may create."""
    cluster = gke_of(dev_doc)["regions"][0]["clusters"][0]
    cluster["auto_provisioning"] = {"enabled": True, "cpu_max": 64, "memory_max_gb": 256}
    plan = plan_doc(dev_doc, "dev")
    assert newly_violated(plan, dev_plan, "dev") == {"nap-gpu-limits"}
    (msg,) = run_resource_policy_over("nap-gpu-limits", plan, engine_config("nap-gpu-limits", "dev"))
    assert msg == ("gke.regions[us-central1].clusters[dev-1] has node auto-provisioning without GPU resource "
                   "limits: it could create GPU nodes of any type and number. Set "
                   "gke.regions[us-central1].clusters[dev-1].auto_provisioning.gpu_limits.")
    cluster["auto_provisioning"]["gpu_limits"] = [{"gpu": "l4", "max": 4}]
    plan = plan_doc(dev_doc, "dev")
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
def test_gke_legacy_auth_disabled(change: Callable[[dict[str, Any]], None], problem: str, dev_plan: Plan) -> None:
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
    gke_of(prod_doc)["deletion_protection"] = False
    plan = plan_doc(prod_doc, "prod")
    assert newly_violated(plan, prod_plan, "prod") == {"gke-deletion-protection"}
    required = engine_config("gke-deletion-protection", "prod")
    assert required == {"required": True, "exempt": [], "waivers": []}
    messages = run_resource_policy_over("gke-deletion-protection", plan, required)
    clusters = [(region, name) for region in ("europe-west4", "us-central1", "us-east4")
                for name in ("ml-1", "research-1", "svc-1")]
    assert messages == [f"gke.regions[{region}].clusters[{name}] has no deletion protection, which this stack "
                        "requires. Set gke.deletion_protection: true in the stack config. An accepted exception goes "
                        f"in gke-deletion-protection.exempt (the GKE name {name!r}) of the stack's policy config, "
                        "with the reason." for region, name in clusters]
    assert run_resource_policy_over("gke-deletion-protection", prod_plan, required) == []
    # dev opts out (required: false), as does the schema default; under prod's config dev-1 would be caught.
    for config in (engine_config("gke-deletion-protection", "dev"), engine_config("gke-deletion-protection")):
        assert config["required"] is False
        assert run_resource_policy_over("gke-deletion-protection", dev_plan, config) == []
    (msg,) = run_resource_policy_over("gke-deletion-protection", dev_plan, required)
    assert msg.startswith("gke.regions[us-central1].clusters[dev-1] has no deletion protection")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_policies_called_here_see_what_the_analyzer_hands_them(stack: str, request: pytest.FixtureRequest) -> None:
    """The in-process calls above (wrapping, config, component outputs) agree with the pack served over gRPC."""
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    result = policy_gate.run_pack(PACK, PACK / "config" / f"{stack}.json", plan.resources, stack=stack,
                                  project="gpu-fleet")
    over_grpc: dict[str, list[str]] = {}
    for v in result.violations:
        over_grpc.setdefault(v["policy"], []).append(v["message"])
    assert violated(plan, stack) == over_grpc
    # Both shipped stacks sit past 70% of a budget; prod's A100 production pools have no reservation; dev's
    # alerts reach no receiver (prod's do); both price GCP pools from catalog data of 2025-03-06, past the
    # 180 days gpu-price-age allows.
    advisories = {"gpu-budget-warning", "gpu-price-age"} | ({"gpu-critical-capacity-reserved"} if stack == "prod" else
                                           {"alerts-have-receivers"})
    assert set(over_grpc) == advisories


# --- the pack through the analyzer -----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_pass_the_pack(stack: str, request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    result = policy_gate.run_pack(PACK, PACK / "config" / f"{stack}.json", plan.resources, stack=stack,
                                  project="gpu-fleet")
    assert {p["name"] for p in result.policies} == {p.name for p in POLICIES}
    assert not result.mandatory_failed, result.violations


def test_seed_000_h100_pool_breaks_seed_002_quota(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """8 a3-megagpu-8g per zone x 3 zones in us-central1 = 192 H100 against 32 granted there."""
    cluster = gke_of(prod_doc)["regions"][0]["clusters"][0]
    pool = next(p for p in cluster["gpu_pools"] if p["name"] == "h100-prod")
    pool.update(zones=["us-central1-a", "us-central1-b", "us-central1-c"], compact_placement=False,
                autoscaling={"per": "zone", "min_nodes": 1, "max_nodes": 8})
    plan = plan_doc(prod_doc, "prod")
    result = policy_gate.run_pack(PACK, PACK / "config" / "prod.json", plan.resources, stack="prod",
                                  project="gpu-fleet")
    assert result.mandatory_failed
    quota_msgs = [v["message"] for v in result.violations if v["policy"] == "gpu-quota"]
    assert any("NVIDIA_H100_MEGA_GPUS: 192 GPUs requested" in m and "gpu_pools[h100-prod]" in m for m in quota_msgs)


def test_cli_exit_1_on_mandatory_violation(prod_doc: dict[str, Any], tmp_path: Path) -> None:


    cluster = gke_of(prod_doc)["regions"][0]["clusters"][0]
    pool = next(p for p in cluster["gpu_pools"] if p["name"] == "h100-prod")
    pool.update(zones=["us-central1-a", "us-central1-b", "us-central1-c"], compact_placement=False,
                autoscaling={"per": "zone", "min_nodes": 1, "max_nodes": 8})
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(yaml.safe_dump(prod_doc))
    out = tmp_path / "plan.json"
    md = tmp_path / "plan.md"
    code = cli.main(["plan", "prod", "--config", str(stack), "--policy-config", str(PACK / "config/prod.json"),
                     "--json", str(out), "--markdown", str(md)])
    assert code == 1
    doc = json.loads(out.read_text())
    assert doc["policy"]["pack"] == "gpu-fleet"
    assert any(v["policy"] == "gpu-quota" and v["level"] == "mandatory" for v in doc["policy"]["violations"])
    assert "| mandatory | [`gpu-quota`](" in md.read_text() and "docs/policies.md#gpu-quota)" in md.read_text()


@pytest.mark.parametrize(("config", "expected"), [
    ({"gpu-quotas": {}}, "gpu-quotas: no such policy in the pack"),
    ({"gpu-spot-share": {"max_spot_share": "seventy"}}, "gpu-spot-share.max_spot_share: 'seventy' is not of type"),
    ({"gpu-spot-share": {"max_spot": 0.5}}, "Additional properties are not allowed"),
    ({"gpu-budget": {"enforcementLevel": "strict"}}, "gpu-budget.enforcementLevel: not an enforcement level"),
    ({"gpu-quota": {"quotas": {"us-central1": {"NVIDIA_L4_GPUS": -1}}}}, "-1 is less than the minimum of 0"),
])
def test_bad_pack_config_is_rejected(config: dict[str, Any], expected: str, dev_plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as info:
        policy_gate.run_pack(PACK, path, dev_plan.resources[:1], stack="dev", project="gpu-fleet")
    assert any(expected in str(i) for i in info.value.issues), [str(i) for i in info.value.issues]


def test_enforcement_levels_are_overridable_per_stack(dev_plan: Plan, tmp_path: Path) -> None:
    config = pack_config("dev")
    config["gpu-quota"] = {**config["gpu-quota"], "enforcementLevel": "advisory", "quotas": {}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
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
