"""A stack file (`Pulumi.<stack>.yaml`) read as the Pulumi CLI reads it: flat `ns:key` strings, secrets masked.

Its own module, apart from the mocks in `gpufleet/offline.py`: the commands that only validate a stack's
configuration (`fabric-check`, `ci runners`) read stack files without loading the Pulumi SDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import ConfigError, Issue
from infra import config as infra_config

SECRET = "[secret]"
"""What the offline plan holds for a secret: a `secure:` value it cannot decrypt, or one nobody has set yet."""


@dataclass
class StackFile:
    """A `Pulumi.<stack>.yaml` as the engine would pass it to the program: flat `ns:key` -> string."""

    stack: str
    path: Path
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)

    def project_values(self) -> dict[str, Any]:
        """The `gpu-fleet:*` values, decoded, keyed without namespace."""
        prefix = infra_config.PROJECT + ":"
        return {k[len(prefix):]: infra_config.decode(v) for k, v in self.config.items() if k.startswith(prefix)}


class _StackLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key repeated in one mapping as the Pulumi CLI does (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            if isinstance(key, (str, int, float, bool)) and key in seen:
                first = seen[key].start_mark
                raise yaml.MarkedYAMLError(f"{key!r} is first set at line {first.line + 1}", first,
                                           f"duplicate key {key!r}", key_node.start_mark)
            if isinstance(key, (str, int, float, bool)):
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _decode(path: Path, data: bytes) -> str:
    """The stack file as text; the Pulumi CLI reads UTF-8, so any other encoding is refused, not guessed."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 1 and b"\x00" in data[:2])
        found = "UTF-16 (it starts with a byte-order mark or NUL bytes)" if utf16 else \
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, Latin-1 or Windows-1252 perhaps)"
        raise ConfigError([Issue(str(path), f"the stack file is {found}", None,
                                 "the Pulumi CLI reads stack files as UTF-8: re-save it as UTF-8, e.g. "
                                 f"iconv -f {'UTF-16' if utf16 else 'LATIN1'} -t UTF-8")]) from None


def read_stack_file(path: Path, stack: str) -> StackFile:
    try:
        text = _decode(path, path.read_bytes())
        doc = yaml.load(text, Loader=_StackLoader) or {}  # a SafeLoader subclass: no arbitrary objects
    except OSError as exc:
        raise ConfigError([Issue(str(path), "cannot read the stack file", None, exc.strerror or "")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_issue(path, exc)]) from None
    # An empty `config:` block is YAML's null: read as no keys, so the validation names what is missing.
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise ConfigError([Issue(str(path), "expected a mapping with a `config:` mapping", None,
                                 "see Pulumi.dev.yaml for the shape")])
    unknown = sorted(set(doc) - {"config", "secretsprovider", "encryptedkey", "environment"})
    if unknown:
        raise ConfigError([Issue(f"{path}:{k}", "unknown top-level key", None, "only `config:` is read")
                           for k in unknown])
    out = StackFile(stack=stack, path=path)
    for key, value in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{infra_config.PROJECT}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Encrypted values cannot be read offline; they stay secret placeholders.
            out.config[full] = SECRET
            out.secret_keys.append(full)
        elif isinstance(value, str):
            out.config[full] = value
        else:
            out.config[full] = json.dumps(value)
    return out


def unset_secrets(sf: StackFile) -> list[str]:
    """Plan secrets nobody has stored yet as placeholders; returns their keys, for a warning.

    The offline plan never reads a secret: a `secure:` value it cannot decrypt and a referenced key that is not
    set yet are the same masked placeholder to it. So a change can be reviewed before anyone stores the
    credential; `pulumi preview` and `pulumi up` still refuse the unset key (infra.config.parse).
    """
    prefix = f"{infra_config.PROJECT}:"
    missing = sorted(prefix + key for key in infra_config.credential_keys(sf.project_values())
                     if prefix + key not in sf.config)
    for full in missing:
        sf.config[full] = SECRET
        sf.secret_keys.append(full)
    return missing


def _yaml_issue(path: Path, exc: yaml.YAMLError) -> Issue:
    """One line: what is wrong and where (line and column, 1-based, as editors count)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
        if exc.context:
            where += f" ({exc.context})"
        hint = "remove one of the two; the Pulumi CLI refuses a key set twice" if "duplicate key" in \
            str(exc.problem) else "fix the YAML there (indentation, an unclosed [ or {, a missing ':')"
        return Issue(str(path), f"not valid YAML: {where}", None, hint)
    return Issue(str(path), "not valid YAML", None, " ".join(str(exc).split()))
