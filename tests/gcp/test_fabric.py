"""GKE's GPU fabric: the GPU networks, node pools, cluster and objects built from the catalog, the config errors
seed 002 makes, and the VPC network quota."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import images, versions
from components.config import fabric as fabric_config
from gpufleet import cli
from gpufleet.offline import Recorded
from gpufleet.report import Plan
from infra.config import parse
from policies import quota
from tests.support.config_builders import errors
from tests.support.engine import run_stack_policy
from tests.support.fabric_docs import MEGA, NODE_POOL, _mega, _prod_values, _ultra_doc
from tests.support.k8s_schemas import manifests, validate
from tests.support.plans import ROOT, budgets_of, gke_of, stack_doc
from tests.support.small_stacks import gke_cluster, gke_region

# --- GKE: networks, node pools, cluster, objects ------------------------------------------------------------------

def _of(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
CLUSTER = "gcp:container/cluster:Cluster"


def test_prod_a3_mega_pools_get_eight_gpu_nics_on_shared_8244_networks(prod_plan: Plan) -> None:
    vpcs = {r.inputs["name"]: r for r in _of(prod_plan, NETWORK)}
    subnets = {r.inputs["name"]: r for r in _of(prod_plan, SUBNET)}
    mega = [p for p in _of(prod_plan, NODE_POOL) if p.inputs["nodeConfig"]["machineType"] == "a3-megagpu-8g"]
    assert len(mega) == 3
    used: set[str] = set()
    for pool in mega:
        nics = pool.inputs["networkConfig"]["additionalNodeNetworkConfigs"]
        assert len(nics) == 8 and len({n["network"] for n in nics}) == 8
        assert pool.inputs["nodeConfig"]["gvnic"]["enabled"] is True
        for nic in nics:
            assert vpcs[nic["network"]].inputs["mtu"] == 8244
            subnet = subnets[nic["subnetwork"]].inputs
            assert subnet["region"] == pool.inputs["location"]
            assert subnet["network"] == f"{vpcs[nic['network']].name}-id"  # the subnet is in that very VPC
            used.add(nic["network"])
    # One set of 8 networks for the family, shared by the three regions (seed 002: 10 VPC networks per project).
    assert len(used) == 8 and len(vpcs) == 9
    # Every other GPU pool keeps one NIC.
    assert all("networkConfig" not in p.inputs for p in _of(prod_plan, NODE_POOL) if p not in mega)


def test_gpu_subnets_are_distinct_and_inside_their_region_block(prod_plan: Plan) -> None:
    blocks = {r["name"]: ipaddress.ip_network(r["gpu_cidr"]) for r in gke_of(stack_doc("prod"))["regions"]}
    ranges = []
    for s in _of(prod_plan, SUBNET):
        net = ipaddress.ip_network(s.inputs["ipCidrRange"])
        ranges.append(net)
        if s.name.startswith("ml-network-gpu-"):
            assert net.subnet_of(blocks[s.inputs["region"]])  # type: ignore[arg-type]
    assert all(not a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:])


def test_gpu_vpc_firewalls_open_only_their_own_subnets(prod_plan: Plan) -> None:
    subnets_of: dict[str, list[str]] = {}
    for s in _of(prod_plan, SUBNET):
        subnets_of.setdefault(s.inputs["network"], []).append(s.inputs["ipCidrRange"])
    gpu = [f for f in _of(prod_plan, FIREWALL) if f.name.startswith("ml-network-gpu-")]
    assert len(gpu) == 8
    for rule in gpu:
        assert rule.inputs["direction"] == "INGRESS"
        assert sorted(rule.inputs["sourceRanges"]) == sorted(subnets_of[rule.inputs["network"]])


def test_clusters_with_fabric_pools_turn_on_multi_networking_on_dataplane_v2(prod_plan: Plan) -> None:
    for cluster in _of(prod_plan, CLUSTER):
        fabric = cluster.name.endswith("-ml-1")  # prod's A3 Mega pools are in the ml-1 clusters
        assert cluster.inputs.get("enableMultiNetworking") is (True if fabric else None), cluster.name
        assert cluster.inputs["datapathProvider"] == "ADVANCED_DATAPATH"


def test_dev_has_no_gpu_fabric(dev_plan: Plan) -> None:
    """dev's H100s are a3-highgpu-1g (Spot): the one-GPU shape has no GPU NICs, so nothing is added."""
    assert len(_of(dev_plan, NETWORK)) == 1
    assert not [r for r in dev_plan.resources if r.type.startswith("kubernetes:networking.gke.io")]
    assert all("enableMultiNetworking" not in c.inputs for c in _of(dev_plan, CLUSTER))


