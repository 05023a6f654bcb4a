"""The program under mocks: what it registers, capacity arithmetic, and logical-name stability."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components import catalog
from components.capacity import HOURS_PER_MONTH, ResourceView, capacity_rows
from gpufleet.offline import SECRET, Recorded
from gpufleet.report import Plan
from tests.support.pack_configs import only_policies_copy
from tests.support.plans import ROOT, eks_provider_names, gke_of, gke_only
from tests.support.small_stacks import openshift_only


def of_type(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


def test_dev_composition(dev_plan: Plan) -> None:
    (net,) = of_type(dev_plan, "gcp:compute/network:Network")
    assert net.inputs["autoCreateSubnetworks"] is False
    assert net.inputs["routingMode"] == "REGIONAL"
    (cluster,) = of_type(dev_plan, "gcp:container/cluster:Cluster")
    i = cluster.inputs
    assert i["location"] == "us-central1"
    assert i["removeDefaultNodePool"] is True
    assert i["privateClusterConfig"]["enablePrivateNodes"] is True
    assert i["privateClusterConfig"]["masterIpv4CidrBlock"].endswith("/28")
    assert i["privateClusterConfig"]["masterGlobalAccessConfig"]["enabled"] is True
    assert i["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert i["workloadIdentityConfig"]["workloadPool"] == "acme-ml-dev.svc.id.goog"
    assert i["enableShieldedNodes"] is True
    assert i["datapathProvider"] == "ADVANCED_DATAPATH"
    assert i["verticalPodAutoscaling"]["enabled"] is True
    assert i["nodePoolDefaults"]["nodeConfigDefaults"]["gcfsConfig"]["enabled"] is True
    assert i["monitoringConfig"]["managedPrometheus"]["enabled"] is True
    assert "DCGM" in i["monitoringConfig"]["enableComponents"]
    assert i["deletionProtection"] is False
    assert i["enableLegacyAbac"] is False
    assert i["nodeConfig"]["serviceAccount"].startswith("gf-dev-1-")


def test_prod_asks_for_deletion_protection_by_config(prod_plan: Plan) -> None:
    clusters = of_type(prod_plan, "gcp:container/cluster:Cluster")
    assert len(clusters) == 9
    assert all(c.inputs["deletionProtection"] is True for c in clusters)


def test_gpu_pool_accelerator_comes_from_the_catalog(prod_plan: Plan) -> None:
    pools = [p for p in of_type(prod_plan, "gcp:container/nodePool:NodePool") if p.inputs["name"] != "system"]
    assert pools
    for pool in pools:
        nc = pool.inputs["nodeConfig"]
        machine = catalog.machine_type(nc["machineType"])
        (acc,) = nc["guestAccelerators"]
        assert acc["type"] == catalog.gpu(machine.gpu).gke_accelerator
        assert acc["count"] == machine.gpus
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in nc["taints"]
        assert nc["shieldedInstanceConfig"]["enableSecureBoot"] is True
        assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_autoscaled_node_counts_are_not_drift(dev_plan: Plan) -> None:
    for pool in of_type(dev_plan, "gcp:container/nodePool:NodePool"):
        assert {"nodeCount", "initialNodeCount"} <= set(pool.ignore_changes)


def test_the_plan_records_what_each_resource_waits_for(dev_plan: Plan) -> None:
    """Explicit `depends_on` and input dependencies both reach the engine; the plan keeps them by URN."""
    by_name = {r.name: r for r in dev_plan.resources}
    quota, ns = by_name["us-central1-dev-1-addons-quota-research"], by_name["us-central1-dev-1-addons-ns-research"]
    assert ns.urn in quota.dependencies  # depends_on
    system = by_name["us-central1-dev-1-system"]
    (cluster,) = of_type(dev_plan, "gcp:container/cluster:Cluster")
    assert cluster.urn in system.dependencies  # cluster=cluster.name
    assert quota.urn not in ns.dependencies
    assert all(r.dependencies == sorted(r.dependencies) for r in dev_plan.resources)


def test_kubeconfig_is_a_secret_everywhere(dev_plan: Plan, dev_doc: dict[str, Any]) -> None:
    providers = of_type(dev_plan, "pulumi:providers:kubernetes")
    assert all(p.inputs["kubeconfig"] == SECRET for p in providers)
    (provider,) = [p for p in providers if p.name not in eks_provider_names(dev_doc)]
    addon = next(r for r in dev_plan.resources if r.type == "kubernetes:core/v1:Namespace")
    assert addon.provider.startswith(provider.urn)


def test_per_zone_and_total_bounds(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    pools = gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"]
    pools[0].update(zones=["us-central1-a", "us-central1-b", "us-central1-c"],
                    autoscaling={"per": "zone", "min_nodes": 1, "max_nodes": 3})
    pools[1].update(autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 5})
    plan = plan_doc(gke_only(dev_doc))  # dev's GKE side: the pools are GKE's
    rows = {r.pool: r for r in plan.capacity}
    l4 = rows[pools[0]["name"]]
    machine = catalog.machine_type(pools[0]["machine_type"])
    assert (l4.min_nodes, l4.max_nodes) == (3, 9)
    assert (l4.min_gpus, l4.max_gpus) == (3 * machine.gpus, 9 * machine.gpus)
    other = rows[pools[1]["name"]]
    assert (other.min_nodes, other.max_nodes) == (0, 5)
    recorded = {r.inputs["name"]: r.inputs for r in of_type(plan, "gcp:container/nodePool:NodePool")}
    assert recorded[pools[0]["name"]]["autoscaling"]["maxNodeCount"] == 3
    assert recorded[pools[1]["name"]]["autoscaling"]["totalMaxNodeCount"] == 5


def test_capacity_reads_provider_outputs_with_both_bound_pairs(dev_plan: Plan) -> None:
    """In a real preview the stack policies see the provider's outputs: both autoscaling pairs, the unused one 0."""
    pool = next(r for r in of_type(dev_plan, "gcp:container/nodePool:NodePool")
                if r.inputs["autoscaling"].get("maxNodeCount") and r.inputs.get("nodeLocations"))
    per_zone = dict(pool.inputs["autoscaling"])
    zones = len(pool.inputs["nodeLocations"])
    as_outputs = {**pool.inputs, "autoscaling": {**per_zone, "totalMinNodeCount": 0, "totalMaxNodeCount": 0,
                                                 "locationPolicy": "BALANCED"}}
    (row,) = capacity_rows([ResourceView(pool.type, pool.urn, pool.name, as_outputs)])
    assert row.max_nodes == per_zone["maxNodeCount"] * zones > 0
    total = {**pool.inputs, "autoscaling": {"minNodeCount": 0, "maxNodeCount": 0,
                                            "totalMinNodeCount": 1, "totalMaxNodeCount": 7}}
    (row,) = capacity_rows([ResourceView(pool.type, pool.urn, pool.name, total)])
    assert (row.min_nodes, row.max_nodes) == (1, 7)


