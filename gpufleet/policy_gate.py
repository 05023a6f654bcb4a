"""Runs the real gpu-fleet policy pack over a plan's recorded resources, through the analyzer protocol.

The pack is started as the Pulumi CLI starts a Python pack (`python -m pulumi.policy ENGINE PACK_DIR`,
which prints the gRPC port it serves on); its config is reconciled as the CLI does it (the policies' schema
defaults, then the stack's file, then JSON Schema validation); then each resource goes through `Analyze`
and the whole stack through `AnalyzeStack`.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import grpc
import jsonschema
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from components import catalog
from components.config import ConfigError, Issue
from gpufleet.offline import Recorded
from policies import waivers as waiver_rules

Level: TypeAlias = analyzer_pb2.EnforcementLevel.ValueType
LEVELS: dict[str, Level] = {name.lower(): value for name, value in analyzer_pb2.EnforcementLevel.items()}
LEVEL_NAMES: dict[int, str] = {value: name for name, value in LEVELS.items()}
_START_TIMEOUT_S = 60


@dataclass
class PolicyResult:
    pack: str
    policies: list[dict[str, str]]
    violations: list[dict[str, str]] = field(default_factory=list)
    waivers: list[dict[str, str]] = field(default_factory=list)
    """What `policy-waivers` reported: `waived` violations (they no longer fail) and `unused` waivers."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Policy name -> its reconciled properties (schema defaults, then the file): the quota grants the review
    reads, and what a pull request changed in the policy config."""

    @property
    def mandatory_failed(self) -> bool:
        return any(v["level"] == "mandatory" for v in self.violations)

    def to_json(self) -> dict[str, Any]:
        return {"pack": self.pack, "policies": self.policies, "violations": self.violations,
                "waivers": self.waivers, "settings": self.settings}


def reconcile_config(info: analyzer_pb2.AnalyzerInfo, file_config: Mapping[str, Any],
                     source: str) -> dict[str, tuple[Level, dict[str, Any]]]:
    """Policy name -> (enforcement level, properties): schema defaults, then the file, then JSON Schema."""
    issues: list[Issue] = _numbers(file_config, source)
    all_level = _file_level(file_config, {p.name for p in info.policies}, source, issues)
    result = {policy.name: _reconcile_policy(policy, file_config, source, all_level=all_level, issues=issues)
              for policy in info.policies}
    if issues:
        raise ConfigError(issues)
    return result


def _file_level(file_config: Mapping[str, Any], names: set[str], source: str, issues: list[Issue]) -> Level | None:
    """The file's `all` enforcement level, if it sets one; every other top-level key must name a policy."""
    all_level = None
    for key, value in file_config.items():
        if key == "all":
            if isinstance(value, dict):
                all_level = _level(value.get("enforcementLevel"), source, "all", issues)
            elif isinstance(value, str):
                all_level = _level(value, source, "all", issues)
            else:
                issues.append(Issue(f"{source}: all", "not an enforcement level", value,
                                    "one of: " + ", ".join(LEVELS) + ', e.g. "all": "advisory"'))
        elif key not in names:
            issues.append(Issue(f"{source}: {key}", "no such policy in the pack", None,
                                "known policies: " + ", ".join(sorted(names))))
    return all_level


def _reconcile_policy(policy: analyzer_pb2.PolicyInfo, file_config: Mapping[str, Any], source: str, *,
                      all_level: Level | None, issues: list[Issue]) -> tuple[Level, dict[str, Any]]:
    """One policy's level and properties: its schema's defaults, then `all`, then its own entry in the file."""
    schema = json_format.MessageToDict(policy.configSchema)
    properties = schema.get("properties", {})
    props = {k: v["default"] for k, v in properties.items() if "default" in v}
    level = policy.enforcementLevel if all_level is None else all_level
    given = file_config.get(policy.name)
    if isinstance(given, str):
        level = _level(given, source, policy.name, issues)
    elif isinstance(given, dict):
        given = dict(given)
        if "enforcementLevel" in given:
            level = _level(given.pop("enforcementLevel"), source, policy.name, issues)
        props.update(given)
    elif given is not None:
        issues.append(Issue(f"{source}: {policy.name}", "expected an enforcement level or an object", given))
    issues += _schema_issues(policy.name, schema, props, source)
    issues += [Issue(f"{source}: {where}", message, value, hint)
               for where, message, value, hint in waiver_rules.problems(policy.name, props.get("waivers"),
                                                                        waiver_rules.today())]
    return level, props


