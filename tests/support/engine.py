"""The policy pack as the engine runs it: props through the analyzer's protobuf Struct and proxy, each policy's config
reconciled as policy_gate does, resource and stack policies over a plan (pulumi-policy's own test_policy.py)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
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
from tests.support.plans import ROOT, gke_of

PACK = ROOT / "policies"


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel


OPTIONS = PolicyResourceOptions(False, [], False, [], PolicyCustomTimeouts(0, 0, 0), [], None)  # none set


def engine_props(props: dict[str, Any]) -> Any:
    """Props as the analyzer hands them to a policy: through a protobuf Struct, deserialized and proxied."""
    s = struct_pb2.Struct()
    s.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(s)))


def policy_resource(typ: str, props: dict[str, Any], urn: str = "urn:x") -> PolicyResource:
    return PolicyResource(typ, engine_props(props), urn, urn.rsplit("::", 1)[-1], OPTIONS, None, None, [], {})


def run_resource_policy(name: str, typ: str, props: dict[str, Any], config: Mapping[str, Any] | None = None,
                        urn: str = "urn:x") -> list[str]:
    policy = next(p for p in POLICIES if p.name == name)
    found: list[str] = []
    args = ResourceValidationArgs(typ, engine_props(props), urn, urn.rsplit("::", 1)[-1], OPTIONS, None,
                                  dict(config) if config is not None else None)
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[attr-defined]
    return found


def stack_policy_reports(name: str, plan: Plan, config: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(message, URN) pairs a stack policy reports over what AnalyzeStack would hand it for `plan`."""
    policy = next(p for p in POLICIES if p.name == name)
    # As policy_gate sends them: a custom resource's inputs (a preview), a component's registered outputs.
    resources = [policy_resource(r.type, r.properties, r.urn) for r in plan.resources]
    found: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs(resources, dict(config)),  # type: ignore[attr-defined]
                    lambda message, urn=None: found.append((message, urn)))
    return found


def run_stack_policy(name: str, plan: Plan, config: Mapping[str, Any]) -> list[str]:
    return [message for message, _ in stack_policy_reports(name, plan, config)]


def run_resource_policy_over(name: str, plan: Plan, config: Mapping[str, Any]) -> list[str]:
    """A resource policy over every resource of `plan`, as Analyze is called once per resource."""
    return [m for r in plan.resources for m in run_resource_policy(name, r.type, r.properties, config, r.urn)]


def pack_config(stack: str) -> dict[str, Any]:
    return json.loads((PACK / "config" / f"{stack}.json").read_text())


def engine_config(name: str, stack: str | None = None, **settings: Any) -> dict[str, Any]:
    """What `args.get_config()` returns to policy `name` under the stack's pack config plus `settings`.

    Reconciled as policy_gate does it for the CLI (schema defaults from the pack's AnalyzerInfo, then the file,
    then JSON Schema), then through the Configure call's protobuf Struct (integers arrive as floats).
    """
    file_config = pack_config(stack) if stack else {}
    file_config[name] = {**file_config.get(name, {}), **settings}
    info = _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", POLICIES, EnforcementLevel.MANDATORY).GetAnalyzerInfo(
        None, None)
    _, props = policy_gate.reconcile_config(info, file_config, f"{stack}.json")[name]
    s = struct_pb2.Struct()
    s.update(props)
    return json_format.MessageToDict(s)


def violated(plan: Plan, stack: str) -> dict[str, list[str]]:
    """Every policy of the pack that reports on `plan` under the stack's pack config -> its messages."""
    found = {}
    for policy in POLICIES:
        config = engine_config(policy.name, stack)
        run = run_stack_policy if isinstance(policy, StackValidationPolicy) else run_resource_policy_over
        if messages := run(policy.name, plan, config):
            found[policy.name] = messages
    return found


def newly_violated(plan: Plan, baseline: Plan, stack: str) -> set[str]:
    return set(violated(plan, stack)) - set(violated(baseline, stack))


def gpu_pool(doc: dict[str, Any], region: str, cluster: str, pool: str) -> dict[str, Any]:
    """A GPU pool of a stack document, for a targeted change."""
    r = next(r for r in gke_of(doc)["regions"] if r["name"] == region)
    c = next(c for c in r["clusters"] if c["name"] == cluster)
    return next(p for p in c["gpu_pools"] if p["name"] == pool)


def with_inputs(plan: Plan, name: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    """`plan` with `change` applied to a copy of custom resource `name`'s inputs (a drift no config allows)."""
    resources = []
    for r in plan.resources:
        if r.custom and r.name == name:
            inputs = copy.deepcopy(r.inputs)
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    assert resources != plan.resources, name
    return dataclasses.replace(plan, resources=resources)
