"""`gpu-fleet openshift discover` against recorded API answers served over HTTP, through the real client.

The command runs as a user would run it (a subprocess with a kubeconfig); the Kubernetes Python client builds
every request, authenticates with the kubeconfig's token and parses the answers. Only the API server is replaced.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import load_fleet
from tests.conftest import ROOT

RECORDED = json.loads((ROOT / "tests" / "fixtures" / "openshift-4.20-aws.json").read_text())["responses"]
TOKEN = "sha256~recorded-test-token"


class FakeApiServer:
    """Serves `responses` (path -> [status, body]) and records each request's path and Authorization header."""

    def __init__(self, responses: dict[str, Any]) -> None:
        self.responses = responses
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urllib.parse.unquote(self.path)  # clients differ in what they percent-encode
                outer.requests.append((path, self.headers.get("Authorization")))
                status, body = outer.responses.get(path, [404, {"kind": "Status", "code": 404,
                                                                     "reason": "NotFound"}])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "admin",
        "clusters": [{"name": "ocp-ai", "cluster": {"server": server}}],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "admin", "context": {"cluster": "ocp-ai", "user": "admin"}}],
    }))
    return path


def discover(tmp_path: Path, server: str, *extra: str) -> subprocess.CompletedProcess[str]:
    config = kubeconfig(tmp_path / "ocp-ai.kubeconfig", server)
    return subprocess.run([sys.executable, "-m", "gpufleet.cli", "openshift", "discover", "--kubeconfig",
                           str(config), *extra], capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer(copy.deepcopy(RECORDED)) as server:
        yield server


def test_discover_prints_the_config_block_the_seed_built_with_envsubst(tmp_path: Path, api: FakeApiServer) -> None:
    run = discover(tmp_path, api.url, "--name", "ocp-ai")
    assert run.returncode == 0, run.stderr
    assert all(auth == f"Bearer {TOKEN}" for _, auth in api.requests)
    assert {p.split("?")[0] for p, _ in api.requests} == {p.split("?")[0] for p in RECORDED}
    block = yaml.safe_load(run.stdout)["gpu-fleet:openshift"]
    (cluster,) = block["clusters"]
    assert cluster["infrastructure_id"] == "ocp-ai-7xk2p" and cluster["region"] == "us-east-2"
    assert cluster["version"] == "4.20"
    # The boot-image stream's AMI (what new machines should boot), not the older one in the worker sets.
    assert cluster["ami"] == "ami-0c4f1e2d3b5a69788"
    assert "differs from the worker MachineSets'" in run.stdout
    assert cluster["iam_instance_profile"] == "ocp-ai-7xk2p-worker-profile"
    assert cluster["security_groups"] == [{"filter": "ocp-ai-7xk2p-node"}, {"filter": "ocp-ai-7xk2p-lb"}]
    assert cluster["subnets"]["us-east-2b"] == {"filter": "ocp-ai-7xk2p-subnet-private-us-east-2b"}
    assert sorted(cluster["subnets"]) == ["us-east-2a", "us-east-2b", "us-east-2c"]
    assert cluster["autoscaler"] == {"mode": "create"}
    # NFD was installed by hand: gpu-fleet leaves it alone; the GPU Operator is gpu-fleet's to install.
    assert cluster["operators"] == {"nfd": {"manage": False, "channel": "stable"},
                                    "gpu_operator": {"manage": True, "channel": "v26.7"}}
    assert cluster["kubeconfig"] == {"secret": "openshift-ocp-ai-kubeconfig"}
    # Pasted into a stack with a pool, it is a valid section.
    cluster["gpu_pools"] = [{"name": "l4x1", "instance_type": "g6.4xlarge", "zones": ["us-east-2a"],
                             "autoscaling": {"max_nodes": 2}}]
    load_fleet({"environment": "prod", "openshift": block})


def test_an_existing_cluster_autoscaler_is_patched(tmp_path: Path, api: FakeApiServer) -> None:
    api.responses["/apis/autoscaling.openshift.io/v1/clusterautoscalers/default"] = [200, {
        "apiVersion": "autoscaling.openshift.io/v1", "kind": "ClusterAutoscaler", "metadata": {"name": "default"},
        "spec": {"resourceLimits": {"maxNodesTotal": 24}, "scaleDown": {"enabled": True}}}]
    run = discover(tmp_path, api.url)
    assert run.returncode == 0, run.stderr
    (cluster,) = yaml.safe_load(run.stdout)["gpu-fleet:openshift"]["clusters"]
    assert cluster["autoscaler"] == {"mode": "patch"}
    assert cluster["name"] == "ocp-ai"  # from the infrastructure id without its random suffix


def _status(api: FakeApiServer, path: str) -> dict[str, Any]:
    body: dict[str, Any] = api.responses[path][1]
    return body["status"]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda api: _status(api, "/apis/config.openshift.io/v1/infrastructures/cluster")["platformStatus"]["aws"]
     ["resourceTags"].append({"key": "red-hat-managed", "value": "true"}), "this is a ROSA cluster"),
    (lambda api: _status(api, "/apis/config.openshift.io/v1/infrastructures/cluster").update(
        platform="GCP", platformStatus={"type": "GCP"}), "gpu-fleet's OpenShift machines are AWS machines"),
    (lambda api: api.responses.pop("/apis/config.openshift.io/v1/infrastructures/cluster"), "not OpenShift"),
    (lambda api: api.responses.update({"/apis/config.openshift.io/v1/infrastructures/cluster": [
        403, {"kind": "Status", "code": 403, "reason": "Forbidden"}]}), "answered 403 Forbidden"),
])
def test_what_discover_refuses_is_one_line_and_exit_2(tmp_path: Path, api: FakeApiServer, change: Any,
                                                       expected: str) -> None:
    change(api)
    run = discover(tmp_path, api.url)
    assert run.returncode == 2, run.stderr
    assert expected in run.stderr and "Traceback" not in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.startswith("  ")]) == 1


def test_an_unreachable_cluster_or_bad_kubeconfig_is_exit_2(tmp_path: Path) -> None:
    with FakeApiServer({}) as dead:
        url = dead.url
    run = discover(tmp_path, url)
    assert run.returncode == 2 and "cannot reach the cluster's API server" in run.stderr, run.stderr
    missing = subprocess.run([sys.executable, "-m", "gpufleet.cli", "openshift", "discover", "--kubeconfig",
                              str(tmp_path / "nope")], capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "cannot use this kubeconfig" in missing.stderr
