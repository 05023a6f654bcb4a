"""The README's generated tables (the GPU catalog, the config keys' defaults) and the policy reference, from code.

`python -m gpufleet.docs` rewrites the tables between their markers in README.md and docs/policies.md (the review
comment links each policy there); `--check` exits 1 when either is stale (the test suite runs the same check), so
neither can drift from the catalog, the model or the pack.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components import catalog
from components.config.base import MOVED
from components.config.model import Fleet
from components.config.units import UNITS

README = Path(__file__).resolve().parents[1] / "README.md"


def catalog_table() -> str:
    """One row per machine type: its GPUs, the quota it counts against, the zones with its GPU, priced regions.

    Refused machine types follow, each with what gpu-fleet does not yet provision for it.
    """
    lines = ["| machine type | cloud | GPUs | quota (on-demand / spot) | zones with the GPU | priced regions |",
             "|---|---|---|---|---|---|"]
    for m in sorted(catalog.MACHINE_TYPES, key=lambda m: (m.cloud is not catalog.Cloud.GCP, m.name)):
        gpu = catalog.gpu(m.gpu)
        priced = ", ".join(sorted(p.region for p in catalog.PRICES if p.machine_type == m.name)) or "none"
        specs = "" if m.verified else " (vCPU/memory unverified)"
        lines.append(f"| `{m.name}` | {m.cloud.value} | {m.gpus} x {gpu.model}{specs} | {_quota(m)} | "
                     f"{_zones(m) or 'none'} | {priced} |")
    lines += ["", "Refused (config validation stops a pool of these with the reason, exit 2):", "",
              "| machine type | cloud | carries | why gpu-fleet refuses it |", "|---|---|---|---|"]
    for r in sorted(catalog.REFUSED, key=lambda r: (r.cloud is not catalog.Cloud.GCP, r.name)):
        lines.append(f"| `{r.name}` | {r.cloud.value} | {r.carries} | {r.reason} |")
    return "\n".join(lines)


def _quota(m: catalog.MachineType) -> str:
    if m.cloud is catalog.Cloud.GCP:
        mark = "" if catalog.gpu(m.gpu).quota_verified else " (unverified)"
        return f"`{catalog.gcp_quota_metric(m, spot=False)}` / `{catalog.gcp_quota_metric(m, spot=True)}`{mark}"
    on_demand = catalog.aws_quota(m, spot=False).code
    spot = catalog.AWS_QUOTAS.get((m.aws_quota or "", True))
    return f"`{on_demand}` / " + (f"`{spot.code}` (vCPUs)" if spot else "no spot (quota not verified)")


def _zones(m: catalog.MachineType) -> str:
    if m.cloud is not catalog.Cloud.GCP:
        return "not in the catalog"
    if m.gpu not in catalog.GPU_ZONES:
        return "not read (unchecked)"
    return "; ".join(f"{region}: {', '.join(z.rsplit('-', 1)[1] for z in found)}"
                     for region, found in sorted(catalog.GPU_ZONES[m.gpu].items()))


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's type (`X`, `X | None`, `list[X]`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (list, Union, UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    if get_origin(annotation) is dict:
        return _models(get_args(annotation)[1])
    return []


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(its keys' defaults)"
        if isinstance(value, list):
            value = [v.value if isinstance(v, Enum) else v for v in value]
        return "`[]`" if value == [] else "`{}`" if value == {} else f"`{value}`"
    value = field.default
    if value is PydanticUndefined:
        return ""
    if value is None:
        return "unset"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, bool, str]]:
    for name, field in model.model_fields.items():
        if field.json_schema_extra == MOVED:
            continue
        key = f"{prefix}{field.alias or name}"
        nested = _models(field.annotation)
        is_list = get_origin(field.annotation) is list or any(
            get_origin(a) is list for a in get_args(field.annotation))
        keyed = get_origin(field.annotation) is dict and nested
        yield key + ("[]" if is_list else ""), field.is_required(), _default(field)
        for sub in nested:
            yield from _rows(sub, f"{key}{'[]' if is_list else '.<name>' if keyed else ''}.")


def config_table() -> str:
    """Every `gke` key (and the fleet-wide ones): whether it is required, and its default."""
    lines = ["| key | required | default |", "|---|---|---|",
             "| `gcp:project` | yes, unless `gke.project` is set | |"]
    seen: set[str] = set()
    for key, required, default in _rows(Fleet, ""):
        if key in seen or key.startswith(("eks", "openshift")):
            continue
        seen.add(key)
        lines.append(f"| `{key}` | {'yes' if required else ''} | {default} |")
    return "\n".join(lines)


def _numeric(annotation: Any) -> bool:
    """Whether a field's type holds an int or float (a bool is no number here)."""
    if annotation in (int, float):
        return True
    if get_origin(annotation) is Annotated:
        return _numeric(get_args(annotation)[0])
    return get_origin(annotation) in (list, Union, UnionType) and any(_numeric(a) for a in get_args(annotation))


