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
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from components import catalog
from components.config.base import MOVED
from components.config.model import Fleet

README = Path(__file__).resolve().parents[1] / "README.md"


def catalog_table() -> str:
    """One row per machine type: its GPUs, the quota it counts against, the zones with its GPU, priced regions."""
    lines = ["| machine type | cloud | GPUs | quota (on-demand / spot) | zones with the GPU | priced regions |",
             "|---|---|---|---|---|---|"]
    for m in sorted(catalog.MACHINE_TYPES, key=lambda m: (m.cloud is not catalog.Cloud.GCP, m.name)):
        gpu = catalog.gpu(m.gpu)
        if m.cloud is catalog.Cloud.GCP:
            quota = f"`{catalog.gcp_quota_metric(m, spot=False)}` / `{catalog.gcp_quota_metric(m, spot=True)}`"
            zones = "; ".join(f"{region}: {', '.join(z.rsplit('-', 1)[1] for z in found)}"
                              for region, found in sorted(catalog.GPU_ZONES.get(gpu.id, {}).items()))
        else:
            quota = f"`{catalog.aws_quota(m, spot=False).code}` / `{catalog.aws_quota(m, spot=True).code}` (vCPUs)"
            zones = "not in the catalog"
        priced = ", ".join(sorted(p.region for p in catalog.PRICES if p.machine_type == m.name)) or "none"
        lines.append(f"| `{m.name}` | {m.cloud.value} | {m.gpus} x {gpu.model} | {quota} | {zones or 'none'} | "
                     f"{priced} |")
    return "\n".join(lines)


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


TABLES = {"catalog": catalog_table, "config-defaults": config_table}

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
