"""`gpu-fleet fabric-check`: the NCCL check pods and MPIJobs it prints per pool, and how the plan shows each pool's
fabric."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
from typing import Any

import pytest
import yaml
from rich.console import Console

from components import catalog, images, versions
from components.catalog.fabric import (
    Transport,
)
from gpufleet import cli, fabric_check, report
from gpufleet.report import Plan
from infra.config import parse
from tests.support.config_builders import errors
from tests.support.efa_docs import EKS_POOL, _eks_pool, _eks_values, _nodeclasses, _nodepools
from tests.support.fabric_docs import MEGA, NODE_POOL, _mega, _prod_values, _ultra_doc, _without_secrets
from tests.support.k8s_schemas import manifests, validate
from tests.support.plans import ROOT, gke_of, gke_only

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
    if case != "prod":  # us-central1 alone: the pool, its cluster and the cluster's Network objects are there (the
        gke_of(doc)["regions"] = gke_of(doc)["regions"][:1]  # A3 Ultra plan is tests/gcp/test_fabric.py's too)
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
            assert container["image"] in {images.pinned(i) for i in versions.FABRIC_CHECK_IMAGES}
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


@pytest.mark.parametrize(("pool", "expected", "in_process"), [
    # The first case runs the CLI as its own process (exit code and stderr at the process boundary); the others
    # call `cli.main` in this one, which returns the same code and writes the same streams, without 2 s of imports.
    ("gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-pro]", "did you mean "
     "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]?", False),
    ("h100-prod", "not a GPU pool's config key", True),
    ("gke.regions[us-central1].clusters[ml-1].gpu_pools[l4-serve]", "g2-standard-24 pool without a GPU fabric", True),
    (f"{EKS_POOL}[l40s]", "pool without EFA", True),
])
def test_fabric_check_bad_pool_exits_2_with_one_line(pool: str, expected: str, in_process: bool,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["fabric-check", "prod", "--pool", pool]
    if in_process:
        monkeypatch.chdir(ROOT)
        code = cli.main(argv)
        out, err = capsys.readouterr()
    else:
        run = subprocess.run([sys.executable, "-m", "gpufleet.cli", *argv], capture_output=True, text=True, cwd=ROOT)
        code, out, err = run.returncode, run.stdout, run.stderr
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.splitlines()
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
    # us-central1 and us-east4: us-central1's own A3 Mega pool (TCPXO, and first by key) is still in the table.
    gke_of(doc)["regions"] = gke_of(doc)["regions"][:2]
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
