"""The whole pack's in-process verdict on a plan (tests/support/engine.py `violated`) at a fraction of its CPU, and the
real pack process with only some policies left on (issue 22).

`violated` calls each of the pack's ~40 policies as the analyzer does, and each call re-encodes every resource through
a protobuf Struct: 25,000 round trips on prod. The Struct round trip is pure data, so here it is done once per resource
and only the analyzer's per-policy steps (deserialize, proxy) are repeated; a baseline's verdict is kept per process.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from gpufleet import policy_gate
from gpufleet.report import Plan
from policies.pack import PACK_NAME, POLICIES
from tests.support.engine import OPTIONS, PACK, pack_config
from tests.support.pack_configs import only_policies_for


@functools.cache
def _analyzer_info() -> Any:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", POLICIES, EnforcementLevel.MANDATORY).GetAnalyzerInfo(
        None, None)


def engine_config(name: str, stack: str | None = None, **settings: Any) -> dict[str, Any]:
    """engine.py's `engine_config` (same reconciliation, same Struct trip) without rebuilding the AnalyzerInfo."""
    file_config = pack_config(stack) if stack else {}
    file_config[name] = {**file_config.get(name, {}), **settings}
    _, props = policy_gate.reconcile_config(_analyzer_info(), file_config, f"{stack}.json")[name]
    s = struct_pb2.Struct()
    s.update(props)
    return json_format.MessageToDict(s)


def _wire(props: dict[str, Any]) -> dict[str, Any]:
    """Props after the protobuf Struct the engine sends them in (never mutated: deserializing builds new objects)."""
    s = struct_pb2.Struct()
    s.update(props)
    return json_format.MessageToDict(s)


def _handed(wire: dict[str, Any]) -> Any:
    """What one policy call receives: a fresh deserialized, unknown-checking copy, as the analyzer makes per policy."""
    return unknown_checking_proxy(deserialize_properties(wire))


def violated(plan: Plan, stack: str, only: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Every policy of the pack (or of `only`) that reports on `plan` under the stack's pack config -> its messages,
    as engine.py's `violated` finds them."""
    wires = [(r.type, r.urn, _wire(r.properties)) for r in plan.resources]
    names = None if only is None else set(only)
    found: dict[str, list[str]] = {}
    for policy in POLICIES:
        if (names is None or policy.name in names) and (
                messages := _reports(policy, wires, engine_config(policy.name, stack))):
            found[policy.name] = messages
    return found


def _reports(policy: Any, wires: list[tuple[str, str, dict[str, Any]]], config: dict[str, Any]) -> list[str]:
    """One policy's messages: a stack policy called once over every resource, a resource policy once per resource."""
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    if isinstance(policy, StackValidationPolicy):
        resources = [PolicyResource(t, _handed(w), u, u.rsplit("::", 1)[-1], OPTIONS, None, None, [], {})
                     for t, u, w in wires]
        policy.validate(StackValidationArgs(resources, dict(config)), report)  # type: ignore[attr-defined]
    else:
        for t, u, w in wires:
            policy.validate(ResourceValidationArgs(t, _handed(w), u, u.rsplit("::", 1)[-1], OPTIONS, None,
                                                   dict(config)), report)
    return messages


_BASELINES: dict[str, set[str]] = {}
"""A baseline plan's digest -> the policies that report on it: the shipped plans are every test's baseline."""


def newly_violated(plan: Plan, baseline: Plan, stack: str) -> set[str]:
    key = hashlib.sha256(pickle.dumps((stack, [(r.urn, r.properties) for r in baseline.resources]))).hexdigest()
    if key not in _BASELINES:
        _BASELINES[key] = set(violated(baseline, stack))
    return set(violated(plan, stack)) - _BASELINES[key]


def run_only(plan: Plan, stack: str, names: Iterable[str], folder: Path) -> policy_gate.PolicyResult:
    """The real pack process over `plan` with only `names` left on, under the stack's shipped settings."""
    return policy_gate.run_pack(PACK, only_policies_for(stack, names, folder), plan.resources, stack=stack,
                                project="gpu-fleet")


@functools.cache
def served_info() -> analyzer_pb2.AnalyzerInfo:
    """The AnalyzerInfo the real pack process serves (policy_gate's start and GetAnalyzerInfo), asked once per process.

    `run_pack` reconciles the config file against exactly this before any resource is sent, so a config-rejection
    case checked with `reject` is the verdict `run_pack` gives, without a pack process per case.
    """
    proc, port = policy_gate._start(PACK, "dev", "gpu-fleet")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            info: analyzer_pb2.AnalyzerInfo = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(
                empty_pb2.Empty())
            return info
    finally:
        proc.kill()
        proc.communicate()


def reconcile(config_file: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    """`run_pack`'s first step on a config file (load it, reconcile it with the served schemas): raises ConfigError."""
    return policy_gate.reconcile_config(served_info(), policy_gate.load_config(config_file), str(config_file))
