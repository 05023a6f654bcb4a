"""Evaluates a CRD's CEL rules (`x-kubernetes-validations`) on an object, as the API server would on create.

jsonschema ignores these rules. They run here with cel-python (`celpy`), plus the two Kubernetes CEL
library functions Karpenter's CRDs use that celpy lacks, implemented as Kubernetes defines them:
- `string.find(regex) -> string`: the first match of the RE2 `regex`, or "" (k8s.io/apiserver cel/library
  regex.go). Python's `re` agrees with RE2 on the patterns these CRDs use (anchors, classes, groups).
- `string.split(sep) -> list(string)` (cel-go ext/strings; Kubernetes enables the strings library).
Schema defaults are applied first (the API server defaults before it validates). Transition rules (those
naming `oldSelf`) only run on update and are skipped.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import celpy
from celpy import celtypes

from tests.support.k8s_schemas import crd_schemas, validate


def _find(value: Any, pattern: Any) -> celtypes.StringType:
    match = re.search(str(pattern), str(value))
    return celtypes.StringType(match.group(0) if match else "")


def _split(value: Any, sep: Any, limit: Any = None) -> celtypes.ListType:
    parts = str(value).split(str(sep)) if limit is None else str(value).split(str(sep), int(limit) - 1)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


FUNCTIONS = {"find": _find, "split": _split}
_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}


def _program(rule: str) -> Any:
    if rule not in _PROGRAMS:
        _PROGRAMS[rule] = _ENV.program(_ENV.compile(rule), functions=FUNCTIONS)
    return _PROGRAMS[rule]


def with_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled in, recursively (as the API server stores it)."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = with_defaults(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    value[key] = with_defaults(extra, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [with_defaults(schema["items"], v) for v in value]
    return value


def _to_cel(value: Any) -> Any:
    # Pulumi records whole numbers as floats; Kubernetes would hold them as integers.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict):
        return {k: _to_cel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cel(v) for v in value]
    return value


def violations(schema: dict[str, Any], value: Any, path: str = "") -> Iterator[str]:
    """Every CEL rule of `schema` (and its sub-schemas) that `value` breaks, as `path: message`."""
    for rule in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in rule["rule"]:
            continue
        result = _program(rule["rule"]).evaluate({"self": celpy.json_to_cel(_to_cel(value))})
        if isinstance(result, Exception) or not bool(result):
            yield f"{path or '.'}: {rule.get('message') or rule['rule']} ({result!r})"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in value.items():
            child = props.get(key)
            if child is None and isinstance(schema.get("additionalProperties"), dict):
                child = schema["additionalProperties"]
            if child is not None:
                yield from violations(child, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from violations(schema["items"], item, f"{path}[{i}]")


def assert_valid(obj: dict[str, Any]) -> None:
    """The reference CRD's OpenAPI schema and its CEL rules, as the API server applies them on create."""
    validate(obj)
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    broken = list(violations(schema, with_defaults(schema, obj)))
    assert not broken, f"{obj['kind']} {obj['metadata']['name']}: {broken}"
