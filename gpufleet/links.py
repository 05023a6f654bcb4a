"""Links from the review to the stack file: each stack-config key to its line, from the YAML parse itself.

Line numbers come from `yaml.compose`'s nodes (their `start_mark`), so a key found is the key the program read;
a link is a path relative to the repository (`Pulumi.prod.yaml#L123`), or under `--link-base` (GitHub's
`https://github.com/OWNER/REPO/blob/SHA`) when one is given. `StackLinks` finds the keys in any text of the comment
(table cells, violation messages, hints) for gpufleet/layout.py, which turns them into links while escaping the rest.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PROJECT = "gpu-fleet"
LINK_BASE_ENV = "GPU_FLEET_LINK_BASE"
_LAST = re.compile(r"(?:\.[^.\[\]]+|\[[^\]]+\])$")
"""The last segment of a key path (`.max_nodes` or `[l4]`): removing it gives the parent."""


@functools.lru_cache(maxsize=16)
def _root(path: str, mtime: float) -> yaml.Node | None:
    try:
        return yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _walk(node: yaml.Node, path: str) -> Iterator[tuple[str, int]]:
    """(key path, 1-based line) of everything under `node`: mapping keys by name, list items by their `name`.

    An item without a `name` has no stable key (config lists are keyed by name, never by position): not linked.
    """
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = f"{path}.{key.value}"
                yield child, key.start_mark.line + 1
                yield from _walk(value, child)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            name = next((v for k, v in item.value if isinstance(k, yaml.ScalarNode) and k.value == "name"), None) \
                if isinstance(item, yaml.MappingNode) else None
            if isinstance(name, yaml.ScalarNode):
                child = f"{path}[{name.value}]"
                yield child, item.start_mark.line + 1
                yield from _walk(item, child)


def config_lines(stack_file: Path) -> dict[str, int]:
    """Every stack-config key path of a stack file (`gke.regions[us-central1].clusters[ml-1]`) -> its line.

    The first segment is the project's config key (`gpu-fleet:gke`) under `config:`; `[x]` is the list item named
    x, and its line is the item's first line. An unreadable file has no keys.
    """
    try:
        root = _root(str(stack_file), stack_file.stat().st_mtime)
    except OSError:
        return {}
    config = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None) \
        if isinstance(root, yaml.MappingNode) else None
    if not isinstance(config, yaml.MappingNode):
        return {}
    found: dict[str, int] = {}
    for key, value in config.value:
        if isinstance(key, yaml.ScalarNode) and str(key.value).startswith(f"{PROJECT}:"):
            top = str(key.value)[len(PROJECT) + 1:]
            found[top] = key.start_mark.line + 1
            found.update(_walk(value, top))
    return found


def config_line(stack_file: Path, key_path: str) -> int | None:
    """The 1-based line of `key_path` (e.g. `gke.regions[us-central1].clusters[ml-1]`) in a stack file, or None."""
    return config_lines(stack_file).get(key_path)


@dataclass(frozen=True)
class StackLinks:
    """The stack file a comment links its config keys to: where it is and the line of each key in it."""

    href: str
    """The file as a link target: repository-relative (`Pulumi.prod.yaml`) or under the link base."""
    lines: Mapping[str, int] = field(default_factory=dict)
    """Key path (without the `gpu-fleet:` prefix) -> its 1-based line, from `config_lines`."""

    @classmethod
    def read(cls, stack_file: Path, *, root: Path | None, base: str = "") -> StackLinks | None:
        """The links of `stack_file`, or None when it is outside the repository `root` (a link would point nowhere)."""
        if root is None:
            return None
        try:
            rel = stack_file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
        return cls(href=f"{base}{rel}", lines=config_lines(stack_file))

    @functools.cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """A key of this file in running text, never inside a longer word, path or URL.

        A top-level key of the file with at least one segment after it (`budgets.daily_usd`), or any with the
        `gpu-fleet:` prefix (`gpu-fleet:prices`): a bare word such as "labels" is prose.
        """
        tops = sorted({k for k in self.lines if "." not in k and "[" not in k}, key=len, reverse=True)
        if not tops:
            return None
        names = "|".join(re.escape(t) for t in tops)
        segments = r"(?:\.[A-Za-z0-9_-]*[A-Za-z0-9_]|\[[^\]\s]+\])"
        return re.compile(rf"(?<![\w.:/\[-])(?:{PROJECT}:(?:{names}){segments}*|(?:{names}){segments}+)(?![\w\[-])")

    def target(self, key: str) -> str | None:
        """The link target of `key`: its own line, else its nearest ancestor's, else None.

        A key the file leaves at its default (or a list item this change removed) links to the line of its nearest
        ancestor present in the file, where it would be set; when not even its top-level key is in the file there
        is no line to point at, and the key stays plain text.
        """
        path = key[len(PROJECT) + 1:] if key.startswith(f"{PROJECT}:") else key
        while path:
            if path in self.lines:
                return f"{self.href}#L{self.lines[path]}"
            parent = _LAST.sub("", path)
            if parent == path:
                return None
            path = parent
        return None

    def split(self, text: str) -> Iterator[tuple[str, str | None]]:
        """`text` as (piece, link target or None): each key this file has a line for, and the text around it."""
        if self.pattern is None:
            yield text, None
            return
        at = 0
        for m in self.pattern.finditer(text):
            href = self.target(m.group(0))
            if href is None:
                continue
            if m.start() > at:
                yield text[at:m.start()], None
            yield m.group(0), href
            at = m.end()
        if at < len(text):
            yield text[at:], None

    def whole(self, text: str) -> str | None:
        """The link target when all of `text` is one key (a table cell, a code span), else None."""
        if self.pattern is None or not self.pattern.fullmatch(text):
            return None
        return self.target(text)


def link(stack_file: Path, key_path: str, *, base: str | None = None, root: Path | None = None) -> str | None:
    """`[`key`](Pulumi.prod.yaml#L123)`, under `base` (else $GPU_FLEET_LINK_BASE) when given.

    None when the key itself is not in the file.
    """
    base = base if base is not None else os.environ.get(LINK_BASE_ENV) or ""
    found = StackLinks.read(stack_file, root=root or stack_file.parent, base=f"{base.rstrip('/')}/" if base else "")
    if found is None or key_path not in found.lines:
        return None
    return f"[`{key_path}`]({found.target(key_path)})"
