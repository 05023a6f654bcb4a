"""A stand-in for the API server's server-side apply: field ownership per manager, conflicts, forced applies.

It follows the rules the Kubernetes documentation gives for server-side apply ("Server-Side Apply": Field
management, Conflicts, Merge strategy) and that `k8s.io/apimachinery`'s structured-merge-diff implements:

- every field an applier sends is owned by that manager (its managedFields entry); two managers that apply the
  same value share the field;
- an apply that *changes* a field another manager owns is a conflict (HTTP 409) unless it is forced, and a forced
  apply takes the field from the other managers;
- a field the manager applied before and leaves out now is released; a field no manager owns any more is removed;
- lists are atomic unless the schema says `x-kubernetes-list-type: set` or `map` (an atomic list is one field,
  owned and replaced whole); objects are granular unless `x-kubernetes-map-type: atomic`.

pulumi-kubernetes' Patch resources apply with their own field manager and, on delete, apply an object with only
the identity, which releases every field (provider/pkg/ssa/actions.go `Relinquish`: "Any fields that no longer have
a manager will return to a default value"): `relinquish` models that.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

Path = tuple[Any, ...]


class Conflict(Exception):
    """HTTP 409 `Apply failed with N conflicts`: (path, the manager that owns it)."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        listed = "; ".join(f'conflict with "{m}": {p}' for p, m in conflicts)
        super().__init__(f"Apply failed with {len(conflicts)} conflicts: {listed}")
        self.conflicts = conflicts


def _child(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if schema is None:
        return None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


IDENTITY: frozenset[Path] = frozenset({("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")})
"""What names the object rather than being a field of it: every applier sends it, nobody owns it."""


def _fields(obj: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[Path, Any]:
    return {p: v for p, v in _leaves(obj, schema) if p not in IDENTITY}


def _leaves(value: Any, schema: Mapping[str, Any] | None, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, value) of each field an object sets, as structured-merge-diff tracks them."""
    if isinstance(value, Mapping) and (schema is None or schema.get("x-kubernetes-map-type") != "atomic") \
            and value:
        for k, v in value.items():
            yield from _leaves(v, _child(schema, k), (*path, k))
        return
    if isinstance(value, list) and schema is not None and schema.get("x-kubernetes-list-type") == "set":
        for v in value:
            yield (*path, ("v", repr(v))), v
        return
    yield path, value


def _get(obj: Any, path: Path) -> Any:
    for p in path:
        if isinstance(p, tuple):  # a set element
            return p[1] if isinstance(obj, list) and any(repr(v) == p[1] for v in obj) else None
        if not isinstance(obj, Mapping) or p not in obj:
            return None
        obj = obj[p]
    return obj


def _set(obj: dict[str, Any], path: Path, value: Any) -> None:
    *parents, last = path
    for p in parents:
        obj = obj.setdefault(p, {})
    obj[last] = copy.deepcopy(value)


def _delete(obj: dict[str, Any], path: Path) -> None:
    *parents, last = path
    chain = [obj]
    for p in parents:
        if not isinstance(chain[-1], dict) or p not in chain[-1]:
            return
        chain.append(chain[-1][p])
    if isinstance(last, tuple):
        if isinstance(chain[-1], list):
            chain[-1][:] = [v for v in chain[-1] if repr(v) != last[1]]
        return
    if isinstance(chain[-1], dict):
        chain[-1].pop(last, None)
    for parent, key in zip(reversed(chain[:-1]), reversed(parents), strict=True):
        if parent[key] == {}:
            del parent[key]


class LiveObject:
    """One object on the stand-in API server, with managedFields per manager (as field paths)."""

    def __init__(self, schema: Mapping[str, Any], obj: dict[str, Any], manager: str) -> None:
        self.schema = schema
        self.obj = copy.deepcopy(obj)
        self.managed: dict[str, set[Path]] = {manager: set(_fields(obj, schema))}

    def owners(self, path: Path) -> list[str]:
        return sorted(m for m, fields in self.managed.items() if path in fields)

    def apply(self, manager: str, obj: Mapping[str, Any], *, force: bool) -> None:
        """A server-side apply (`PATCH` with `application/apply-patch+yaml`) by `manager`."""
        sent = _fields(obj, self.schema)
        conflicts = [("." + ".".join(str(x) for x in p), m) for p, v in sent.items()
                     for m in self.owners(p) if m != manager and _get(self.obj, p) != v]
        if conflicts and not force:
            raise Conflict(conflicts)
        for p, v in sent.items():
            if force:
                for m in self.owners(p):
                    if m != manager and _get(self.obj, p) != v:
                        self.managed[m].discard(p)
            if isinstance(p[-1], tuple):  # a set element: added beside the others
                current = _get(self.obj, p[:-1]) or []
                if v not in current:
                    _set(self.obj, p[:-1], [*current, v])
            else:
                _set(self.obj, p, v)
        released = self.managed.get(manager, set()) - set(sent)
        self.managed[manager] = set(sent)
        for p in released:
            if not self.owners(p):
                _delete(self.obj, p)
        self.managed = {m: f for m, f in self.managed.items() if f}

    def relinquish(self, manager: str) -> None:
        """What deleting a pulumi-kubernetes Patch does: apply the identity only, releasing every field."""
        self.apply(manager, {"apiVersion": self.obj.get("apiVersion"), "kind": self.obj.get("kind"),
                             "metadata": {"name": (self.obj.get("metadata") or {}).get("name")}}, force=False)
