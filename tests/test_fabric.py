"""GPU fabric: the catalog's per-family facts, the GKE networks and objects built from them, EKS EFA, the fabric
check, and how the plan shows each pool's fabric."""

from __future__ import annotations

import copy
import io
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from components import catalog, images, versions
from components.aws.efa import device_plugin_values
from components.catalog.fabric import (
    EFA_FABRICS,
    GKE_FABRICS,
    OPENSHIFT_AWS_MAX_EFA_INTERFACES,
    Transport,
    efa_by_default,
    gke_fabric,
)
from components.config import fabric as fabric_config
from components.kubernetes.conventions import GPU_TAINT
from gpufleet import fabric_check, report
from gpufleet.offline import OFFLINE_SECURITY_GROUP, Recorded
from gpufleet.report import Plan
from infra.config import parse
from policies import quota
from tests.cel_rules import violations as cel_violations
from tests.cel_rules import with_defaults
from tests.conftest import REFERENCE, ROOT, gke_of, gke_only, stack_doc
from tests.test_config import errors, values
from tests.test_kubernetes_objects import crd_schemas, manifests, unknown_helm_keys, validate
from tests.test_policies import run_stack_policy

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GITHUB_AT_COMMIT = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{7,40}/")

# --- catalog ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("machine", "transport", "gvnic", "rdma", "mtu"), [
    ("a3-highgpu-8g", Transport.TCPX, 4, 0, 8244),
    ("a3-megagpu-8g", Transport.TCPXO, 8, 0, 8244),
    ("a3-ultragpu-8g", Transport.RDMA, 1, 8, 8896),
    ("a4-highgpu-8g", Transport.RDMA, 1, 8, 8896),
])
def test_gke_fabric_per_family(machine: str, transport: Transport, gvnic: int, rdma: int, mtu: int) -> None:
    fabric = gke_fabric(machine)
    assert fabric is not None
    assert (fabric.transport, fabric.gvnic_networks, fabric.rdma_subnets, fabric.gvnic_mtu) == \
        (transport, gvnic, rdma, mtu)
    assert fabric.extra_nics == gvnic + rdma == len(fabric.network_names)
    assert (fabric.rdma_mtu == 8896) == (rdma > 0)


def test_a3_mega_is_tcpxo_at_8244_not_rdma_at_8896() -> None:
    """Seed 002 asks for MTU 8896 and GPUDirect RDMA on A3 Mega; Google builds TCPXO over 8 networks at 8244."""
    fabric = gke_fabric("a3-megagpu-8g")
    assert fabric is not None
    assert fabric.transport is Transport.TCPXO and fabric.gvnic_mtu == 8244 and fabric.rdma_subnets == 0
    assert fabric.line_rate_gbps == 8 * 200


def test_machines_without_a_fabric() -> None:
    for name in ("a3-highgpu-1g", "a3-highgpu-4g", "a2-megagpu-16g", "a2-ultragpu-8g", "g2-standard-96"):
        assert gke_fabric(name) is None


def test_every_catalog_machine_of_a_fabric_family_is_an_8_gpu_gcp_machine() -> None:
    for fabric in GKE_FABRICS:
        for name in fabric.machine_types:
            machine = catalog.find_machine_type(name)
            if machine is not None:  # a4-highgpu-8g is not a catalog machine yet
                assert machine.cloud is catalog.Cloud.GCP and machine.gpus == 8


def test_network_object_names_fit_the_device_socket_limit() -> None:
    for fabric in GKE_FABRICS:
        assert all(len(n) <= 41 and n != "default" for n in fabric.network_names)
        assert len(set(fabric.network_names)) == len(fabric.network_names)


def test_minimum_gke_versions_are_of_their_minor() -> None:
    for fabric in GKE_FABRICS:
        for minor, version in fabric.min_gke.items():
            assert re.fullmatch(rf"{re.escape(minor)}\.\d+-gke\.\d+", version), version
        assert fabric.min_gke_minor >= "1.28"  # multi-networking needs GKE 1.28


