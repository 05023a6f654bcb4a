"""Runs the real gpu-fleet program under `pulumi.runtime.set_mocks` and records every registered resource.

No CLI, cloud or credentials are involved: the Pulumi SDK registers resources with a mock monitor that
answers with the inputs as outputs (plus placeholders for the few values only a cloud can know, such as
a cluster endpoint). What is recorded is exactly what the program asked for, as the engine would see it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import os
import runpy
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.capacity import ResourceView
from gpufleet.stack_file import SECRET
from gpufleet.stack_file import StackFile as StackFile  # re-exported: the stack file was read here before
from gpufleet.stack_file import read_stack_file as read_stack_file
from gpufleet.stack_file import unset_secrets as unset_secrets
from infra import config as infra_config

UNKNOWN = "[unknown]"
PLACEHOLDERS: dict[str, dict[str, Any]] = {
    # Values a cloud computes; the plan needs something to build a kubeconfig from.
    "gcp:container/cluster:Cluster": {"endpoint": "192.0.2.10",
                                      "masterAuth": {"clusterCaCertificate": "b2ZmbGluZS1wbGFu"}},
    "aws:eks/cluster:Cluster": {"endpoint": "https://offline-plan.eks.example",
                                "certificateAuthority": {"data": "b2ZmbGluZS1wbGFu"},
                                "identities": [{"oidcs": [{"issuer": "https://oidc.offline-plan.example"}]}]},
    "aws:sqs/queue:Queue": {"url": "https://sqs.offline-plan.example/000000000000/queue"},
    # EC2 numbers a launch template's versions from 1.
    "aws:ec2/launchTemplate:LaunchTemplate": {"latestVersion": 1, "defaultVersion": 1},
}
OFFLINE_ACCOUNT = "000000000000"
"""The AWS account id the offline plan reports (aws:getCallerIdentity); a real preview asks AWS."""
OFFLINE_SECURITY_GROUP = "sg-0offlineplan0000"
"""The security group EKS creates for a cluster, as the offline plan names it."""


CALL_PLACEHOLDERS = {
    # Data sources a cloud answers; the plan needs a value of the right form (GKE's service agent is
    # service-<project number>@container-engine-robot.iam.gserviceaccount.com).
    "gcp:organizations/getProject:getProject": {"number": "000000000000"},
    "aws:index/getCallerIdentity:getCallerIdentity": {
        "accountId": "000000000000", "arn": "arn:aws:iam::000000000000:user/offline-plan", "id": "000000000000",
        "userId": "offline-plan"},
}


SESSION_CONTEXT = "aws:iam/getSessionContext:getSessionContext"


def session_context(arn: str) -> dict[str, Any]:
    """aws:iam/getSessionContext as AWS answers it.

    An assumed-role session's issuer is its role, a user or role ARN passes through
    (terraform-provider-aws `data_source_session_context`, which splits
    `arn:aws:sts::<account>:assumed-role/<role>/<session>`; a role's path comes from iam:GetRole, which the
    offline plan cannot call, so it stays off).
    """
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        _, role, session = parts[5].split("/", 2)
        issuer = f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        return {"arn": arn, "issuerArn": issuer, "issuerId": "", "issuerName": role, "sessionName": session}
    return {"arn": arn, "issuerArn": arn, "issuerId": "", "issuerName": arn.rsplit("/", 1)[-1], "sessionName": ""}


@dataclass(frozen=True)
class Recorded:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    """URNs the resource was registered depending on (`depends_on`, and what its inputs came from)."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """A component's registered outputs (custom resources' outputs are cloud-made and not simulated)."""

    @property
    def properties(self) -> dict[str, Any]:
        """What the policy engine sees: a custom resource's inputs (in a preview), a component's outputs."""
        return self.inputs if self.custom else self.outputs

    def view(self) -> ResourceView:
        return ResourceView(self.type, self.urn, self.name, self.properties)


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self) -> None:
        # The SDK registers from a thread pool; each RegisterResource calls new_resource on its own thread.
        self._local = threading.local()

    @property
    def last_inputs(self) -> dict[str, Any]:
        return self._local.inputs  # type: ignore[no-any-return]

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self._local.inputs = args.inputs
        state = dict(args.inputs)
        state.update(PLACEHOLDERS.get(args.typ, {}))
        if args.typ == "gcp:serviceaccount/account:Account":
            state["email"] = f"{args.inputs.get('accountId')}@{args.inputs.get('project')}.iam.gserviceaccount.com"
        if args.typ == "gcp:container/cluster:Cluster":
            # GKE names the DNS endpoint after the cluster's uid; the plan only needs a host of that form.
            dns = dict((state.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {})
            dns["endpoint"] = f"gke-{args.name}-offline-plan.{args.inputs.get('location')}.gke.goog"
            state["controlPlaneEndpointsConfig"] = {**(state.get("controlPlaneEndpointsConfig") or {}),
                                                    "dnsEndpointConfig": dns}
        if args.typ.startswith("aws:"):
            # AWS names what it creates: auto-named resources get their logical name, and an ARN built from it.
            state.setdefault("name", args.name)
            state.setdefault("arn", f"arn:aws:offline-plan::{OFFLINE_ACCOUNT}:{args.typ.split(':')[1]}/{args.name}")
        if args.typ == "aws:eks/cluster:Cluster":
            state["vpcConfig"] = {**(args.inputs.get("vpcConfig") or {}),
                                  "clusterSecurityGroupId": OFFLINE_SECURITY_GROUP}
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == SESSION_CONTEXT:
            return session_context(str(args.args.get("arn") or "")), []
        return CALL_PLACEHOLDERS.get(args.token, {}), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks) -> None:
        super().__init__(mocks)
        self._mocks = mocks
        self.recorded: list[Recorded] = []
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(Recorded(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                provider=request.provider,
                inputs=_plain(self._mocks.last_inputs),
                ignore_changes=list(request.ignoreChanges),
                dependencies=sorted(set(request.dependencies)),
            ))
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.outputs[request.urn] = _plain(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)


def _plain(value: Any) -> Any:
    """Registered inputs as JSON-safe data, with secrets and unknowns masked."""
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, pulumi.output.Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def program_dir() -> Path:
    spec = importlib.util.find_spec("infra")
    if spec is None or spec.origin is None:
        raise RuntimeError("the gpu-fleet program (package `infra`) is not installed")
    return Path(spec.origin).parent


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """The offline plan sends the mock monitor no source positions.

    The SDK's `_get_stack_trace` walks and formats the whole call stack for every resource
    (`traceback.extract_stack`, reading each frame's source line): about a fifth of a plan's time, for a field only
    the real engine reads (RegisterResourceRequest.sourcePosition) and the mocks drop (pulumi/runtime/mocks.py
    MockMonitor.RegisterResource). Under `pulumi preview` or `up` nothing here runs and the SDK reports positions as
    usual. Should a newer SDK rename the function, the plan is only as slow as before, and
    tests/cli/test_offline_speed.py says so.
    """
    runtime_resource = importlib.import_module("pulumi.runtime.resource")
    original = getattr(runtime_resource, "_get_stack_trace", None)
    if original is None:
        yield
        return
    setattr(runtime_resource, "_get_stack_trace", source_pb2.StackTrace)  # noqa: B010 (an empty trace; mypy)
    try:
        yield
    finally:
        setattr(runtime_resource, "_get_stack_trace", original)  # noqa: B010


PLAN_GC_THRESHOLD = (50_000, 20, 100)
"""Garbage-collector thresholds while a plan runs (Python's default is 700, 10, 10)."""


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect garbage less often while the program registers its resources.

    A plan builds a large graph that lives until the plan ends (an Output and its futures per declared property of
    every resource, the recorded inputs). At the default thresholds each young collection promotes it, and every
    full collection walks all of it again: about a third of a warm prod plan's CPU (4.0 s -> 2.5 s measured). It
    frees nothing: the graph is alive. Full collections still run, just less often; the thresholds in force before
    are restored afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(*PLAN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_program(stack: str, config: Mapping[str, str], secret_keys: list[str] | None = None,
                *, project: str = infra_config.PROJECT) -> list[Recorded]:
    """Run the program as `pulumi preview` would (from its own directory) and return what it registered."""
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(dict(config), secret_keys or [])
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
    entry = program_dir() / "__main__.py"

    def program() -> None:
        runpy.run_path(str(entry), run_name="__main__")

    with _cwd(entry.parent), _no_source_positions(), fewer_collections():
        _sync_await(run_pulumi_func(program))
    # Registration runs on a thread pool; order by URN so plans of the same config are identical.
    recorded = [dataclasses.replace(r, outputs=monitor.outputs.get(r.urn, {})) if not r.custom else r
                for r in monitor.recorded]
    return sorted(recorded, key=lambda r: r.urn)


def recorded_json(recorded: list[Recorded]) -> list[dict[str, Any]]:
    return [asdict(r) for r in recorded]
