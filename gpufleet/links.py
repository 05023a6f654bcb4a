"""Links from the review to the stack file: each stack-config key to its line, from the YAML parse itself.

Line numbers come from `yaml.compose`'s nodes (their `start_mark`), so a key found is the key the program read;
a link is a path relative to the repository (`Pulumi.prod.yaml#L123`), or under `--link-base` (GitHub's
`https://github.com/OWNER/REPO/blob/SHA`) when one is given.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path

import yaml

from gpufleet.sections import Section

PROJECT = "gpu-fleet"
LINK_BASE_ENV = "GPU_FLEET_LINK_BASE"
_SEGMENT = re.compile(r"^([A-Za-z0-9_-]+)(?:\[([^\]]+)\])?$")
_KEY = re.compile(r"^(gke|eks|openshift|budgets|observability|prices|labels|dashboards|addons)(\.|\[|$)")
_LINK = re.compile(r"^\[`(?P<key>[^`]+)`\]\((?P<href>[^)]+)\)$")


@functools.lru_cache(maxsize=16)
def _root(path: str, mtime: float) -> yaml.Node | None:
    try:
        return yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _child(node: yaml.Node, name: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return value
    return None


def _item(node: yaml.Node | None, name: str) -> yaml.Node | None:
    """The list item whose `name` is `name` (config lists are keyed by name, never by position)."""
    if not isinstance(node, yaml.SequenceNode):
        return None
    for item in node.value:
        found = _child(item, "name")
        if isinstance(found, yaml.ScalarNode) and found.value == name:
            return item
    return None


def config_line(stack_file: Path, key_path: str) -> int | None:
    """The 1-based line of `key_path` (e.g. `gke.regions[us-central1].clusters[ml-1]`) in a stack file, or None.

    The first segment is the project's config key (`gpu-fleet:gke`) under `config:`; `[x]` selects the list item
    named x. A line is the key's own line (a list item: its first line).
    """
    try:
        root = _root(str(stack_file), stack_file.stat().st_mtime)
    except OSError:
        return None
    node = _child(root, "config") if root is not None else None
    line = None
    for i, segment in enumerate(key_path.split(".")):
        m = _SEGMENT.match(segment)
        if node is None or m is None:
            return None
        name = f"{PROJECT}:{m.group(1)}" if i == 0 else m.group(1)
        key_node = _key_node(node, name)
        node = _child(node, name)
        line = key_node.start_mark.line + 1 if key_node is not None else None
        if m.group(2) is not None:
            node = _item(node, m.group(2))
            line = node.start_mark.line + 1 if node is not None else None
    return line if node is not None else None


def _key_node(node: yaml.Node, name: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == name:
                return key
    return None


def link(stack_file: Path, key_path: str, *, base: str | None = None, root: Path | None = None) -> str | None:
    """`[`key`](Pulumi.prod.yaml#L123)` (under `base` when given); None when the key is not in the file."""
    line = config_line(stack_file, key_path)
    if line is None:
        return None
    rel = stack_file.name
    if root is not None:
        try:
            rel = stack_file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            rel = stack_file.name
    base = base if base is not None else os.environ.get(LINK_BASE_ENV) or None
    href = f"{base.rstrip('/')}/{rel}#L{line}" if base else f"{rel}#L{line}"
    return f"[`{key_path}`]({href})"


def linked(section: Section, stack_file: str | Path, *, base: str | None = None, root: Path | None = None) -> Section:
    """The section with each cell that is a stack-config key turned into a link to its line."""
    path = Path(stack_file)

    def cell(text: str) -> str:
        if not _KEY.match(text):
            return text
        return link(path, text, base=base, root=root) or text

    rows = [tuple(cell(c) for c in row) for row in section.rows]
    return dataclasses.replace(section, rows=rows)


def is_link(text: str) -> bool:
    return _LINK.match(text) is not None


def plain(text: str) -> str:
    """A link as the terminal shows it: `key (Pulumi.prod.yaml#L123)`."""
    m = _LINK.match(text)
    return f"{m.group('key')} ({m.group('href')})" if m else text