def _schema_issues(name: str, schema: Mapping[str, Any], props: Mapping[str, Any], source: str) -> list[Issue]:
    """What the policy's JSON Schema refuses in `props` (no property beyond the schema's), each named by its path."""
    properties = schema.get("properties", {})
    full = {"type": "object", "properties": properties, "additionalProperties": False,
            "required": schema.get("required", [])}
    issues = []
    for err in sorted(jsonschema.Draft7Validator(full).iter_errors(props), key=lambda e: list(e.path)):
        where = ".".join(str(p) for p in (name, *err.path))
        named = _enum_issue(err)
        if named is not None:  # the offending key itself: a region, or a quota name under its region
            issues.append(Issue(f"{source}: {where}.{err.instance}", named[0], None, named[1]))
        else:
            issues.append(Issue(f"{source}: {where}", err.message, None, _hint(properties, err)))
    return issues


_MAX_EXACT = 2**53
"""The engine passes policy config as protobuf Struct values, doubles: larger integers arrive changed."""


def _numbers(config: Any, source: str, path: tuple[str, ...] = ()) -> list[Issue]:
    """Integers a double cannot carry exactly, wherever they are in the file."""
    if isinstance(config, dict):
        return [i for k, v in config.items() for i in _numbers(v, source, (*path, str(k)))]
    if isinstance(config, list):
        return [i for n, v in enumerate(config) for i in _numbers(v, source, (*path, str(n)))]
    if isinstance(config, int) and not isinstance(config, bool) and abs(config) > _MAX_EXACT:
        return [Issue(f"{source}: {'.'.join(path)}",
                      "too large: the policy engine passes numbers as doubles, "
                      f"exact up to {_MAX_EXACT:,}", config, "use a realistic value; quotas and budgets are far below")]
    return []


def load_config(path: Path) -> dict[str, Any]:
    """A policy pack config file: a JSON object keyed by policy name, with no NaN or Infinity (not JSON)."""
    source = str(path)

    def constant(name: str) -> Any:
        raise ConfigError([Issue(source, f"{name} is not a JSON number", None,
                                 "write a number (Python's json module accepts NaN and Infinity; the Pulumi CLI "
                                 "does not)")])

    try:
        config = json.loads(path.read_text(encoding="utf-8"), parse_constant=constant)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([Issue(source, "not a readable JSON policy config", None,
                                 " ".join(str(exc).split()))]) from None
    if not isinstance(config, dict):
        raise ConfigError([Issue(source, "expected a JSON object keyed by policy name", type(config).__name__,
                                 '{"gpu-quota": {...}, "gpu-budget": {...}}')])
    return config