@pytest.mark.parametrize(("instance", "efa"), [
    ("p5.48xlarge", 32), ("p5e.48xlarge", 32), ("p5en.48xlarge", 16), ("p4d.24xlarge", 4), ("p4de.24xlarge", 4),
])
def test_efa_by_default_on_training_instances(instance: str, efa: int) -> None:
    assert efa_by_default(instance)
    assert catalog.machine_type(instance).efa_interfaces == efa


def test_no_efa_by_default_on_g_instances() -> None:
    assert not efa_by_default("g6e.48xlarge") and not efa_by_default("g6.xlarge")


def test_openshift_exposes_one_efa_interface_per_machine() -> None:
    assert OPENSHIFT_AWS_MAX_EFA_INTERFACES == 1
    assert min(catalog.machine_type(f.instance_type).efa_interfaces
                                                  for f in EFA_FABRICS) > OPENSHIFT_AWS_MAX_EFA_INTERFACES


def test_every_fabric_fact_has_a_dated_source_pinned_where_it_is_a_repository() -> None:
    sources = [s for f in GKE_FABRICS for s in f.sources] + [s for f in EFA_FABRICS for s in f.sources]
    sources += [s for f in (*GKE_FABRICS, *EFA_FABRICS) for bar in f.nccl for s in bar.sources]
    sources += list(catalog.fabric.OPENSHIFT_EFA_SOURCES)
    for s in sources:
        assert s.url.startswith("https://") and _ISO_DATE.match(s.checked), s
        if s.url.startswith("https://github.com/"):
            assert _GITHUB_AT_COMMIT.match(s.url), f"{s.url} is not pinned to a commit"


def test_nccl_bars_name_their_basis() -> None:
    a3_mega = gke_fabric("a3-megagpu-8g")
    assert a3_mega is not None
    (bar,) = a3_mega.nccl
    assert bar.collective == "all_gather_perf" and bar.measured_gbs == 188.73 and bar.avg_floor_gbs == 30.0
    # The anchor's 188.73 GB/s is 94% of A3 Mega's 200 GB/s fabric: above seed 001's 80% of theoretical.
    assert bar.measured_gbs / (a3_mega.line_rate_gbps / 8) > 0.8
    for fabric in (*GKE_FABRICS, *EFA_FABRICS):
        for bar in fabric.nccl:
            assert bar.basis and bar.sources


def test_gpudirect_installers_are_pinned_to_a_commit() -> None:
    for url in (versions.NCCL_TCPX_INSTALLER, versions.NCCL_TCPXO_INSTALLER, versions.NRI_DEVICE_INJECTOR,
                versions.NCCL_RDMA_INSTALLER):
        match = re.fullmatch(r"https://raw\.githubusercontent\.com/GoogleCloudPlatform/container-engine-accelerators/"
                             r"([0-9a-f]{40})/[a-z_-]+/[a-z-]+\.yaml", url)
        assert match, url
    for image in (*versions.TCPX_IMAGES.values(), *versions.TCPXO_IMAGES.values(), versions.GIB_DIAGNOSTIC_IMAGE,
                  versions.NCCL_TESTS_EFA_IMAGE):
        assert not image.endswith(":latest") and re.search(r":[^/]+$", image), image


# --- GKE: networks, node pools, cluster, objects ------------------------------------------------------------------

def _of(plan: Plan, typ: str) -> list[Recorded]:
    return [r for r in plan.resources if r.type == typ]


NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
NODE_POOL = "gcp:container/nodePool:NodePool"
CLUSTER = "gcp:container/cluster:Cluster"


def _ultra_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """prod's GKE side with us-central1's A3 Mega pool turned into an A3 Ultra pool (RDMA) on flex-start."""
    doc = gke_only(doc)
    pool = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    pool.update(machine_type="a3-ultragpu-8g", zones=["us-central1-b"], capacity="flex-start", reservation=None,
                compact_placement=False, production_critical=False,
                autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 4})
    return doc


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
    plan = plan_doc(_ultra_doc(prod_doc), "prod")
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


