"""Issue 23 §1, §3: the 2026 GPU machines planned end to end (or refused with the reason), and the pool rules.

One test stack (dev plus a pool per new machine family) is planned once for the module; each machine's GPUs,
accelerator, quota metric, fabric and price are read from that plan. Refusals and rule violations are exit-2 config
errors. The AWS rows are held against Karpenter's generated table (../shared/reference/aws).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import catalog
from components.capacity import pool_path
from components.catalog import Cloud, Provisioning
from components.catalog import fabric as fabric_catalog
from components.catalog.prices import UNPRICED
from components.config import ConfigError
from gpufleet import cli, docs, price_provenance
from gpufleet.report import Plan
from infra.config import parse
from policies.quota import quota_usage
from tests.support.karpenter_reference import gpu_instance_types
from tests.support.plans import stack_doc

NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_REGION, GKE_CLUSTER = "us-central1", "dev-1"
EKS_REGION, EKS_CLUSTER = "us-west-2", "dev-aws"
G4 = ("g4-standard-48", "g4-standard-96", "g4-standard-192", "g4-standard-384")
G7E = tuple(f"g7e.{s}" for s in ("2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge"))
G7 = tuple(f"g7.{s}" for s in ("2xlarge", "4xlarge", "8xlarge", "12xlarge", "24xlarge", "48xlarge"))


def _gke_pool(name: str, machine: str, zone: str, capacity: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "machine_type": machine, "zones": [zone], "capacity": capacity,
            "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 2}, **extra}


def _eks_pool(name: str, types: list[str], capacity: list[str], gpus: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "instance_types": types, "capacity_types": capacity, "gpu_limit": gpus, **extra}


def _doc() -> dict[str, Any]:
    """dev, with an A4 flex-start pool (RDMA), one spot pool per G4 size, and EKS pools of every new AWS family."""
    doc = copy.deepcopy(stack_doc("dev"))
    cfg = doc["config"]
    gke_cluster = cfg["gpu-fleet:gke"]["regions"][0]["clusters"][0]
    gke_cluster["gpu_pools"] += [_gke_pool("b200", "a4-highgpu-8g", "us-central1-b", "flex-start")]
    gke_cluster["gpu_pools"] += [_gke_pool(m.replace("-standard", ""), m, "us-central1-a", "spot") for m in G4]
    eks_cluster = cfg["gpu-fleet:eks"]["regions"][0]["clusters"][0]
    eks_cluster["gpu_pools"] += [
        _eks_pool("h100-one", ["p5.4xlarge"], ["on-demand"], 2),
        _eks_pool("b200", ["p6-b200.48xlarge"], ["on-demand"], 16, zones=["us-west-2a"], workload="training"),
        _eks_pool("b300", ["p6-b300.48xlarge"], ["on-demand"], 16),
        _eks_pool("rtx6000", list(G7E), ["spot", "on-demand"], 16),
        _eks_pool("rtx4500", list(G7), ["spot", "on-demand"], 16),
    ]
    return doc


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    path = tmp_path_factory.mktemp("catalog-2026") / "Pulumi.test.yaml"
    path.write_text(yaml.safe_dump(_doc()))
    return cli.build_plan("test", path)


def _row(plan: Plan, platform: str, pool: str) -> Any:
    (row,) = [r for r in plan.capacity if r.platform == platform and r.pool == pool]
    return row


def _manifests(plan: Plan, kind: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in plan.resources
            if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}") and "metadata" in r.inputs}


# --- GCP: A4 and G4 planned ---------------------------------------------------------------------------------------

def test_a4_pool_gets_eight_b200s_hyperdisk_and_the_rdma_fabric(plan: Plan) -> None:
    (pool,) = [r for r in plan.resources if r.type == NODE_POOL and r.inputs["name"] == "b200"]
    node = pool.inputs["nodeConfig"]
    assert node["machineType"] == "a4-highgpu-8g" and node["diskType"] == "hyperdisk-balanced"
    (acc,) = node["guestAccelerators"]
    assert (acc["type"], acc["count"]) == ("nvidia-b200", 8)
    # RDMA as A3 Ultra: one gVNIC NIC then eight RoCE NICs, on flex-start VMs.
    assert len(pool.inputs["networkConfig"]["additionalNodeNetworkConfigs"]) == 9
    assert node["flexStart"] is True
    row = _row(plan, "gke", "b200")
    assert (row.gpu, row.accelerator, row.gpus_per_node, row.fabric) == ("b200", "nvidia-b200", 8, "RDMA")


@pytest.mark.parametrize(("machine", "gpus"), list(zip(G4, (1, 2, 4, 8), strict=True)))
def test_g4_pools_get_rtx_pro_6000s_over_tcp(plan: Plan, machine: str, gpus: int) -> None:
    name = machine.replace("-standard", "")
    (pool,) = [r for r in plan.resources if r.type == NODE_POOL and r.inputs["name"] == name]
    (acc,) = pool.inputs["nodeConfig"]["guestAccelerators"]
    assert (acc["type"], acc["count"]) == ("nvidia-rtx-pro-6000", gpus)
    assert pool.inputs["nodeConfig"]["diskType"] == "hyperdisk-balanced"
    row = _row(plan, "gke", name)
    assert (row.gpu, row.gpus_per_node, row.fabric, row.spot) == ("rtx-pro-6000", gpus, "TCP", True)


def test_new_gcp_pools_count_against_their_gpus_quota_metrics(plan: Plan) -> None:
    usage = quota_usage(plan.capacity, {GKE_REGION: {"PREEMPTIBLE_NVIDIA_B200_GPUS": 64,
                                                     "PREEMPTIBLE_NVIDIA_RTX_PRO_6000_GPUS": 64}})
    # Flex-start and Spot count against the PREEMPTIBLE_ twin where it is granted; 2 nodes at most per pool.
    assert usage[(GKE_REGION, "PREEMPTIBLE_NVIDIA_B200_GPUS")].requested == 16
    assert usage[(GKE_REGION, "PREEMPTIBLE_NVIDIA_RTX_PRO_6000_GPUS")].requested == 2 * (1 + 2 + 4 + 8)
    for gpu_id in ("b200", "rtx-pro-6000", "gb200"):
        assert catalog.gpu(gpu_id).quota_verified is False  # named by pattern and public scripts, not by Google


def test_new_machines_are_priced_where_the_data_has_them_and_say_why_where_not(plan: Plan) -> None:
    # G4 from Cyclenerd's pricing.yml of 2026-07-30; p5.4xlarge, p6-b200, p6-b300 (us-west-2) from SkyPilot's vms.csv.
    priced = [("gke", "g4-48", "g4-standard-48", 1.79982), ("gke", "g4-384", "g4-standard-384", 14.39856),
              ("eks", "h100-one", "p5.4xlarge", 6.88), ("eks", "b200", "p6-b200.48xlarge", 113.9328),
              ("eks", "b300", "p6-b300.48xlarge", 142.416)]
    section = price_provenance.section(plan.capacity, plan.extra)
    assert section is not None
    shown = {r["pool"]: r for r in section.data}
    for platform, pool, machine, usd in priced:
        row = _row(plan, platform, pool)
        assert (row.machine_type, row.hourly_usd_per_node, row.price_source) == (machine, usd, "catalog")
        record = shown[pool_path(row)]  # the plan shows each pool's price source and the age of its data
        assert record["as_of"] == catalog.price(machine, row.region).as_of and record["age_days"] is not None
        assert "/blob/" in record["ref"] and record["ref"].startswith("https://github.com/")
    # A4 is in no price file read; g7e is priced in us-east-1/2 but not in us-west-2, g7 nowhere: each says why.
    for platform, pool, machine in [("gke", "b200", "a4-highgpu-8g"), ("eks", "rtx6000", "g7e.2xlarge"),
                                    ("eks", "rtx4500", "g7.2xlarge")]:
        row = _row(plan, platform, pool)
        assert row.hourly_usd_per_node is None and row.source_urn in plan.cost.unpriced_pools
        assert shown[pool_path(row)]["unpriced_reason"] == UNPRICED[machine]
    assert UNPRICED["g7e.2xlarge"].startswith("no list price in us-west-2 (priced in us-east-1, us-east-2)")
    assert catalog.price("g7e.2xlarge", "us-east-1") is not None


# --- AWS: p5.4xlarge, p6-b200, p6-b300, g7e, g7 planned ----------------------------------------------------------

def test_p6_b200_pool_gets_eight_efa_interfaces_on_eight_cards(plan: Plan) -> None:
    interfaces = _manifests(plan, "EC2NodeClass")["b200"]["spec"]["networkInterfaces"]
    efa = [i for i in interfaces if i["interfaceType"] == "efa-only"]
    assert len(efa) == 8 and sorted({i["networkCardIndex"] for i in efa}) == list(range(8))
    row = _row(plan, "eks", "b200")
    assert (row.gpu, row.accelerator, row.gpus_per_node, row.fabric) == ("b200", "b200", 8, "EFA x8")


def test_p6_b300_and_p5_4xlarge_run_without_efa_by_default(plan: Plan) -> None:
    classes = _manifests(plan, "EC2NodeClass")
    for pool, gpu, name, gpus in (("b300", "b300", "b300", 8), ("h100-one", "h100-80gb", "h100", 1)):
        assert "networkInterfaces" not in classes[pool]["spec"], pool
        row = _row(plan, "eks", pool)
        assert (row.gpu, row.accelerator, row.gpus_per_node, row.fabric) == (gpu, name, gpus, "TCP")


def test_g7e_and_g7_pools_select_their_karpenter_gpu_names(plan: Plan) -> None:
    pools = _manifests(plan, "NodePool")
    for pool, gpu_name, types in (("rtx6000", "rtx-pro-server-6000", G7E), ("rtx4500", "rtx-pro-4500", G7)):
        reqs = {r["key"]: r["values"] for r in pools[pool]["spec"]["template"]["spec"]["requirements"]}
        assert reqs["karpenter.k8s.aws/instance-gpu-name"] == [gpu_name]
        assert sorted(reqs["node.kubernetes.io/instance-type"]) == sorted(types)


def test_new_aws_pools_count_against_the_p_and_g_vcpu_quotas(plan: Plan) -> None:
    usage = quota_usage(plan.capacity)
    # On-demand P (L-417A185B) holds p5.4xlarge (16 vCPUs a GPU) and both P6 pools (24 a GPU).
    assert usage[(EKS_REGION, "L-417A185B")].requested == 2 * 16 + 16 * 24 + 16 * 24
    assert (EKS_REGION, "L-DB2E81BA") in usage and (EKS_REGION, "L-3819A6DF") in usage  # G on-demand and spot


# --- refusals and the consumption options, from the catalog ------------------------------------------------------

def _values() -> dict[str, Any]:
    return {k.split(":", 1)[1]: v for k, v in _doc()["config"].items() if k.startswith("gpu-fleet:")}


def _errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(raw, gcp_project="acme-test")
    return [str(i) for i in info.value.issues]


def _with_gke_pool(**pool: Any) -> dict[str, Any]:
    raw = _values()
    raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"].append(
        _gke_pool(pool.pop("name", "probe"), pool.pop("machine_type"), pool.pop("zone", "us-central1-b"),
                  pool.pop("capacity", "on-demand"), **pool))
    return raw


def _with_eks_pool(types: list[str], capacity: list[str], **extra: Any) -> dict[str, Any]:
    raw = _values()
    raw["eks"]["regions"][0]["clusters"][0]["gpu_pools"].append(_eks_pool("probe", types, capacity, 16, **extra))
    return raw


GKE_PROBE = f"gke.regions[{GKE_REGION}].clusters[{GKE_CLUSTER}].gpu_pools[probe]"
EKS_PROBE = f"eks.regions[{EKS_REGION}].clusters[{EKS_CLUSTER}].gpu_pools[probe]"


def test_a4x_is_refused_naming_what_gpu_fleet_does_not_provision() -> None:
    (line,) = _errors(_with_gke_pool(machine_type="a4x-highgpu-4g", reservation={"mode": "specific",
                                                                                  "name": "gb200"}))
    assert line.startswith(f"{GKE_PROBE}.machine_type: a4x-highgpu-4g (4 x NVIDIA GB200")
    for missing in ("arm64 node pools", "accelerator_topology 1x72", "DRANET", "ComputeDomains"):
        assert missing in line, missing


def test_a4_on_demand_is_refused_and_the_catalog_says_how_a4_is_sold() -> None:
    (line,) = _errors(_with_gke_pool(machine_type="a4-highgpu-8g", fabric={"enabled": False}))
    assert "a4-highgpu-8g cannot be obtained as on-demand" in line
    assert "available as: flex-start, reservation, spot" in line
    assert catalog.machine_type("a4-highgpu-8g").provisioning == {Provisioning.RESERVATION, Provisioning.SPOT,
                                                                  Provisioning.FLEX_START}
    assert catalog.machine_type("g4-standard-48").provisioning == frozenset(Provisioning)


@pytest.mark.parametrize("machine", ["g4-standard-6", "g4-standard-24"])
def test_fractional_g4_shapes_are_refused(machine: str) -> None:
    (line,) = _errors(_with_gke_pool(machine_type=machine, zone="us-central1-a", capacity="spot"))
    assert "a fractional G4 shape" in line and "g4-standard-48" in line


@pytest.mark.parametrize("machine", ["g6f.large", "g6f.4xlarge", "gr6f.4xlarge"])
def test_fractional_l4_types_are_refused_because_karpenter_reports_no_gpu(machine: str) -> None:
    (line,) = _errors(_with_eks_pool([machine], ["on-demand"]))
    assert line.startswith(f"{EKS_PROBE}.instance_types: {machine}")
    assert "instance-gpu-count 0" in line
    assert gpu_instance_types()[machine].gpu_count == 0  # what the refusal says, in Karpenter's own table


def test_p6e_gb200_without_capacity_blocks_is_refused_for_how_it_is_sold() -> None:
    (line,) = _errors(_with_eks_pool(["p6e-gb200.36xlarge"], ["on-demand"]))
    assert "sold only as EC2 Capacity Blocks for UltraServers" in line
    assert "p6e-gb200.36xlarge" not in gpu_instance_types()


def test_p6e_gb200_with_capacity_blocks_is_refused_for_what_gpu_fleet_lacks() -> None:
    (line,) = _errors(_with_eks_pool(["p6e-gb200.36xlarge"], ["reserved"], zones=["us-west-2a"],
                                     capacity_reservations=[{"id": "cr-0123456789abcdef0"}]))
    assert "not provisioned by gpu-fleet yet, even with Capacity Blocks" in line
    assert "Karpenter v1.14.1 does not list the type" in line and "ComputeDomains" in line


def test_p6_spot_is_refused_until_its_quota_is_verified() -> None:
    (line,) = _errors(_with_eks_pool(["p6-b200.48xlarge"], ["spot"], zones=["us-west-2a"]))
    assert "p6-b200.48xlarge cannot be obtained as spot" in line


def test_efa_on_p6_b300_is_refused_with_the_network_card_reason() -> None:
    (line,) = _errors(_with_eks_pool(["p6-b300.48xlarge"], ["on-demand"], efa=True, zones=["us-west-2a"]))
    assert line.startswith(f"{EKS_PROBE}.efa: p6-b300.48xlarge: its 16 EFA interfaces sit on 17 network cards")


def test_a_refused_machine_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    doc["config"]["gpu-fleet:gke"]["regions"][0]["clusters"][0]["gpu_pools"].append(
        _gke_pool("gb200", "a4x-highgpu-4g", "us-central1-b", "on-demand"))
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(yaml.safe_dump(doc))
    assert cli.main(["plan", "test", "--config", str(stack), "--json", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "a4x-highgpu-4g (4 x NVIDIA GB200" in err and "Traceback" not in err


# --- §3: compact placement and the RDMA GKE floor ----------------------------------------------------------------

def test_compact_placement_with_blue_green_upgrades_is_refused() -> None:
    errs = _errors(_with_gke_pool(machine_type="a3-megagpu-8g", zone="us-central1-a", compact_placement=True,
                                  reservation={"mode": "specific", "name": "h100"},
                                  upgrade={"strategy": "blue-green"}, fabric={"enabled": False}))
    assert errs == [f"{GKE_PROBE}.upgrade.strategy: GKE does not combine compact placement with blue-green upgrades "
                    "(got 'blue-green'); hint: use strategy: surge (the default), or set compact_placement: false"]


def test_compact_placement_with_flex_start_is_refused_on_a3_mega() -> None:
    errs = _errors(_with_gke_pool(machine_type="a3-megagpu-8g", zone="us-central1-a", capacity="flex-start",
                                  compact_placement=True, fabric={"enabled": False}))
    (line,) = [e for e in errs if ".compact_placement" in e]
    assert "only on A3 Ultra, A4 and H4D machines, not a3-megagpu-8g" in line


@pytest.mark.parametrize("machine", ["a3-ultragpu-8g", "a4-highgpu-8g"])
def test_compact_placement_with_flex_start_is_accepted_on_a3_ultra_and_a4(machine: str) -> None:
    raw = _with_gke_pool(machine_type=machine, capacity="flex-start", compact_placement=True,
                         fabric={"enabled": False})
    parse(raw, gcp_project="acme-test")


def test_the_compact_queued_hint_suggests_flex_start_only_where_gke_takes_it() -> None:
    def hint(machine: str, zone: str) -> str:
        errs = _errors(_with_gke_pool(machine_type=machine, zone=zone, capacity="queued", compact_placement=True,
                                      fabric={"enabled": False}))
        (line,) = [e for e in errs if "queued provisioning" in e]
        return line

    assert "capacity: flex-start" not in hint("a3-megagpu-8g", "us-central1-a")
    assert "capacity: flex-start" in hint("a3-ultragpu-8g", "us-central1-b")


def test_rdma_floors_come_from_the_blueprints_and_are_checked_with_min_master_version_unset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ultra, a4 = fabric_catalog.gke_fabric("a3-ultragpu-8g"), fabric_catalog.gke_fabric("a4-highgpu-8g")
    assert ultra is not None and a4 is not None
    assert (ultra.min_gke_minor, a4.min_gke_minor) == ("1.31", "1.32")
    assert fabric_catalog.CT_A3_ULTRA_FIRST in ultra.sources and fabric_catalog.CT_A4_FIRST in a4.sources
    raw = _with_gke_pool(machine_type="a4-highgpu-8g", capacity="flex-start")
    raw["gke"]["release_channel"] = "EXTENDED"
    parse(raw, gcp_project="acme-test")  # EXTENDED's oldest minor (1.32) runs A4's RDMA
    monkeypatch.setitem(fabric_catalog.GKE_OLDEST_MINOR, "EXTENDED", "1.31")
    (line,) = [e for e in _errors(raw) if e.startswith("gke.min_master_version")]
    assert "a4-highgpu-8g's GPUDirect RDMA needs GKE 1.32 or later" in line
    assert "(unset: the EXTENDED channel may run GKE 1.31)" in line


def test_a_pinned_1_33_runs_a3_ultra_now_that_the_floor_is_sourced() -> None:
    raw = _with_gke_pool(machine_type="a3-ultragpu-8g", capacity="flex-start")
    pools = raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"]
    pools[:] = [p for p in pools if p["name"] != "b200"]  # one RDMA family per cluster
    raw["gke"]["min_master_version"] = "1.33"
    parse(raw, gcp_project="acme-test")
    raw["gke"]["min_master_version"] = "1.30"
    assert any("needs GKE 1.31 or later" in e for e in _errors(raw))


# --- the catalog against Karpenter's table, and the README -------------------------------------------------------

def test_every_aws_row_matches_karpenters_reference() -> None:
    ref = gpu_instance_types()
    for m in catalog.machine_types(Cloud.AWS):
        t = ref[m.name]
        assert t.gpu_count == m.gpus and t.gpu_name == catalog.gpu(m.gpu).aws_gpu_name, m.name
        assert t.vcpus == m.vcpus and t.memory_mib == m.memory_gb * 1024, m.name
        assert t.local_nvme_gb == m.local_ssd_gb and t.efa == m.efa_interfaces, m.name


def test_gpu_instance_types_the_catalog_does_not_have_are_listed_as_data() -> None:
    known = {m.name for m in catalog.machine_types(Cloud.AWS)} | {r.name for r in catalog.REFUSED}
    missing = sorted(set(gpu_instance_types()) - known)
    # Data, not a verdict: what a catalog refresh would look at next (older G4/G5/P3 generations, gr6).
    families = sorted({name.split(".")[0] for name in missing})
    assert families == ["g4ad", "g4dn", "g5", "g5g", "gr6", "p3dn"], families
    print(json.dumps({"gpu_types_not_in_catalog": missing}))


def test_readme_catalog_table_lists_the_new_machines_and_the_refused_ones_with_the_reason() -> None:
    table = docs.catalog_table()
    a4 = next(ln for ln in table.splitlines() if ln.startswith("| `a4-highgpu-8g` |"))
    assert "8 x NVIDIA B200" in a4 and "`NVIDIA_B200_GPUS` / `PREEMPTIBLE_NVIDIA_B200_GPUS` (unverified)" in a4
    p6 = next(ln for ln in table.splitlines() if ln.startswith("| `p6-b200.48xlarge` |"))
    assert "`L-417A185B` / no spot" in p6
    for refused in catalog.REFUSED:
        row = next(ln for ln in table.splitlines() if ln.startswith(f"| `{refused.name}` |"))
        assert refused.reason in row