def _enum_issue(err: jsonschema.ValidationError) -> tuple[str, str] | None:
    """A short message and a likely-name hint for a key outside its list of names (regions, quota metrics)."""
    if err.validator != "enum" or "propertyNames" not in list(err.absolute_schema_path):
        return None
    crossed = _other_cloud(err)
    if crossed is not None:
        return crossed
    close = difflib.get_close_matches(str(err.instance), [str(v) for v in err.validator_value], n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "names come from the GPU catalog (components/catalog)"
    return f"unknown name {err.instance!r}: a typo here would grant nothing", hint


def _other_cloud(err: jsonschema.ValidationError) -> tuple[str, str] | None:
    """A quota name of one cloud under a region of the other (`L-417A185B` under us-central1), or None."""
    name, region = str(err.instance), str(err.path[-1]) if err.path else ""
    if name not in catalog.quota_metrics() or region not in catalog.quota_regions():
        return None
    if region in catalog.GCP_REGIONS:
        return (f"{name} is an AWS quota code, and {region} a GCP region: it would grant nothing",
                "move it under the AWS region it was granted in (e.g. us-east-1); GCP regions take metrics such as "
                "NVIDIA_L4_GPUS")
    return (f"{name} is a GCP quota metric, and {region} an AWS region: it would grant nothing",
            "move it under the GCP region it was granted in (e.g. us-central1); AWS regions take quota codes such "
            "as L-417A185B (Service Quotas)")


def _hint(properties: Mapping[str, Any], err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return "known settings: " + (", ".join(sorted(properties)) or "none")
    if err.validator == "maximum" and err.validator_value == 1 and isinstance(err.instance, (int, float)):
        return f"a share from 0 to 1: {err.instance / 100:g} for {err.instance:g}%"
    top = properties.get(str(err.path[0])) if err.path else None
    return str(top.get("description", "")) if isinstance(top, dict) else ""


def _level(value: Any, source: str, where: str, issues: list[Issue]) -> Level:
    if isinstance(value, str) and value in LEVELS:
        return LEVELS[value]
    issues.append(Issue(f"{source}: {where}.enforcementLevel", "not an enforcement level", value,
                        "one of: " + ", ".join(LEVELS)))
    return LEVELS["advisory"]


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(value))
    return s


class PackError(RuntimeError):
    """The policy pack could not give a verdict: it did not start, or it failed while analyzing."""


def _start(pack_dir: Path, stack: str, project: str) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "PULUMI_PROJECT": project, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
                            cwd=pack_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.isdigit():
        proc.kill()
        _, err = proc.communicate(timeout=_START_TIMEOUT_S)
        raise PackError(f"the policy pack at {pack_dir} did not start:\n{err.decode()}")
    return proc, int(line)


class PackSession:
    """The pack started and configured, ready to judge a plan: `with PackSession(...) as pack: pack.analyze(...)`.

    Opening it starts the pack process and reconciles the policy config against the schemas the pack serves (a
    config the pack refuses raises ConfigError, a pack that does not start PackError) before any resource is sent,
    as the engine configures an analyzer before a preview's first resource. Closing it stops the process.
    """

    def __init__(self, pack_dir: Path, config_file: Path | None, *, stack: str, project: str) -> None:
        self.pack_dir, self.config_file, self.stack, self.project = pack_dir, config_file, stack, project

    def __enter__(self) -> PackSession:
        source = str(self.config_file) if self.config_file else "(no pack config)"
        file_config = load_config(self.config_file) if self.config_file is not None else {}
        self._proc, port = _start(self.pack_dir, self.stack, self.project)
        try:
            self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            with self._errors():
                grpc.channel_ready_future(self._channel).result(timeout=_START_TIMEOUT_S)
                self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
                self.info = self._stub.GetAnalyzerInfo(empty_pb2.Empty())
                self.config = reconcile_config(self.info, file_config, source)
                self._stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
                    name: analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=_struct(props))
                    for name, (level, props) in self.config.items()
                }))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        channel = getattr(self, "_channel", None)
        if channel is not None:
            channel.close()
        self._proc.kill()
        self._proc.communicate()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The analyzer's gRPC failures as PackError: the pack failed, or did not answer in time."""
        try:
            yield
        except grpc.RpcError as exc:
            detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise PackError(f"the policy pack at {self.pack_dir} failed while analyzing: {detail}") from None
        except grpc.FutureTimeoutError:
            raise PackError(f"the policy pack at {self.pack_dir} did not answer within {_START_TIMEOUT_S} s") from None

    def analyze(self, recorded: list[Recorded]) -> PolicyResult:
        """Each resource through `Analyze`, then the whole stack through `AnalyzeStack`, as the engine sends them."""
        resources = [_resource(r) for r in recorded]
        diagnostics = []
        with self._errors():
            for r in resources:
                response = self._stub.Analyze(analyzer_pb2.AnalyzeRequest(
                    type=r.type, properties=r.properties, urn=r.urn, name=r.name, options=r.options,
                    provider=r.provider))
                # The engine attributes a resource policy's diagnostic to the resource it analyzed (the SDK sends
                # an empty URN: pulumi_policy/policy.py `report_violation`); so does the plan, so that the review
                # comment can match a violation with the target branch's by resource, not by message.
                for d in response.diagnostics:
                    if not d.urn:
                        d.urn = r.urn
                diagnostics.extend(response.diagnostics)
            diagnostics.extend(self._stub.AnalyzeStack(
                analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics)
        return _result(self.info, self.config, diagnostics)


def run_pack(pack_dir: Path, config_file: Path | None, recorded: list[Recorded], *, stack: str,
             project: str) -> PolicyResult:
    """Start the pack, configure it and judge `recorded`: a `PackSession` opened for one plan."""
    with PackSession(pack_dir, config_file, stack=stack, project=project) as pack:
        return pack.analyze(recorded)


def _result(info: analyzer_pb2.AnalyzerInfo, config: Mapping[str, tuple[Level, dict[str, Any]]],
            diagnostics: list[analyzer_pb2.AnalyzeDiagnostic]) -> PolicyResult:
    policies = [{"name": p.name, "enforcement": LEVEL_NAMES[config[p.name][0]]} for p in info.policies]
    violations = [{"policy": d.policyName, "level": LEVEL_NAMES.get(d.enforcementLevel, "advisory"),
                   "urn": d.urn, "message": d.message.removeprefix(d.description + "\n")} for d in diagnostics]
    waived = [v for v in violations if v["policy"] == waiver_rules.NAME]
    return PolicyResult(pack=info.name, policies=policies,
                        violations=[v for v in violations if v["policy"] != waiver_rules.NAME],
                        waivers=[{"state": "unused" if v["message"].startswith(waiver_rules.UNUSED_PREFIX)
                                  else "waived", "message": v["message"]} for v in waived],
                        settings={name: props for name, (_, props) in config.items()})


def _resource(r: Recorded) -> analyzer_pb2.AnalyzerResource:
    return analyzer_pb2.AnalyzerResource(
        type=r.type,
        properties=_struct(r.properties),
        urn=r.urn,
        name=r.name,
        options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent, ignoreChanges=r.ignore_changes),
        parent=r.parent,
    )