def test_network_objects_match_the_crds_and_the_created_networks(prod_plan: Plan) -> None:
    vpcs = {r.inputs["name"] for r in _of(prod_plan, NETWORK)}
    subnets = {r.inputs["name"]: r.inputs for r in _of(prod_plan, SUBNET)}
    objects = [m for m in manifests(prod_plan) if m["apiVersion"] == "networking.gke.io/v1"]
    params = {(o["metadata"]["name"]) for o in objects if o["kind"] == "GKENetworkParamSet"}
    assert len(objects) == 2 * 3 * 8
    for obj in objects:
        validate(obj)
        assert len(obj["metadata"]["name"]) <= 41 and obj["metadata"]["name"] != "default"
        if obj["kind"] == "GKENetworkParamSet":
            spec = obj["spec"]
            assert spec["vpc"] in vpcs and subnets[spec["vpcSubnet"]]["network"] == f"ml-network-gpu-" \
                f"{spec['vpc'].removeprefix('ml-network-')}-id"
            assert spec["deviceMode"] == "NetDevice"
        else:
            assert obj["spec"]["type"] == "Device" and obj["spec"]["parametersRef"]["name"] in params


def test_network_object_schema_catches_what_gpu_fleet_never_emits() -> None:
    """The reference CRDs refuse a lower-case deviceMode and a Network without type: the test can fail."""
    with pytest.raises(AssertionError):
        validate({"apiVersion": "networking.gke.io/v1", "kind": "GKENetworkParamSet", "metadata": {"name": "x"},
                  "spec": {"vpc": "v", "vpcSubnet": "s", "deviceMode": "rdma"}})
    with pytest.raises(AssertionError):
        validate({"apiVersion": "networking.gke.io/v1", "kind": "Network", "metadata": {"name": "x"},
                  "spec": {"parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet",
                                             "name": "x"}}})


def test_tcpxo_installers_per_fabric_cluster_pinned(prod_plan: Plan) -> None:
    files = {r.name: r.inputs["file"] for r in _of(prod_plan, "kubernetes:yaml/v2:ConfigFile")}
    for region in ("us-central1", "us-east4", "europe-west4"):
        assert files[f"{region}-ml-1-fabric-nccl-tcpxo-installer"] == images.manifest_file(
            versions.NCCL_TCPXO_INSTALLER)
        assert files[f"{region}-ml-1-fabric-nri-device-injector"] == images.manifest_file(
            versions.NRI_DEVICE_INJECTOR)
    assert not any("rdma" in f or "tcpx-installer" in f for f in files.values())