def _bounds(annotation: Any, metadata: list[Any]) -> list[str]:
    """The model's bounds of a number (`> 0`, `<= 100`), from the field and the types it is built of."""
    found: list[Any] = list(metadata)
    stack = [annotation]
    while stack:
        tp = stack.pop()
        if get_origin(tp) is Annotated:
            extra = list(tp.__metadata__)
            found += extra + [m for info in extra if isinstance(info, FieldInfo) for m in info.metadata]
            stack.append(get_args(tp)[0])
        else:
            stack += [a for a in get_args(tp) if a is not type(None)]
    out = []
    for kind, attr, op in ((annotated_types.Gt, "gt", ">"), (annotated_types.Ge, "ge", ">="),
                           (annotated_types.Lt, "lt", "<"), (annotated_types.Le, "le", "<=")):
        out += [f"{op} {v:g}" for v in sorted({getattr(m, attr) for m in found if isinstance(m, kind)})]
    return out


def numeric_keys() -> Iterator[tuple[str, Any]]:
    """Every numeric key of the stack model, keyed as the config tables key it, with its field."""
    def walk(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, Any]]:
        for name, field in model.model_fields.items():
            if field.json_schema_extra == MOVED:
                continue
            key = f"{prefix}{field.alias or name}"
            is_list = get_origin(field.annotation) is list or any(
                get_origin(a) is list for a in get_args(field.annotation))
            nested = _models(field.annotation)
            if _numeric(field.annotation):
                yield key + ("[]" if is_list else ""), field
            keyed = get_origin(field.annotation) is dict and nested
            for sub in nested:
                yield from walk(sub, f"{key}{'[]' if is_list else '.<name>' if keyed else ''}.")
    seen: set[str] = set()
    for key, field in walk(Fleet, ""):
        if key not in seen:
            seen.add(key)
            yield key, field


def numbers_table() -> str:
    """Every number of the stack: its unit and range (the model's bounds, and what the rules add)."""
    lines = ["| key | unit | range | note |", "|---|---|---|---|"]
    for key, field in numeric_keys():
        unit = UNITS.get(key)
        bounds = _bounds(field.annotation, field.metadata)
        whole = "whole number" if "int" in repr(field.annotation) else "number"
        rng = ", ".join([whole, *bounds, *([unit.rule_range] if unit and unit.rule_range else [])])
        lines.append(f"| `{key}` | {unit.unit if unit else '**no unit**'} | {rng} | {unit.note if unit else ''} |")
    return "\n".join(lines)


TABLES = {"catalog": catalog_table, "config-defaults": config_table, "config-numbers": numbers_table}

POLICY_REFERENCE = README.parent / "docs" / "policies.md"


def policy_reference() -> str:
    """docs/policies.md: one entry per policy of the pack (its level, what it checks, its settings).

    The review comment links each policy it names to its entry here (`docs/policies.md#gpu-quota`); the headings are
    the policy names, so GitHub's anchors are the names themselves.
    """
    from policies.pack import PACK_NAME, POLICIES  # the pack's own list: a policy added there is documented here

    lines = ["# Policy reference", "", f"Generated by `python -m gpufleet.docs` from the `{PACK_NAME}` pack's policy "
             "list (`policies/pack.py`); do not edit by hand. Levels are the pack's defaults: a stack's policy config "
             "(`policies/config/STACK.json`) may change them.", ""]
    for policy in POLICIES:
        level = getattr(policy.enforcement_level, "value", policy.enforcement_level) or "advisory"
        scope = "stack" if type(policy).__name__.startswith("Stack") else "resource"
        lines += [f"## {policy.name}", "", f"**{level}** ({scope} policy). {policy.description}", ""]
        schema = policy.config_schema
        for name, prop in sorted((schema.properties if schema is not None else {}).items()):
            text = " ".join(str(prop.get("description", "")).split())
            lines.append(f"- `{policy.name}.{name}`" + (f": {text}" if text else ""))
        if schema is not None and schema.properties:
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render(text: str) -> str:
    """README text with every generated table rewritten between `<!-- generated: NAME -->` and its end marker."""
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- generated: {name} .*?-->\n).*?(<!-- end: {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- generated: {name} --> ... <!-- end: {name} --> block")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)  # type: ignore[misc]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpufleet.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is not current")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    reference = policy_reference()
    current = POLICY_REFERENCE.read_text(encoding="utf-8") if POLICY_REFERENCE.is_file() else ""
    if args.check:
        stale = [name for name, (now, want) in {"README.md": (text, new),
                                                "docs/policies.md": (current, reference)}.items() if now != want]
        if stale:
            print(f"{' and '.join(stale)} stale: run `.venv/bin/python -m gpufleet.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    POLICY_REFERENCE.write_text(reference, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
