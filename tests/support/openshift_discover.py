"""Running `gpu-fleet openshift discover` in-process against the local API server, and reading what it prints."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from gpufleet import cli
from gpufleet.openshift_discover import client
from tests.support.fake_apiserver import FakeApiServer

MACHINESET = ("machine.openshift.io/v1beta1", "MachineSet")


PACKAGE = ("packages.operators.coreos.com/v1", "PackageManifest")


KMS = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def discover(tmp_path: Path, server: FakeApiServer, *extra: str, capsys: pytest.CaptureFixture[str],
             kubeconfig_server: str | None = None, ca: Path | None = None) -> tuple[int, str, str]:
    """Run `gpu-fleet openshift discover` in-process (the CLI's own main); (exit code, stdout, stderr)."""
    config = server.kubeconfig(tmp_path / "cluster.kubeconfig", server=kubeconfig_server, ca=ca)
    code = cli.main(["openshift", "discover", "--kubeconfig", str(config), *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def block_of(stdout: str) -> dict[str, Any]:
    (cluster,) = yaml.safe_load(stdout)["gpu-fleet:openshift"]["clusters"]
    return cluster  # type: ignore[no-any-return]


def with_pool(cluster: dict[str, Any], zone: str = "us-east-2a") -> dict[str, Any]:
    cluster = copy.deepcopy(cluster)
    cluster["gpu_pools"] = [{"name": "l4x1", "instance_type": "g6.4xlarge", "zones": [zone],
                             "autoscaling": {"max_nodes": 2}}]
    return cluster


def api_client(tmp_path: Path, server: FakeApiServer) -> k8s_client.CustomObjectsApi:
    return k8s_client.CustomObjectsApi(client(str(server.kubeconfig(tmp_path / "k")), None))


def names(listing: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in listing["items"]]