def test_a3_ultra_gets_a_roce_network_per_zone_without_firewall(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    doc = _ultra_doc(prod_doc)
    gke_of(doc)["regions"] = gke_of(doc)["regions"][:1]  # us-central1 alone: the region of the A3 Ultra pool
    plan = plan_doc(doc, "prod")
    roce = [n for n in _of(plan, NETWORK) if n.inputs.get("networkProfile")]
    assert [n.inputs["networkProfile"] for n in roce] == \
        ["projects/acme-ml-prod/global/networkProfiles/us-central1-b-vpc-roce"]
    assert roce[0].inputs["mtu"] == 8896
    roce_subnets = [s for s in _of(plan, SUBNET) if s.inputs["network"] == f"{roce[0].name}-id"]
    assert len(roce_subnets) == 8 and {s.inputs["region"] for s in roce_subnets} == {"us-central1"}
    assert not [f for f in _of(plan, FIREWALL) if f.inputs["network"] == f"{roce[0].name}-id"]
    (pool,) = [p for p in _of(plan, NODE_POOL) if p.inputs["nodeConfig"]["machineType"] == "a3-ultragpu-8g"]
    nics = pool.inputs["networkConfig"]["additionalNodeNetworkConfigs"]
    assert len(nics) == 9 and sum(n["network"] == roce[0].inputs["name"] for n in nics) == 8
    objects = {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "GKENetworkParamSet"
               and m["metadata"]["name"] in ("gvnic-1", *(f"rdma-{i}" for i in range(8)))}
    assert len(objects) == 9
    assert objects["gvnic-1"]["spec"]["deviceMode"] == "NetDevice"
    assert {objects[f"rdma-{i}"]["spec"]["deviceMode"] for i in range(8)} == {"RDMA"}
    files = {r.inputs["file"] for r in _of(plan, "kubernetes:yaml/v2:ConfigFile") if "us-central1-ml-1" in r.name}
    assert files == {images.manifest_file(versions.NCCL_RDMA_INSTALLER)}  # no NRI injector with RDMA


def test_adding_a_region_moves_no_gpu_subnet(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """A copy of prod's us-east4 added in front of it (us-east4 alone: its node subnet and its A3 Mega pool's 8 GPU
    subnets are the subnets a region's position could move; the others' are alike)."""
    doc = gke_region(prod_doc, "us-east4")  # the subnets compared are GCP's alone
    shipped = plan_doc(doc, "prod")  # test_policies' us-east4 baseline too
    regions = gke_of(doc)["regions"]
    new = copy.deepcopy(regions[0])
    new.update(name="us-west1", subnet_cidr="10.0.48.0/20", gpu_cidr="10.163.0.0/16")
    for i, cluster in enumerate(new["clusters"]):
        cluster.update(pods_cidr=f"10.{108 + 4 * i}.0.0/14", services_cidr=f"10.203.{16 * i}.0/20",
                       master_cidr=f"172.16.3.{16 * i}/28")
        for pool in cluster.get("gpu_pools", []):
            pool["zones"] = ["us-west1-a"]
            pool.pop("reservation", None)
    regions.insert(0, new)
    plan = plan_doc(doc, "prod")
    before = {s.urn: s.inputs["ipCidrRange"] for s in _of(shipped, SUBNET)}
    after = {s.urn: s.inputs["ipCidrRange"] for s in _of(plan, SUBNET)}
    assert len(before) == 1 + 8
    assert {u: after[u] for u in before} == before
    assert len(after) == len(before) + 1 + 8


# --- GKE: config errors (seed 002 and what the fabric needs) -------------------------------------------------------


@pytest.mark.parametrize(("fabric", "key", "expected"), [
    ({"mtu": 8896}, "fabric.mtu", "a3-megagpu-8g's GPU networks use MTU 8244; 8896 is A3 Ultra's and RoCE's"),
    ({"transport": "rdma"}, "fabric.transport", "a3-megagpu-8g's GPU fabric is GPUDirect-TCPXO over 8 gVNIC "
                                                "networks, not rdma"),
    ({"networks": 4}, "fabric.networks", "a3-megagpu-8g needs 8 extra NICs"),
    ({"nvidia_peer_memory": True}, "fabric.nvidia_peer_memory", "nothing to configure"),
    ({"gpu_direct_rdma": True}, "fabric.gpu_direct_rdma", "not a setting: GPUDirect comes from the machine type"),
])
def test_seed_002_fabric_mistakes(fabric: dict[str, Any], key: str, expected: str) -> None:
    raw = _prod_values()
    _mega(raw)["fabric"] = fabric
    (line,) = [e for e in errors(raw) if e.startswith(f"{MEGA}.{key}")]
    assert line.startswith(f"{MEGA}.{key}: {expected}") and "hint: " in line


def test_restating_the_catalog_is_accepted() -> None:
    raw = _prod_values()
    _mega(raw)["fabric"] = {"transport": "tcpxo", "networks": 8, "mtu": 8244}
    parse(raw, gcp_project="acme-ml-prod")


def test_seed_mtu_8896_on_a3_mega_exits_2_with_one_line(tmp_path: Path, prod_doc: dict[str, Any],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _mega_doc = gke_of(prod_doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    _mega_doc["fabric"] = {"mtu": 8896}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(prod_doc))
    # In-process, the CLI's own main (the console script's exit and stderr on refused input:
    # tests/config/test_strict_files.py test_errors_stay_on_one_line_when_stderr_is_not_a_terminal).
    code = cli.main(["plan", "prod", "--config", str(path), "--no-policy"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip().startswith(MEGA)]
    assert len(lines) == 1 and "MTU 8244" in lines[0]


def test_a_fabric_pool_needs_its_region_gpu_cidr_and_the_hint_names_a_free_block() -> None:
    raw = _prod_values()
    for region in raw["gke"]["regions"]:
        del region["gpu_cidr"]
    lines = [e for e in errors(raw) if ".gpu_cidr: required" in e]
    assert len(lines) == 3
    suggested = [ipaddress.ip_network(re.search(r"add gpu_cidr: (\S+)", e).group(1)) for e in lines]  # type: ignore
    assert all(not a.overlaps(b) for i, a in enumerate(suggested) for b in suggested[i + 1:])


def test_opting_out_needs_no_gpu_cidr() -> None:
    raw = _prod_values()
    for region in raw["gke"]["regions"]:
        del region["gpu_cidr"]
        for cluster in region["clusters"]:
            for pool in cluster.get("gpu_pools", []):
                if pool["machine_type"] == "a3-megagpu-8g":
                    pool["fabric"] = {"enabled": False}
    parse(raw, gcp_project="acme-ml-prod")


@pytest.mark.parametrize(("cidr", "expected"), [
    ("10.0.0.0/16", "overlaps gke.regions[us-central1].subnet_cidr"),
    ("10.161.0.0/16", "overlaps gke.regions[us-east4].gpu_cidr"),
    ("192.168.0.0/20", "the GPU block must be a /12 to /16"),
])
def test_gpu_cidr_rules(cidr: str, expected: str) -> None:
    raw = _prod_values()
    raw["gke"]["regions"][0]["gpu_cidr"] = cidr
    assert any(e.startswith(f"gke.regions[us-central1].gpu_cidr: {expected}") for e in errors(raw)), errors(raw)


def test_rdma_pool_needs_one_zone_and_a_cluster_one_fabric_family() -> None:
    raw = _prod_values()
    pool = _mega(raw)
    pool.update(machine_type="a3-ultragpu-8g", zones=["us-central1-b", "us-central1-c"], capacity="flex-start",
                reservation=None, compact_placement=False, production_critical=False,
                autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 2})
    assert any(e.startswith(f"{MEGA}.zones: a3-ultragpu-8g's RDMA NICs sit on a zonal RoCE network")
               for e in errors(raw))
    raw = _prod_values()
    pools = raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"]
    pools.append({**copy.deepcopy(pools[0]), "name": "h100-high", "machine_type": "a3-highgpu-8g", "reservation": None,
                  "production_critical": False})
    assert any("its Network object 'vpc1' would name another GPU network" in e for e in errors(raw)), errors(raw)


@pytest.mark.parametrize(("version", "expected"), [
    ("1.32", "needs at least 1.32.11-gke.1174000 on GKE 1.32"),
    ("1.31.14-gke.1000000", "needs at least 1.31.14-gke.1243000 on GKE 1.31"),
    ("1.27", "needs GKE 1.28 or later"),
    ("1.x", "not a GKE version"),
])
def test_min_master_version_against_the_fabric(version: str, expected: str) -> None:
    raw = _prod_values()
    raw["gke"]["min_master_version"] = version
    lines = [e for e in errors(raw) if e.startswith("gke.min_master_version")]
    assert len(lines) == 1 and expected in lines[0], lines


@pytest.mark.parametrize("version", ["1.32.11-gke.1174000", "1.33", "1.35.2-gke.100"])
def test_min_master_version_that_runs_tcpxo(version: str) -> None:
    raw = _prod_values()
    raw["gke"]["min_master_version"] = version
    parse(raw, gcp_project="acme-ml-prod")


def test_a_fabric_on_a_machine_without_one_is_refused() -> None:
    raw = _prod_values()
    raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"][1]["fabric"] = {"transport": "tcpxo"}
    assert any(e.startswith("gke.regions[us-central1].clusters[ml-1].gpu_pools[a100-prod].fabric: a2-megagpu-16g "
                            "has no GPU fabric") for e in errors(raw))


def test_subnet_layout_comes_from_family_nic_and_zone() -> None:
    assert fabric_config.gvnic_subnet_cidr("10.160.0.0/16", "a3-mega", 1) == "10.160.32.0/25"
    assert fabric_config.gvnic_subnet_cidr("10.160.0.0/16", "a3-mega", 8) == "10.160.35.128/25"
    assert fabric_config.rdma_subnet_cidr("10.160.0.0/16", "a3-ultra", "us-central1-b", 0) == "10.160.72.0/25"
    assert fabric_config.subnet_capacity("10.160.0.0/16") == 124


# --- quota: VPC networks --------------------------------------------------------------------------------------------

def _policy_config(stack: str) -> dict[str, Any]:
    return json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())["gpu-quota"]


def test_prod_gpu_networks_fit_seed_002s_ten_vpc_networks(prod_plan: Plan) -> None:
    config = _policy_config("prod")
    assert config["global_quotas"]["NETWORKS"] == 10
    assert not [m for m in run_stack_policy("gpu-quota", prod_plan, config) if "NETWORKS" in m]


def test_a_second_fabric_family_breaks_the_network_quota(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """A3 High beside A3 Mega: 1 + 8 + 4 = 13 VPC networks, over seed 002's 10."""
    # us-central1's ml-1 and research-1 alone: ml-1's A3 Mega pool brings the 8 GPU networks (global VPCs, shared by
    # prod's regions); its svc-1 and OpenShift bring no network.
    doc = gke_cluster(prod_doc, "us-central1", "ml-1")
    gke_of(doc)["regions"][0]["clusters"].append(copy.deepcopy(gke_of(prod_doc)["regions"][0]["clusters"][1]))
    budgets_of(doc)["teams"] = budgets_of(prod_doc)["teams"]  # research-1 holds the research team's namespace
    research = gke_of(doc)["regions"][0]["clusters"][1]
    assert research["name"] == "research-1"
    research["gpu_pools"][0].update(machine_type="a3-highgpu-8g", zones=["us-central1-b"])
    plan = plan_doc(doc, "prod")
    (message,) = [m for m in run_stack_policy("gpu-quota", plan, _policy_config("prod")) if "NETWORKS" in m]
    assert message.startswith("all regions NETWORKS: 13 VPC networks created (ml-network, ml-network-a3-high-1")
    assert "granted 10" in message and "gpu-quota.global_quotas.NETWORKS" in message
    assert quota.check_networks(["a"] * 13, {}) == []  # unchecked where no NETWORKS quota is configured