def test_adding_a_region_moves_no_gpu_subnet(prod_doc: dict[str, Any], prod_plan: Plan, plan_doc: Any) -> None:
    doc = copy.deepcopy(prod_doc)
    regions = gke_of(doc)["regions"]
    new = copy.deepcopy(regions[1])
    new.update(name="us-west1", subnet_cidr="10.0.48.0/20", gpu_cidr="10.163.0.0/16")
    for i, cluster in enumerate(new["clusters"]):
        cluster.update(pods_cidr=f"10.{108 + 4 * i}.0.0/14", services_cidr=f"10.203.{16 * i}.0/20",
                       master_cidr=f"172.16.3.{16 * i}/28")
        for pool in cluster.get("gpu_pools", []):
            pool["zones"] = ["us-west1-a"]
            pool.pop("reservation", None)
    regions.insert(0, new)
    plan = plan_doc(doc, "prod")
    before = {s.urn: s.inputs["ipCidrRange"] for s in _of(prod_plan, SUBNET)}
    after = {s.urn: s.inputs["ipCidrRange"] for s in _of(plan, SUBNET)}
    assert {u: after[u] for u in before} == before
    assert len(after) == len(before) + 1 + 8


# --- GKE: config errors (seed 002 and what the fabric needs) -------------------------------------------------------

MEGA = "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"
_WITH_SECRETS = ("openshift", "observability", "pagerduty-", "slack-")


def _without_secrets(raw: dict[str, Any]) -> dict[str, Any]:
    """Values without the sections that refer to secrets these tests lack (OpenShift's kubeconfig, the alert
    receivers' credentials), nor the budget's references to those receivers."""
    out = {k: copy.deepcopy(v) for k, v in raw.items() if not k.startswith(_WITH_SECRETS)}
    (out.get("budgets") or {}).get("gcp", {}).pop("receivers", None)
    return out


def _prod_values() -> dict[str, Any]:
    return _without_secrets(values("prod"))


def _mega(raw: dict[str, Any]) -> dict[str, Any]:
    pool: dict[str, Any] = raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"][0]
    assert pool["machine_type"] == "a3-megagpu-8g"
    return pool


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


def test_seed_mtu_8896_on_a3_mega_exits_2_with_one_line(tmp_path: Path, prod_doc: dict[str, Any]) -> None:
    _mega_doc = gke_of(prod_doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    _mega_doc["fabric"] = {"mtu": 8896}
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(prod_doc))
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "plan", "prod", "--config", str(path), "--no-policy"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip().startswith(MEGA)]
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
    doc = gke_only(prod_doc)
    research = gke_of(doc)["regions"][0]["clusters"][1]
    research["gpu_pools"][0].update(machine_type="a3-highgpu-8g", zones=["us-central1-b"])
    plan = plan_doc(doc, "prod")
    (message,) = [m for m in run_stack_policy("gpu-quota", plan, _policy_config("prod")) if "NETWORKS" in m]
    assert message.startswith("all regions NETWORKS: 13 VPC networks created (ml-network, ml-network-a3-high-1")
    assert "granted 10" in message and "gpu-quota.global_quotas.NETWORKS" in message
    assert quota.check_networks(["a"] * 13, {}) == []  # unchecked where no NETWORKS quota is configured


# --- EKS: EFA -------------------------------------------------------------------------------------------------------

EKS_POOL = "eks.regions[us-east-1].clusters[ml-aws].gpu_pools"


def _nodeclasses(plan: Plan) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "EC2NodeClass"}


def _nodepools(plan: Plan) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "NodePool"}


