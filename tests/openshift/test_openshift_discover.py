"""`gpu-fleet openshift discover` through the real Kubernetes client against a local API server.

The server (tests/support/fake_apiserver.py) has kube-apiserver's list semantics (selectors on `metadata.labels`,
field selectors, pagination, 404/403 shapes) and serves objects in the installer's shapes, for both subnet and
security-group naming generations (tests/support/openshift_cluster.py). Only the API server is replaced: the
client builds every request, authenticates with the kubeconfig's token and parses the answers.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from components.config import load_fleet
from components.openshift.machines import machine_set
from gpufleet import cli
from tests.support.fake_apiserver import FakeApiServer
from tests.support.k8s_schemas import crd_schemas, validate
from tests.support.openshift_cluster import (
    Naming,
    cluster_autoscaler,
    installer_cluster,
    package_manifest,
)
from tests.support.openshift_discover import KMS, MACHINESET, PACKAGE, api_client, block_of, discover, names, with_pool
from tests.support.plans import ROOT

# --- the fake API server behaves as kube-apiserver does ---------------------------------------------------------

@pytest.mark.parametrize(("selector", "expected"), [
    ("machine.openshift.io/cluster-api-cluster=ocp-ai-7xk2p", {"a", "b", "c", "infra"}),
    ("machine.openshift.io/cluster-api-cluster==ocp-ai-7xk2p", {"a", "b", "c", "infra"}),
    ("team!=ml", {"b", "c", "infra"}),  # != matches objects without the key
    ("team in (ml, data)", {"a", "b"}),
    ("team notin (ml)", {"b", "c", "infra"}),
    ("team", {"a", "b"}),
    ("!team", {"c", "infra"}),
    ("team,!gpu-fleet/cluster", {"a", "b"}),
    ("machine.openshift.io/cluster-api-machine-role=worker", set()),  # the role is on the template only
])
def test_label_selectors_match_metadata_labels_as_the_api_server_does(tmp_path: Path, selector: str,
                                                                      expected: set[str]) -> None:
    objects = installer_cluster()
    for obj in objects:
        if obj["kind"] == "MachineSet" and obj["metadata"]["name"].endswith(("-2a", "-2b")) and \
                "-worker-" in obj["metadata"]["name"]:
            obj["metadata"]["labels"]["team"] = "ml" if obj["metadata"]["name"].endswith("-2a") else "data"
    with FakeApiServer(objects) as server:
        found = api_client(tmp_path, server).list_namespaced_custom_object(
            "machine.openshift.io", "v1beta1", "openshift-machine-api", "machinesets", label_selector=selector)
    short = {"ocp-ai-7xk2p-worker-us-east-2a": "a", "ocp-ai-7xk2p-worker-us-east-2b": "b",
             "ocp-ai-7xk2p-worker-us-east-2c": "c", "ocp-ai-7xk2p-infra-us-east-2a": "infra"}
    assert {short[n] for n in names(found)} == expected


def test_field_selectors_are_name_and_namespace_only(tmp_path: Path, api: FakeApiServer) -> None:
    custom = api_client(tmp_path, api)
    found = custom.list_cluster_custom_object("machine.openshift.io", "v1beta1", "machinesets",
                                              field_selector="metadata.namespace=openshift-machine-api,"
                                                             "metadata.name!=ocp-ai-7xk2p-infra-us-east-2a")
    assert len(found["items"]) == 3
    with pytest.raises(ApiException) as refused:
        custom.list_cluster_custom_object("machine.openshift.io", "v1beta1", "machinesets",
                                          field_selector="spec.replicas=1")
    assert refused.value.status == 400 and "field label not supported: spec.replicas" in str(refused.value.body)


def test_lists_come_in_pages_with_continue_tokens(tmp_path: Path, api: FakeApiServer) -> None:
    custom = api_client(tmp_path, api)
    first = custom.list_namespaced_custom_object("machine.openshift.io", "v1beta1", "openshift-machine-api",
                                                 "machinesets", limit=3)
    assert len(first["items"]) == 3 and first["metadata"]["remainingItemCount"] == 1
    rest = custom.list_namespaced_custom_object("machine.openshift.io", "v1beta1", "openshift-machine-api",
                                                "machinesets", limit=3, _continue=first["metadata"]["continue"])
    assert len(rest["items"]) == 1 and "continue" not in rest["metadata"]
    assert names(first) + names(rest) == sorted(names(first) + names(rest))  # key order, as etcd returns them
    with pytest.raises(ApiException) as refused:
        custom.list_namespaced_custom_object("machine.openshift.io", "v1beta1", "openshift-machine-api",
                                             "machinesets", limit=3, _continue="not-a-token")
    assert refused.value.status == 400 and "continue key is not valid" in str(refused.value.body)
    # OLM's packageserver ignores limit: one page, no token.
    manifests = custom.list_namespaced_custom_object("packages.operators.coreos.com", "v1", "openshift-marketplace",
                                                     "packagemanifests", limit=1)
    assert len(manifests["items"]) == 2 and "continue" not in manifests["metadata"]


def test_errors_have_the_api_servers_shapes(tmp_path: Path, api: FakeApiServer) -> None:
    custom = api_client(tmp_path, api)
    with pytest.raises(ApiException) as missing:
        custom.get_cluster_custom_object("autoscaling.openshift.io", "v1", "clusterautoscalers", "default")
    assert missing.value.status == 404
    assert 'clusterautoscalers.autoscaling.openshift.io \\"default\\" not found' in str(missing.value.body)
    api.stop_serving("autoscaling.openshift.io/v1", "ClusterAutoscaler")
    with pytest.raises(ApiException) as unknown:
        custom.get_cluster_custom_object("autoscaling.openshift.io", "v1", "clusterautoscalers", "default")
    assert unknown.value.status == 404 and unknown.value.body == "404 page not found\n"
    api.forbid("get", "infrastructures")
    with pytest.raises(ApiException) as forbidden:
        custom.get_cluster_custom_object("config.openshift.io", "v1", "infrastructures", "cluster")
    assert forbidden.value.status == 403 and 'cannot get resource \\"infrastructures\\" in API group ' \
        '\\"config.openshift.io\\" at the cluster scope' in str(forbidden.value.body)


@pytest.mark.parametrize("naming", list(Naming))
def test_the_recorded_objects_match_the_reference_crds(naming: Naming) -> None:
    objects = [*installer_cluster(naming=naming, kms_key_arn=KMS),
               cluster_autoscaler([{"type": "nvidia.com/gpu", "min": 0, "max": 16}])]
    schemas = crd_schemas()
    checked = {(o["apiVersion"], o["kind"]) for o in objects if (o["apiVersion"], o["kind"]) in schemas
               or o["apiVersion"] == "v1"}
    assert checked == {MACHINESET, ("v1", "ConfigMap"), ("operators.coreos.com/v1alpha1", "Subscription"),
                       ("autoscaling.openshift.io/v1", "ClusterAutoscaler")}
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in checked:
            validate(obj)


# --- discover on installer-shaped clusters ------------------------------------------------------------------------

@pytest.mark.parametrize(("naming", "subnet", "groups"), [
    (Naming.CAPA, "ocp-ai-7xk2p-subnet-private-us-east-2b", [{"filter": "ocp-ai-7xk2p-node"},
                                                             {"filter": "ocp-ai-7xk2p-lb"}]),
    (Naming.TERRAFORM, "ocp-ai-7xk2p-private-us-east-2b", [{"filter": "ocp-ai-7xk2p-worker-sg"}]),
])
@pytest.mark.parametrize("chunk", ["500", "1"])
def test_discover_prints_the_config_block_of_an_installer_cluster(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], naming: Naming, subnet: str,
        groups: list[dict[str, str]], chunk: str) -> None:
    installed = "4.20.8" if naming is Naming.CAPA else "4.14.30"  # an upgraded cluster keeps its names
    with FakeApiServer(installer_cluster(naming=naming, installed=installed)) as server:
        code, out, err = discover(tmp_path, server, "--name", "ocp-ai", "--chunk-size", chunk, capsys=capsys)
    assert code == 0, err
    assert all(r.authorization == f"Bearer {server.token}" for r in server.requests)
    cluster = block_of(out)
    assert cluster["infrastructure_id"] == "ocp-ai-7xk2p" and cluster["region"] == "us-east-2"
    assert cluster["version"] == "4.20"
    # The boot-image stream's AMI (what new machines should boot), not the older one in the worker sets.
    assert cluster["ami"] == "ami-0c4f1e2d3b5a69788" and "differs from the worker MachineSets'" in out
    assert cluster["iam_instance_profile"] == "ocp-ai-7xk2p-worker-profile"
    assert cluster["security_groups"] == groups
    assert cluster["subnets"]["us-east-2b"] == {"filter": subnet}
    assert sorted(cluster["subnets"]) == ["us-east-2a", "us-east-2b", "us-east-2c"]  # every page was read
    assert cluster["autoscaler"] == {"mode": "create"} and "root_volume_kms_key" not in cluster
    # NFD was installed by hand: gpu-fleet leaves it alone; the GPU Operator comes from the certified catalog.
    assert cluster["operators"] == {
        "nfd": {"manage": False, "channel": "stable", "source": "redhat-operators",
                "source_namespace": "openshift-marketplace"},
        "gpu_operator": {"manage": True, "channel": "v26.7", "source": "certified-operators",
                         "source_namespace": "openshift-marketplace"}}
    assert cluster["kubeconfig"] == {"secret": "openshift-ocp-ai-kubeconfig"}
    if chunk == "1":
        assert any("continue" in r.query for r in server.requests)
    load_fleet({"environment": "prod", "openshift": {"clusters": [with_pool(cluster)]}})


def test_subnet_ids_of_an_existing_vpc_are_copied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = {"us-east-2a": "subnet-0a1b2c3d4e5f60718", "us-east-2b": "subnet-0b1b2c3d4e5f60718",
           "us-east-2c": "subnet-0c1b2c3d4e5f60718"}
    with FakeApiServer(installer_cluster(subnet_ids=ids)) as server:
        code, out, err = discover(tmp_path, server, capsys=capsys)
    assert code == 0, err
    assert block_of(out)["subnets"] == {zone: {"id": i} for zone, i in ids.items()}


def test_gpu_fleet_and_infra_machine_sets_are_not_copied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Workers in two of us-east-2's three zones, so gpu-fleet's own set can sit in the third.
    with FakeApiServer(installer_cluster(zones=("us-east-2a", "us-east-2b"))) as api:
        # gpu-fleet's own set from an earlier `pulumi up`, made by the product code, in a zone the workers are not in.
        fleet = load_fleet({"environment": "prod", "openshift": {"clusters": [with_pool({
            "name": "ocp-ai", "kubeconfig": {"secret": "k"}, "version": "4.20", "infrastructure_id": "ocp-ai-7xk2p",
            "region": "us-east-2", "ami": "ami-0c4f1e2d3b5a69788", "iam_instance_profile": "gpu-only-profile",
            "security_groups": [{"filter": "ocp-ai-7xk2p-node"}],
            "subnets": {"us-east-2c": {"filter": "ocp-ai-7xk2p-x"}}}, zone="us-east-2c")]}})
        assert fleet.openshift is not None
        spec = fleet.openshift.clusters[0]
        api.add({"apiVersion": MACHINESET[0], "kind": MACHINESET[1],
                 **machine_set(spec, spec.gpu_pools[0], "us-east-2c", {})})
        code, out, err = discover(tmp_path, api, capsys=capsys)
        assert code == 0, err
        cluster = block_of(out)
        assert "us-east-2c" not in cluster["subnets"]
        assert cluster["iam_instance_profile"] == "ocp-ai-7xk2p-worker-profile"
        listed = [r for r in api.requests if r.path.endswith("/machinesets")]
        assert listed and all(r.query.get("labelSelector") == "!gpu-fleet/cluster" for r in listed)


def test_no_worker_machine_sets_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          api: FakeApiServer) -> None:
    for zone in ("us-east-2a", "us-east-2b", "us-east-2c"):
        api.remove(*MACHINESET, f"ocp-ai-7xk2p-worker-{zone}", "openshift-machine-api")
    code, _, err = discover(tmp_path, api, capsys=capsys)
    assert code == 2 and "no worker MachineSets in openshift-machine-api" in err


def test_the_root_volume_kms_key_is_carried(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeApiServer(installer_cluster(kms_key_arn=KMS)) as server:
        code, out, err = discover(tmp_path, server, capsys=capsys)
    assert code == 0, err
    cluster = block_of(out)
    assert cluster["root_volume_kms_key"] == KMS
    fleet = load_fleet({"environment": "prod", "openshift": {"clusters": [with_pool(cluster)]}})
    assert fleet.openshift is not None and fleet.openshift.clusters[0].root_volume_kms_key == KMS


def test_an_existing_cluster_autoscaler_keeps_other_teams_gpu_limits(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], api: FakeApiServer) -> None:
    api.add(cluster_autoscaler([{"type": "nvidia.com/gpu", "min": 0, "max": 16},
                                {"type": "amd.com/gpu", "min": 0, "max": 4},
                                {"type": "nvidia-l4", "min": 0, "max": 10}]))  # gpu-fleet's own, from a patch
    code, out, err = discover(tmp_path, api, capsys=capsys)
    assert code == 0, err
    cluster = block_of(out)
    assert cluster["autoscaler"] == {"mode": "patch", "existing_gpu_limits": [
        {"type": "nvidia.com/gpu", "min": 0, "max": 16}, {"type": "amd.com/gpu", "min": 0, "max": 4}]}
    assert cluster["name"] == "ocp-ai"  # from the infrastructure id without its random suffix
    load_fleet({"environment": "prod", "openshift": {"clusters": [with_pool(cluster)]}})


def test_a_mirrored_catalog_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str], api: FakeApiServer) -> None:
    api.remove(*PACKAGE, "gpu-operator-certified", "openshift-marketplace")
    api.add(package_manifest("gpu-operator-certified", "cs-certified-operator-index", ["v26.7"],
                             provider="NVIDIA Corporation"))
    code, out, err = discover(tmp_path, api, capsys=capsys)
    assert code == 0, err
    assert block_of(out)["operators"]["gpu_operator"]["source"] == "cs-certified-operator-index"
    listed = [r for r in api.requests if r.path.endswith("/packagemanifests")]
    assert listed and all(r.query["fieldSelector"] in ("metadata.name=gpu-operator-certified",
                                                       "metadata.name=nfd") for r in listed)


def test_without_the_packages_api_the_default_catalog_is_assumed(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 api: FakeApiServer) -> None:
    api.stop_serving(*PACKAGE)
    code, out, err = discover(tmp_path, api, capsys=capsys)
    assert code == 0, err
    assert block_of(out)["operators"]["gpu_operator"]["source"] == "certified-operators"
    assert "gpu-operator-certified channel v26.7: no catalog offers it" in out


def test_a_packages_api_that_is_down_is_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                api: FakeApiServer) -> None:
    api.fail("packagemanifests", 503, "the server is currently unable to handle the request")
    code, out, err = discover(tmp_path, api, capsys=capsys)
    assert code == 0, err
    assert block_of(out)["operators"]["gpu_operator"]["source"] == "certified-operators"
    assert "the packages API answered 503" in out


# --- what discover refuses ----------------------------------------------------------------------------------------

def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err and "invalid configuration" not in err, err
    return lines[0]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda api: api.get("config.openshift.io/v1", "Infrastructure", "cluster")["status"]["platformStatus"]["aws"]
     ["resourceTags"].append({"key": "red-hat-managed", "value": "true"}), "this is a ROSA cluster"),
    (lambda api: api.get("config.openshift.io/v1", "Infrastructure", "cluster")["status"].update(
        platform="GCP", platformStatus={"type": "GCP"}), "gpu-fleet's OpenShift machines are AWS machines"),
    (lambda api: api.stop_serving("config.openshift.io/v1", "Infrastructure"), "not OpenShift"),
])
def test_what_discover_refuses_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       api: FakeApiServer, change: Any, expected: str) -> None:
    change(api)
    code, _, err = discover(tmp_path, api, capsys=capsys)
    assert code == 2 and expected in _one_error(err)


@pytest.mark.parametrize(("verb", "plural", "namespace", "expected"), [
    ("get", "infrastructures", None, "may not get infrastructures.config.openshift.io at the cluster scope"),
    ("list", "machinesets", "openshift-machine-api",
     "may not list machinesets.machine.openshift.io in namespace openshift-machine-api"),
    ("list", "subscriptions", None, "may not list subscriptions.operators.coreos.com in all namespaces"),
])
def test_a_missing_permission_names_the_verb_and_resource(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          api: FakeApiServer, verb: str, plural: str,
                                                          namespace: str | None, expected: str) -> None:
    api.forbid(verb, plural, namespace)
    code, _, err = discover(tmp_path, api, capsys=capsys)
    line = _one_error(err)
    assert code == 2 and expected in line and "403 Forbidden" in line


def test_refused_credentials_say_log_in_again(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              api: FakeApiServer) -> None:
    config = api.kubeconfig(tmp_path / "k")
    config.write_text(config.read_text().replace(api.token, "sha256~expired"))
    code = cli.main(["openshift", "discover", "--kubeconfig", str(config)])
    line = _one_error(capsys.readouterr().err)
    assert code == 2 and "401 Unauthorized" in line and "oc login" in line and "expired" not in line


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) and never answers: a request times out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def test_an_unreachable_cluster_is_reported_as_that(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     silent_server: str, self_signed: tuple[Path, Path]) -> None:
    cases = [(f"http://127.0.0.1:{_refused_port()}", "connection was refused", "VPN"),
             ("https://api.ocp-ai.invalid:6443", "does not resolve (DNS)", "VPN"),
             (silent_server, "timed out", "--timeout"),
             (None, "TLS failed", "certificate-authority-data")]
    with FakeApiServer(installer_cluster(), tls=self_signed) as server:
        for address, what, hint in cases:
            code, _, err = discover(tmp_path, server, "--timeout", "1", capsys=capsys, kubeconfig_server=address)
            line = _one_error(err)
            assert code == 2 and "cannot reach the cluster's API server" in line and what in line, line
            assert hint in line.split("hint:")[1]
        assert server.requests == []  # the TLS handshake failed before any request


def test_discover_works_over_tls_with_the_kubeconfigs_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         self_signed: tuple[Path, Path]) -> None:
    with FakeApiServer(installer_cluster(), tls=self_signed) as server:
        code, out, err = discover(tmp_path, server, capsys=capsys, ca=self_signed[0])
    assert code == 0 and block_of(out)["infrastructure_id"] == "ocp-ai-7xk2p", err


def test_a_bad_name_is_refused_before_any_connection(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     api: FakeApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("discover connected before checking --name")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", no_connection)
    code, _, err = discover(tmp_path, api, "--name", "OCP_AI", capsys=capsys)
    line = _one_error(err)
    assert code == 2 and line.startswith("error: openshift discover: --name: not a valid gpu-fleet cluster name")
    assert api.requests == []


def test_a_bad_kubeconfig_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["openshift", "discover", "--kubeconfig", str(tmp_path / "nope")])
    assert code == 2 and "--kubeconfig: no such file" in _one_error(capsys.readouterr().err)


def test_discover_help_shows_its_own_exit_codes() -> None:
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "openshift", "discover", "--help"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0
    assert "cannot be reached" in run.stdout and "--name that is no gpu-fleet" in run.stdout
    assert "mandatory policy" not in run.stdout  # not the plan's codes


def test_discover_runs_as_a_user_runs_it(tmp_path: Path, api: FakeApiServer) -> None:
    config = api.kubeconfig(tmp_path / "ocp-ai.kubeconfig")
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "openshift", "discover", "--kubeconfig",
                          str(config)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert block_of(run.stdout)["name"] == "ocp-ai"
    assert {r.path for r in api.requests} >= {"/apis/config.openshift.io/v1/infrastructures/cluster",
                                               "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/"
                                               "machinesets"}
