"""The policy pack: each policy as a function over engine-wrapped props, and the whole pack over gRPC."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from components import catalog
from components.capacity import CapacityRow
from components.validation import ConfigError
from gpufleet import cli, policy_gate
from gpufleet.report import Plan
from policies import budget, caps, gke_security, quota, spot
from policies.pack import POLICIES
from tests.conftest import ROOT, gke_of

PACK = ROOT / "policies"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel


def engine_props(props: dict[str, Any]) -> Any:
    """Props as the analyzer hands them to a policy: through a protobuf Struct, deserialized and proxied."""
    s = struct_pb2.Struct()
    s.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(s)))


def policy_resource(typ: str, props: dict[str, Any], urn: str = "urn:x") -> PolicyResource:
    return PolicyResource(typ, engine_props(props), urn, urn.rsplit("::", 1)[-1],
                          PolicyResourceOptions(False, [], False, [], [], None, None), None, None, [], {})


def run_resource_policy(name: str, typ: str, props: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
    policy = next(p for p in POLICIES if p.name == name)
    found: list[str] = []
    args = ResourceValidationArgs(typ, engine_props(props), "urn:x", "x",
                                  PolicyResourceOptions(False, [], False, [], [], None, None), None, config)
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[attr-defined]
    return found


def run_stack_policy(name: str, plan: Plan, config: dict[str, Any]) -> list[str]:
    policy = next(p for p in POLICIES if p.name == name)
    resources = [policy_resource(r.type, r.inputs, r.urn) for r in plan.resources]
    found: list[str] = []
    policy.validate(StackValidationArgs(resources, config),  # type: ignore[attr-defined]
                    lambda message, urn=None: found.append(message))
    return found


def pack_config(stack: str) -> dict[str, Any]:
    return json.loads((PACK / "config" / f"{stack}.json").read_text())


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
    cluster = {"name": "c", "clusterAutoscaling": {"enabled": True, "resourceLimits": [
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
    assert budget.over_budget(rows, {"daily_budget_usd": 20_000})
    assert budget.over_budget(rows, {"daily_budget_usd": 30_000}) == []
    (warn,) = budget.past_thresholds(rows, {"daily_budget_usd": 30_000, "thresholds": [0.7, 0.9]})
    assert "80%" in warn and "70% warning threshold" in warn
    assert budget.past_thresholds(rows, {"daily_budget_usd": 40_000, "thresholds": [0.7, 0.9]}) == []
    (no_budget,) = budget.over_budget(rows, {})
    assert "no budget" in no_budget


def test_spot_share_and_critical_pools() -> None:
    rows = [_row(pool="a", max_gpus=80, spot=True), _row(pool="b", max_gpus=20)]
    (msg,) = spot.spot_share(rows, {"max_spot_share": 0.7})
    assert "80 of 100 GPUs" in msg
    assert spot.spot_share(rows, {"max_spot_share": 0.8}) == []
    assert spot.critical_on_spot([_row(spot=True, production_critical=True)])


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
    import yaml

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
    assert "`gpu-quota` | mandatory" in md.read_text()


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


def test_shipped_budget_configs_agree() -> None:
    for stack in ("dev", "prod"):
        cfg = pack_config(stack)
        for key in ("daily_budget_usd", "monthly_budget_usd", "prices"):
            assert cfg["gpu-budget"].get(key) == cfg["gpu-budget-warning"].get(key), (stack, key)


def test_every_policy_has_a_schema_with_defaults() -> None:
    for policy in POLICIES:
        schema = policy.config_schema
        assert schema is not None, policy.name
        assert all("default" in prop for prop in schema.properties.values()) or policy.name in (
            "gpu-budget", "gpu-budget-warning"), policy.name  # budgets have no sensible default
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