@pytest.mark.parametrize(("pool", "instance", "efa"), [("h100", "p5.48xlarge", 32), ("a100", "p4d.24xlarge", 4)])
def test_efa_pools_get_one_ena_and_the_catalogs_efa_only_interfaces(prod_plan: Plan, pool: str, instance: str,
                                                                    efa: int) -> None:
    node_class = _nodeclasses(prod_plan)[pool]
    interfaces = node_class["spec"]["networkInterfaces"]
    assert efa == catalog.machine_type(instance).efa_interfaces
    assert [i for i in interfaces if i["interfaceType"] == "interface"] == \
        [{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"}]
    efa_only = [i for i in interfaces if i["interfaceType"] == "efa-only"]
    assert len(efa_only) == efa and len({i["networkCardIndex"] for i in efa_only}) == efa
    schema = crd_schemas()[("karpenter.k8s.aws/v1", "EC2NodeClass")]
    validate(node_class)
    assert not list(cel_violations(schema, with_defaults(schema, node_class)))


def test_the_ec2nodeclass_cel_rules_refuse_a_broken_efa_layout(prod_plan: Plan) -> None:
    schema = crd_schemas()[("karpenter.k8s.aws/v1", "EC2NodeClass")]
    node_class = copy.deepcopy(_nodeclasses(prod_plan)["h100"])
    node_class["spec"]["networkInterfaces"].append(
        {"networkCardIndex": 1, "deviceIndex": 1, "interfaceType": "efa-only"})
    assert any("at most one efa device per network card" in v
               for v in cel_violations(schema, with_defaults(schema, node_class)))
    node_class["spec"]["networkInterfaces"] = node_class["spec"]["networkInterfaces"][1:]
    assert any("must include a primary interface" in v
               for v in cel_violations(schema, with_defaults(schema, node_class)))


def test_efa_pools_sit_in_one_zone_and_a_cluster_placement_group(prod_plan: Plan) -> None:
    groups = {r.inputs["name"]: r.inputs for r in prod_plan.resources
              if r.type == "aws:ec2/placementGroup:PlacementGroup"}
    pools = _nodepools(prod_plan)
    for name, node_class in _nodeclasses(prod_plan).items():
        selector = node_class["spec"].get("placementGroupSelector")
        zones = next(r["values"] for r in pools[name]["spec"]["template"]["spec"]["requirements"]
                     if r["key"] == "topology.kubernetes.io/zone")
        if name == "l40s":  # g6e: no EFA by default
            assert selector is None and "networkInterfaces" not in node_class["spec"]
            continue
        if name == "cpu":  # the CPU pool (tests/test_eks_karpenter.py)
            continue
        assert zones == ["us-east-1a"]
        if name == "h100":  # reserved capacity: no group gpu-fleet creates (issue 17 W1)
            assert selector is None
            continue
        assert groups[selector["name"]]["strategy"] == "cluster"


def test_efa_security_group_allows_all_traffic_between_its_members_both_ways(prod_plan: Plan) -> None:
    (sg,) = [r for r in prod_plan.resources if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    # The EFA group's own rules (the cluster security group also admits CI's runner: tests/test_eks_access.py).
    rules = [r for r in prod_plan.resources if r.type in ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                                                        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
             and r.inputs["securityGroupId"] != OFFLINE_SECURITY_GROUP]
    assert sorted(r.type.rsplit(":", 1)[1] for r in rules) == ["SecurityGroupEgressRule", "SecurityGroupIngressRule"]
    for rule in rules:
        assert rule.inputs["ipProtocol"] == "-1"
        assert rule.inputs["securityGroupId"] == rule.inputs["referencedSecurityGroupId"] == f"{sg.name}-id"
    for name in ("h100", "a100"):
        terms = _nodeclasses(prod_plan)[name]["spec"]["securityGroupSelectorTerms"]
        assert any(all(sg.inputs["tags"].get(k) == v for k, v in t["tags"].items()) for t in terms)


def test_efa_device_plugin_runs_only_on_efa_nodes_and_tolerates_the_gpu_taint(prod_plan: Plan) -> None:
    (release,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.inputs["chart"] == versions.EFA_DEVICE_PLUGIN.chart]
    assert release.inputs["version"] == versions.EFA_DEVICE_PLUGIN.version
    reference = yaml.safe_load((REFERENCE / "charts/aws-efa-k8s-device-plugin/Chart.yaml").read_text())
    assert reference["version"] == versions.EFA_DEVICE_PLUGIN.version
    values = release.inputs["values"]
    assert values == device_plugin_values() and not unknown_helm_keys("aws-efa-k8s-device-plugin", values)
    assert {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    selector = values["nodeSelector"]
    for name, pool in _nodepools(prod_plan).items():
        labels = pool["spec"]["template"]["metadata"]["labels"]
        on_efa = all(labels.get(k) == v for k, v in selector.items())
        assert on_efa == (name in ("h100", "a100")), name
    # Every instance type the EFA pools allow is in the chart's own allow-list (its required node affinity).
    chart_types = yaml.safe_load((REFERENCE / "charts/aws-efa-k8s-device-plugin/values.yaml").read_text())[
        "supportedInstanceLabels"]["values"]
    assert {"p5.48xlarge", "p4d.24xlarge"} <= set(chart_types)


def _eks_values() -> dict[str, Any]:
    return _prod_values()


def _eks_pool(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in raw["eks"]["regions"][0]["clusters"][0]["gpu_pools"] if p["name"] == name)


def test_an_efa_pool_may_not_mix_efa_counts() -> None:
    raw = _eks_values()
    _eks_pool(raw, "h100").update(instance_types=["p5e.48xlarge", "p5en.48xlarge"], capacity_types=["reserved"])
    (line,) = errors(raw)
    assert line.startswith(f"{EKS_POOL}[h100].instance_types: an EFA pool's EC2NodeClass has one network-interface")
    assert "p5e.48xlarge 32, p5en.48xlarge 16" in line and "one pool per EFA count" in line


def test_an_efa_pool_needs_one_zone() -> None:
    raw = _eks_values()
    del _eks_pool(raw, "h100")["zones"]
    (line,) = [e for e in errors(raw) if e.startswith(f"{EKS_POOL}[h100].zones")]
    assert "one zone" in line and "zones: [us-east-1a]" in line
    _eks_pool(raw, "h100")["efa"] = False  # opting out lifts the one-zone rule
    parse(raw, gcp_project="acme-ml-prod")


def test_efa_on_an_instance_without_it_is_refused() -> None:
    raw = _eks_values()
    _eks_pool(raw, "l40s").update(instance_types=["g6e.xlarge"], efa=True, zones=["us-east-1a"])
    assert any(e.startswith(f"{EKS_POOL}[l40s].efa: g6e.xlarge has no EFA") for e in errors(raw))


def test_g6e_opts_into_efa_with_one_line() -> None:
    raw = _eks_values()
    _eks_pool(raw, "l40s").update(instance_types=["g6e.48xlarge"], efa=True, zones=["us-east-1b"])
    parse(raw, gcp_project="acme-ml-prod")


# --- the fabric check ------------------------------------------------------------------------------------------------

def _fleet(doc: dict[str, Any]) -> Any:
    raw = _without_secrets({k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("gpu-fleet:")})
    return parse(raw, gcp_project=doc["config"]["gcp:project"])


def _a3_high_doc(doc: dict[str, Any]) -> dict[str, Any]:
    doc = gke_only(doc)
    gke_of(doc)["regions"][0]["clusters"][1]["gpu_pools"][0].update(machine_type="a3-highgpu-8g",
                                                                      zones=["us-central1-b"])
    return doc


def _annotated_networks(pod: dict[str, Any]) -> list[str]:
    interfaces = json.loads(pod["metadata"]["annotations"]["networking.gke.io/interfaces"])
    assert interfaces[0] == {"interfaceName": "eth0", "network": "default"}
    assert pod["metadata"]["annotations"]["networking.gke.io/default-interface"] == "eth0"
    return [i["network"] for i in interfaces[1:]]


@pytest.mark.parametrize(("case", "pool_key", "transport", "nics"), [
    ("prod", "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]", Transport.TCPXO, 8),
    ("a3-high", "gke.regions[us-central1].clusters[research-1].gpu_pools[a100-research]", Transport.TCPX, 4),
    ("a3-ultra", "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]", Transport.RDMA, 8),
])
def test_gke_fabric_check_pods_use_the_clusters_networks(case: str, pool_key: str, transport: Transport, nics: int,
                                                         prod_doc: dict[str, Any], prod_plan: Plan,
                                                         plan_doc: Any) -> None:
    doc = {"prod": gke_only, "a3-high": _a3_high_doc, "a3-ultra": _ultra_doc}[case](prod_doc)
    plan = prod_plan if case == "prod" else plan_doc(doc, "prod")
    check = fabric_check.build(_fleet(doc).fleet, pool_key, gcp_project="acme-ml-prod")
    region, cluster, pool = re.findall(r"\[([^\]]+)\]", pool_key)
    own = {r.urn.rsplit("::", 1)[1] for r in plan.resources if r.type == "kubernetes:networking.gke.io/v1:Network"}
    networks = {m["metadata"]["name"]: m for m in manifests(plan) if m["kind"] == "Network"
                and f"{region}-{cluster}-fabric-{m['metadata']['name']}" in own}
    (node_pool,) = [r for r in plan.resources if r.type == NODE_POOL and r.name == f"{region}-{cluster}-{pool}"]
    gpus = node_pool.inputs["nodeConfig"]["guestAccelerators"][0]["count"]
    pods = [m for m in check.manifests if m["kind"] == "Pod"]
    assert len(pods) == 2 and {m["kind"] for m in check.manifests} == {"Pod", "Service"}
    for obj in check.manifests:
        validate(obj)
    for pod in pods:
        names = _annotated_networks(pod)
        assert len(names) == nics and set(names) <= set(networks), (names, sorted(networks))
        assert pod["spec"]["nodeSelector"] == {"cloud.google.com/gke-nodepool": node_pool.inputs["name"]}
        limits = [c.get("resources", {}).get("limits", {}) for c in pod["spec"]["containers"]]
        assert gpus in {lim.get("nvidia.com/gpu") for lim in limits}
        for container in pod["spec"]["containers"]:
            assert container["image"] in {*versions.TCPX_IMAGES.values(), *versions.TCPXO_IMAGES.values(),
                                          versions.GIB_DIAGNOSTIC_IMAGE}
        daemons = [k.rsplit(".", 1)[1] for k in pod["metadata"]["annotations"] if k.startswith("devices.gke.io/")]
        assert daemons == [] if transport is Transport.RDMA else daemons == [f"{transport.value.lower()}-daemon"]
        assert set(daemons) <= {c["name"] for c in pod["spec"]["containers"]}
    if transport is Transport.RDMA:
        # eth1 is the extra gVNIC (gvnic-1); the pod takes the eight RDMA NICs as eth2..eth9.
        interfaces = json.loads(pods[0]["metadata"]["annotations"]["networking.gke.io/interfaces"])
        assert [i["interfaceName"] for i in interfaces[1:]] == [f"eth{n}" for n in range(2, 10)]
        assert {networks[n]["spec"]["parametersRef"]["name"] for n in _annotated_networks(pods[0])} == \
            {f"rdma-{i}" for i in range(8)}
    assert check.expectations and check.bases and "http" in check.bases[0]


def test_a3_mega_check_must_reach_160_gbs_from_the_anchors_run(prod_doc: dict[str, Any]) -> None:
    check = fabric_check.build(_fleet(prod_doc).fleet, MEGA, gcp_project="acme-ml-prod")
    assert check.expectations[0].startswith("all_gather_perf, 8G row: busbw >= 160 GB/s")
    assert "188.73" in check.expectations[0] and "examples/gke-a3-megagpu/README.md" in check.bases[0]
    assert any("`# Avg bus bandwidth` >= 30 GB/s" in e for e in check.expectations)
    text = check.render()
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["kind"] for d in docs] == ["Service", "Service", "Pod", "Pod"]
    assert "allgather.sh nccl-host-1 nccl-host-2" in text


@pytest.mark.parametrize(("pool", "efa", "floor"), [("h100", 32, "busbw >= 300 GB/s"), ("a100", 4, "78.33")])
def test_eks_fabric_check_is_an_mpijob_asking_for_the_pools_efa(prod_doc: dict[str, Any], prod_plan: Plan,
                                                                pool: str, efa: int, floor: str) -> None:
    check = fabric_check.build(_fleet(prod_doc).fleet, f"{EKS_POOL}[{pool}]", gcp_project="acme-ml-prod")
    (job,) = check.manifests
    validate(job)  # against the reference MPIJob CRD (kubeflow/mpi-operator v0.8.0)
    node_class = _nodeclasses(prod_plan)[pool]
    efa_only = sum(i["interfaceType"] == "efa-only" for i in node_class["spec"]["networkInterfaces"])
    worker = job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]
    limits = worker["containers"][0]["resources"]["limits"]
    assert limits["vpc.amazonaws.com/efa"] == efa == efa_only
    assert worker["nodeSelector"] == {"karpenter.sh/nodepool": _nodepools(prod_plan)[pool]["metadata"]["name"]}
    taint = _nodepools(prod_plan)[pool]["spec"]["template"]["spec"]["taints"][0]
    assert any(t["key"] == taint["key"] and t["effect"] == taint["effect"] for t in worker["tolerations"])
    gpus = catalog.machine_type(_eks_pool(_eks_values(), pool)["instance_types"][0]).gpus
    assert limits["nvidia.com/gpu"] == job["spec"]["slotsPerWorker"] == gpus
    script = job["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]["command"][2]
    assert f"-np {2 * gpus} -N {gpus}" in script and "all_gather_perf" in script and "all_reduce_perf" in script
    assert any(floor in e for e in check.expectations)


def test_mpijob_schema_catches_what_gpu_fleet_never_emits(prod_doc: dict[str, Any]) -> None:
    check = fabric_check.build(_fleet(prod_doc).fleet, f"{EKS_POOL}[h100]", gcp_project="acme-ml-prod")
    job = copy.deepcopy(check.manifests[0])
    job["spec"]["slotsPerWorker"] = "eight"
    with pytest.raises(AssertionError):
        validate(job)


@pytest.mark.parametrize(("pool", "expected"), [
    ("gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-pro]", "did you mean "
     "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]?"),
    ("h100-prod", "not a GPU pool's config key"),
    ("gke.regions[us-central1].clusters[ml-1].gpu_pools[l4-serve]", "g2-standard-24 pool without a GPU fabric"),
    (f"{EKS_POOL}[l40s]", "pool without EFA"),
])
def test_fabric_check_bad_pool_exits_2_with_one_line(pool: str, expected: str) -> None:
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "fabric-check", "prod", "--pool", pool],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith("error: --pool: ") and expected in line and "hint:" in line


def test_fabric_check_prints_ready_to_apply_yaml() -> None:
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "fabric-check", "prod", "--pool", f"{EKS_POOL}[h100]"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    (job,) = [d for d in yaml.safe_load_all(run.stdout) if d]
    assert job["kind"] == "MPIJob" and run.stdout.startswith("# gpu-fleet fabric check: eks.regions[us-east-1]")


# --- the plan shows each pool's fabric ----------------------------------------------------------------------------

def test_prod_plan_shows_each_gpu_pools_fabric(prod_plan: Plan) -> None:
    fabric = {(r.platform, r.region, r.pool): r.fabric for r in prod_plan.capacity}
    for region in ("us-central1", "us-east4", "europe-west4"):
        assert fabric[("gke", region, "h100-prod")] == "TCPXO"
    assert fabric[("eks", "us-east-1", "h100")] == "EFA x32"
    assert fabric[("eks", "us-east-1", "a100")] == "EFA x4"
    assert fabric[("eks", "us-east-1", "l40s")] == "TCP"
    assert fabric[("gke", "us-central1", "a100-prod")] == "TCP"  # A2 has no GPU NICs
    buf = io.StringIO()
    report.render(prod_plan, Console(file=buf, width=250, highlight=False))
    (row,) = [ln for ln in buf.getvalue().splitlines() if "│ h100 " in ln]
    assert row.rstrip(" │").endswith("EFA x32")
    md = report.markdown(prod_plan)
    assert "| `gke.regions[us-east4].clusters[ml-1].gpu_pools[h100-prod]` | a3-megagpu-8g | 8 | 32 | TCPXO |" in md


def test_an_expensive_pool_without_its_fabric_stands_out(prod_doc: dict[str, Any], plan_doc: Any) -> None:
    """Turning A3 Mega's fabric off leaves 8 H100s per node on one NIC: the plan says TCP and lists it first."""
    doc = gke_only(prod_doc)
    gke_of(doc)["regions"][1]["clusters"][0]["gpu_pools"][0]["fabric"] = {"enabled": False}
    plan = plan_doc(doc, "prod")
    (row,) = [r for r in plan.capacity if r.region == "us-east4" and r.pool == "h100-prod"]
    assert row.fabric == "TCP" and row.gpus_per_node == 8
    md = report.markdown(plan)
    table = md[md.index("<summary>GPU fabric per pool"):].split("</details>", 1)[0].splitlines()
    first = next(ln for ln in table if ln.startswith("| `"))
    assert first == "| `gke.regions[us-east4].clusters[ml-1].gpu_pools[h100-prod]` | a3-megagpu-8g | 8 | 32 | " \
                    "TCP (a3-megagpu-8g has TCPXO: turned off) |"
    assert table.count(first) == 1 and "turned off" not in "".join(ln for ln in table if ln != first)


def test_a_pool_with_fewer_nics_than_its_family_needs_reads_tcp() -> None:
    from components.capacity import PriceBook, ResourceView, capacity_rows

    inputs = {"name": "p", "location": "us-central1", "nodeLocations": ["us-central1-a"],
              "autoscaling": {"totalMaxNodeCount": 2},
              "nodeConfig": {"machineType": "a3-megagpu-8g",
                             "guestAccelerators": [{"type": "nvidia-h100-mega-80gb", "count": 8}]},
              "networkConfig": {"additionalNodeNetworkConfigs": [{"network": "n", "subnetwork": "s"}] * 4}}
    (row,) = capacity_rows([ResourceView("gcp:container/nodePool:NodePool", "urn:p", "p", inputs)], PriceBook())
    assert row.fabric == "TCP"
    inputs["networkConfig"] = {"additionalNodeNetworkConfigs": [{"network": "n", "subnetwork": "s"}] * 8}
    (row,) = capacity_rows([ResourceView("gcp:container/nodePool:NodePool", "urn:p", "p", inputs)], PriceBook())
    assert row.fabric == "TCPXO"


def test_gpu_cidr_must_hold_the_familys_nodes() -> None:
    raw = _prod_values()
    _mega(raw)["autoscaling"] = {"per": "total", "min_nodes": 1, "max_nodes": 125}
    (line,) = [e for e in errors(raw) if e.startswith("gke.regions[us-central1].gpu_cidr")]
    assert "its a3-mega subnets hold 124 nodes each; the region's a3-mega pools may reach 125" in line
    _mega(raw)["autoscaling"]["max_nodes"] = 124
    parse(raw, gcp_project="acme-ml-prod")