def test_boot_disk_type_is_left_to_gke_unless_set(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    """Unset, GKE picks a disk the machine supports (A3 Ultra has no Persistent Disk); set, it is passed through."""
    pools = gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"]
    pools[0]["disk_type"] = "pd-ssd"  # a G2 pool: pd-balanced or pd-ssd (G2 does not boot from Hyperdisk)
    # dev's GKE side: the pools are GKE's
    recorded = {r.inputs["name"]: r.inputs for r in of_type(plan_doc(gke_only(dev_doc)),
                                                             "gcp:container/nodePool:NodePool")}
    assert recorded[pools[0]["name"]]["nodeConfig"]["diskType"] == "pd-ssd"
    assert "diskType" not in recorded[pools[1]["name"]]["nodeConfig"]  # A3 High takes GKE's pd-balanced
    pools[1].update(machine_type="a3-ultragpu-8g", zones=["us-central1-b"], capacity="flex-start")
    recorded = {r.inputs["name"]: r.inputs for r in of_type(plan_doc(gke_only(dev_doc)),
                                                             "gcp:container/nodePool:NodePool")}
    # A3 Ultra has no Persistent Disk: the catalog's boot disk for the series, not GKE's pd-balanced default.
    assert recorded[pools[1]["name"]]["nodeConfig"]["diskType"] == "hyperdisk-balanced"


def test_cost_is_nodes_times_catalog_price(dev_plan: Plan) -> None:
    expected = 0.0
    for row in dev_plan.capacity:
        price = catalog.price(row.machine_type, row.region)
        assert price is not None
        hourly = price.spot_hourly_usd if row.spot and price.spot_hourly_usd else price.on_demand_hourly_usd
        assert row.hourly_usd_per_node == hourly
        expected += row.max_nodes * hourly
    assert dev_plan.cost.monthly_usd_max == round(expected * HOURS_PER_MONTH, 2)


def test_price_override_from_config(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    pool = gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    dev_doc["config"]["gpu-fleet:prices"] = [
        {"machine_type": pool["machine_type"], "region": "us-central1", "on_demand_hourly_usd": 1.0}]
    plan = plan_doc(gke_only(dev_doc))  # dev's GKE side: the price is a GKE pool's
    assert next(r for r in plan.capacity if r.pool == pool["name"]).hourly_usd_per_node == 1.0


def _urns(plan: Plan) -> set[str]:
    return {r.urn for r in plan.resources}


def test_adding_a_region_at_the_front_renames_nothing(dev_doc: dict[str, Any], dev_plan: Plan,
                                                       plan_doc: Any) -> None:
    # dev's one region moves from the front to second place: what a position-keyed name would change.
    regions = gke_of(dev_doc)["regions"]
    new = {"name": "us-east1", "subnet_cidr": "10.150.0.0/20", "clusters": [{
        "name": "svc-9", "class": "service", "pods_cidr": "10.152.0.0/16", "services_cidr": "10.150.16.0/20",
        "master_cidr": "172.31.0.0/28"}]}
    regions.insert(0, new)
    after = plan_doc(dev_doc, "dev")
    assert _urns(dev_plan) < _urns(after)


def test_adding_a_cluster_and_a_pool_at_the_front_renames_nothing(dev_doc: dict[str, Any], dev_plan: Plan,
                                                                   plan_doc: Any) -> None:
    clusters = gke_of(dev_doc)["regions"][0]["clusters"]
    new_cluster = copy.deepcopy(clusters[0])
    new_cluster.update(name="dev-0", pods_cidr="10.50.0.0/16", services_cidr="10.51.0.0/20",
                       master_cidr="172.16.50.0/28")
    clusters.insert(0, new_cluster)
    new_pool = copy.deepcopy(clusters[1]["gpu_pools"][0])
    new_pool["name"] = "l4-extra"
    clusters[1]["gpu_pools"].insert(0, new_pool)
    after = plan_doc(dev_doc, "dev")
    assert _urns(dev_plan) < _urns(after)


def test_entry_point_runs_as_pulumi_runs_it(tmp_path: Path) -> None:
    """From infra/ as the working directory, through runpy, importing components from the installed project."""
    script = (
        "import json, runpy, sys\n"
        "import yaml\n"
        "from gpufleet.offline import read_stack_file, run_program\n"
        "sf = read_stack_file(__import__('pathlib').Path(sys.argv[1]), 'prod')\n"
        "recorded = run_program('prod', sf.config, sf.secret_keys)\n"
        "print(len(recorded), sorted({r.type for r in recorded})[0])\n"
    )
    # prod's OpenShift side: the whole program and its imports run, without planning ~180 resources under mocks.
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text(openshift_only((ROOT / "Pulumi.prod.yaml").read_text()))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = subprocess.run([sys.executable, "-c", script, str(stack)], cwd=ROOT / "infra",
                         env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[0]) > 10


def test_dynamic_workload_scheduler_pools(dev_doc: dict[str, Any], plan_doc: Any, tmp_path: Path) -> None:
    """Flex-start and queued pools get what GKE requires of them, and still pass the guardrails."""
    from gpufleet import policy_gate

    pools = gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"]
    for name, capacity in (("h100-flex", "flex-start"), ("h100-queued", "queued")):
        pools.append({"name": name, "machine_type": "a3-highgpu-8g", "capacity": capacity,
                      "zones": ["us-central1-a"], "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 2}})
    plan = plan_doc(gke_only(dev_doc), "dev")  # dev's GKE side: the pools and the policy are GKE's
    recorded = {r.inputs["name"]: r for r in of_type(plan, "gcp:container/nodePool:NodePool")}
    for name in ("h100-flex", "h100-queued"):
        i = recorded[name].inputs
        assert i["management"] == {"autoRepair": False, "autoUpgrade": True}, name
        assert "upgradeSettings" not in i, name  # GKE applies SHORT_LIVED, the only strategy it allows
        assert i["nodeConfig"]["flexStart"] is True, name
        assert i["nodeConfig"]["reservationAffinity"]["consumeReservationType"] == "NO_RESERVATION", name
        assert i["autoscaling"]["locationPolicy"] == "ANY", name
        assert i["initialNodeCount"] == 0, name
    assert recorded["h100-queued"].inputs["queuedProvisioning"] == {"enabled": True}
    assert recorded["h100-flex"].inputs["nodeConfig"]["maxRunDuration"] == "604800s"
    assert "maxRunDuration" not in recorded["h100-queued"].inputs["nodeConfig"]
    # Ordinary pools keep auto-repair and the no-surge upgrade.
    assert recorded["l4"].inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert recorded["l4"].inputs["upgradeSettings"]["maxSurge"] == 0
    pack = ROOT / "policies"
    defaults = tmp_path / "defaults.json"  # the policy's schema defaults, the pack's other policies switched off
    defaults.write_text("{}")
    config = only_policies_copy(defaults, {"gke-node-auto-repair-upgrade"}, tmp_path)
    result = policy_gate.run_pack(pack, config, plan.resources, stack="dev", project="gpu-fleet")
    assert {p["name"] for p in result.policies if p["enforcement"] != "disabled"} == {"gke-node-auto-repair-upgrade"}
    assert not [v for v in result.violations if v["policy"] == "gke-node-auto-repair-upgrade"]


def test_the_program_never_prints_a_secret_setting() -> None:
    """Under the engine's config (secret keys marked), the program refuses the secret setting without echoing it."""
    import pulumi

    from gpufleet.offline import read_stack_file, run_program

    sf = read_stack_file(ROOT / "Pulumi.dev.yaml", "dev")
    config = {**sf.config, "gpu-fleet:labels": '{"team": "Sup3r Secret!"}'}
    try:
        run_program("dev", config, ["gpu-fleet:labels"])
    except pulumi.RunError as exc:
        message = str(exc)
    else:
        raise AssertionError("a secret gpu-fleet setting was accepted")
    assert "gpu-fleet:labels: is stored as a secret" in message and "Sup3r" not in message


def test_reordering_config_lists_changes_nothing(prod_doc: dict[str, Any], prod_plan: Plan, plan_doc: Any) -> None:
    """Regions, clusters, pools and namespaces are keyed by name: their order in the stack file is not an input."""
    regions = gke_of(prod_doc)["regions"]
    regions.reverse()
    for region in regions:
        region["clusters"].reverse()
        for cluster in region["clusters"]:
            cluster.get("gpu_pools", []).reverse()
            cluster.get("addons", {}).get("namespaces", []).reverse()
    after = plan_doc(prod_doc, "prod")
    before_inputs = {r.urn: r.inputs for r in prod_plan.resources}
    changed = sorted(r.urn.rsplit("::", 1)[1] for r in after.resources if before_inputs.get(r.urn) != r.inputs)
    assert changed == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_deployed_logical_name_changes(stack: str, request: pytest.FixtureRequest) -> None:
    """Every URN a shipped stack had stays: a changed URN is a replace (a destroyed cluster or node pool) in a
    live stack. `tests/golden/urns-STACK.txt` lists them; adding resources is fine, and an intended replace
    edits the file in the same commit, saying why."""
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    golden = (ROOT / "tests" / "golden" / f"urns-{stack}.txt").read_text().split()
    assert golden
    assert sorted(set(golden) - {r.urn for r in plan.resources}) == []
