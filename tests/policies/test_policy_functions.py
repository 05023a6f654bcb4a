"""Each policy of the pack as a plain function over engine-wrapped props (no plan, no gRPC)."""

from __future__ import annotations

import copy
from typing import Any

from components import catalog
from components.capacity import CapacityRow
from components.capacity.budget import StackBudget
from gpufleet.report import Plan
from policies import budget, caps, gke_security, quota, spot
from tests.support.engine import (
    UNKNOWN,
    run_resource_policy,
)

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
