"""A local Kubernetes API server for tests: real HTTP on 127.0.0.1, with the read semantics clients rely on.

It serves GET (read and list) of the resources it is told about, and answers the way kube-apiserver does, so a
client that relies on something a real server would not do fails here too:
- list semantics of k8s.io/apiserver's etcd3 store (kubernetes/apiserver @24a394e `pkg/storage/etcd3/store.go`
  `GetList`): items in key order (`<namespace>/<name>`), label selectors matched against `metadata.labels` only,
  field selectors on `metadata.name` and `metadata.namespace` only, `limit` filled from matching items, and
  `metadata.continue` an opaque token (`pkg/storage/continue.go`: base64url JSON `{v, rv, start}`) while keys remain;
  a bad token is 400 "continue key is not valid";
- label selectors parsed and matched as k8s.io/apimachinery @eed236c `pkg/labels/selector.go` does (`=`, `==`, `!=`,
  `in`, `notin`, `key`, `!key`, `gt`/`lt`; `!=` and `notin` match objects without the key);
- errors as `pkg/api/errors/errors.go` builds them: a missing object is a 404 Status `<resource>.<group> "<name>" not
  found`; a path no API group serves is the plain-text `404 page not found` of Go's `http.NotFound`
  (kubernetes/apiserver `pkg/util/notfoundhandler`); a wrong token is 401; a forbidden (verb, resource, namespace)
  is the 403 of `pkg/endpoints/handlers/responsewriters/errors.go` `forbiddenMessage`;
- an aggregated API may differ: OLM's packageserver ignores `limit`/`continue` and accepts only `metadata.name` as
  field selector (operator-framework/operator-lifecycle-manager @992bb09 `pkg/package-server/storage/reststorage.go`),
  and lists a namespace's packages together with those of the global catalog namespace.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A resource type the server serves: where it lives and how its lists behave."""

    group: str
    """API group; "" for the core group (served under /api)."""
    version: str
    plural: str
    kind: str
    namespaced: bool
    paginates: bool = True
    """False for aggregated servers that ignore `limit` and `continue` (OLM's packageserver)."""
    field_labels: frozenset[str] = frozenset({"metadata.name", "metadata.namespace"})
    """Field selectors the server accepts; anything else is a 400."""
    global_namespace: str | None = None
    """packageserver: a namespaced list also returns this namespace's objects (the global catalog namespace)."""

    @property
    def qualified(self) -> str:
        """`plural.group` as Kubernetes errors name a resource (`configmaps` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "configmaps", "ConfigMap", namespaced=True),
    Resource("config.openshift.io", "v1", "infrastructures", "Infrastructure", namespaced=False),
    Resource("config.openshift.io", "v1", "clusterversions", "ClusterVersion", namespaced=False),
    Resource("machine.openshift.io", "v1beta1", "machinesets", "MachineSet", namespaced=True),
    Resource("autoscaling.openshift.io", "v1", "clusterautoscalers", "ClusterAutoscaler", namespaced=False),
    Resource("operators.coreos.com", "v1alpha1", "subscriptions", "Subscription", namespaced=True),
    Resource("packages.operators.coreos.com", "v1", "packagemanifests", "PackageManifest", namespaced=True,
             paginates=False, field_labels=frozenset({"metadata.name"}), global_namespace="openshift-marketplace"),
)
"""What an OpenShift 4.x API server serves of what `gpu-fleet openshift discover` reads."""


class ApiError(Exception):
    """An HTTP error answer: status code and body (a metav1.Status, or plain text)."""

    def __init__(self, code: int, body: Object | str) -> None:
        super().__init__(code)
        self.code, self.body = code, body


def status(code: int, reason: str, message: str, details: Object | None = None) -> Object:
    """A metav1.Status as kube-apiserver writes it (k8s.io/apimachinery `pkg/api/errors`)."""
    out: Object = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                   "reason": reason, "code": code}
    if details is not None:
        out["details"] = details
    return out


# --- label and field selectors -------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"""^\s*(?:
        !\s*(?P<absent>[^\s!=<>(),]+)
      | (?P<key>[^\s!=<>(),]+)\s*(?:
            (?P<op>==|=|!=|>|<)\s*(?P<value>[^\s,()]*)
          | \s(?P<setop>in|notin)\s*\((?P<values>[^()]*)\)
        )?
    )\s*$""", re.VERBOSE)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        # k8s.io/apimachinery pkg/labels/selector.go `(*Requirement).Matches`.
        present = self.key in labels
        if self.op in ("in", "="):
            return present and labels[self.key] in self.values
        if self.op in ("notin", "!="):
            return not present or labels[self.key] not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present or not re.fullmatch(r"-?[0-9]+", labels[self.key]):
            return False
        return int(labels[self.key]) > int(self.values[0]) if self.op == "gt" else \
            int(labels[self.key]) < int(self.values[0])


def _split_requirements(text: str) -> list[str]:
    """Split at commas outside parentheses (`a in (x,y),b` is two requirements)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def parse_label_selector(text: str) -> list[Requirement]:
    """A label selector string as requirements; a malformed one is a 400, as the API server answers."""
    if not text.strip():
        return []
    out = []
    for part in _split_requirements(text):
        m = _REQUIREMENT.match(part)
        if m is None:
            raise ApiError(400, status(400, "BadRequest", f"unable to parse requirement: {part.strip()!r}"))
        if m["absent"]:
            out.append(Requirement(m["absent"], "!"))
        elif m["setop"]:
            values = tuple(v.strip() for v in m["values"].split(",")) if m["values"].strip() else ()
            if not values:
                raise ApiError(400, status(400, "BadRequest", f"for '{m['setop']}' operator, values set can't be "
                                           "empty"))
            out.append(Requirement(m["key"], m["setop"], values))
        elif m["op"]:
            op = {"==": "=", ">": "gt", "<": "lt"}.get(m["op"], m["op"])
            if op in ("gt", "lt") and not re.fullmatch(r"-?[0-9]+", m["value"]):
                raise ApiError(400, status(400, "BadRequest", f"for 'Gt', 'Lt' operators, the value must be an "
                                           f"integer: {m['value']!r}"))
            out.append(Requirement(m["key"], op, (m["value"],)))
        else:
            out.append(Requirement(m["key"], "exists"))
    return out


def parse_field_selector(text: str, resource: Resource) -> list[tuple[str, bool, str]]:
    """(field, equal?, value) terms; a field the resource does not index is a 400."""
    terms = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([^!=]+?)\s*(==|=|!=)\s*(.*)", part)
        if m is None:
            raise ApiError(400, status(400, "BadRequest", f"invalid selector: {part!r}; can't understand {part!r}"))
        if m[1] not in resource.field_labels:
            if not resource.paginates:  # the packageserver's own error, which the API machinery makes a 500
                raise ApiError(500, status(500, "InternalError", f"field label not supported: {m[1]}"))
            raise ApiError(400, status(400, "BadRequest", f"field label not supported: {m[1]}"))
        terms.append((m[1], m[2] != "!=", m[3]))
    return terms


def _field(obj: Object, name: str) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get(name.removeprefix("metadata."), ""))


# --- the server ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    path: str
    """The decoded path, without the query."""
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeApiServer:
    """Serves `objects` over HTTP (or HTTPS with `tls=(cert, key)`) for a client holding `token`."""

    objects: Iterable[Object] = ()
    token: str = "sha256~fake-apiserver-token"
    user: str = "kube:admin"
    resources: tuple[Resource, ...] = RESOURCES
    tls: tuple[Path, Path] | None = None
    requests: list[Request] = field(default_factory=list)
    resource_version: int = 51000
    _store: dict[Resource, dict[str, Object]] = field(default_factory=dict)
    _forbidden: set[tuple[str, str, str | None]] = field(default_factory=set)
    _failing: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._store = {r: {} for r in self.resources}
        for obj in self.objects:
            self.add(obj)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.server = server
        scheme = "https" if self.tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"

    # -- what the test changes
    def resource(self, api_version: str, kind: str) -> Resource:
        group, _, version = api_version.rpartition("/")
        for r in self.resources:
            if (r.group, r.version, r.kind) == (group, version, kind):
                return r
        raise KeyError(f"{api_version} {kind} is not served")

    def add(self, obj: Object) -> None:
        """Store an object (a deep copy, with a resourceVersion), replacing one of the same key."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        stored = json.loads(json.dumps(obj))
        self.resource_version += 1
        stored["metadata"].setdefault("resourceVersion", str(self.resource_version))
        self._store[resource][self._key(resource, stored)] = stored

    def remove(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        resource = self.resource(api_version, kind)
        del self._store[resource][f"{namespace}/{name}" if resource.namespaced else name]

    def stop_serving(self, api_version: str, kind: str) -> None:
        """Make the resource type unknown (its CRD or API service absent): its paths are `404 page not found`."""
        resource = self.resource(api_version, kind)
        self.resources = tuple(r for r in self.resources if r != resource)

    def forbid(self, verb: str, plural: str, namespace: str | None = None) -> None:
        """RBAC denies `verb` on `plural` (in `namespace`, or at the cluster scope / in all namespaces)."""
        self._forbidden.add((verb, plural, namespace))

    def fail(self, plural: str, code: int, message: str) -> None:
        """Every request for `plural` fails with `code` (an aggregated API whose backend is down answers 503)."""
        self._failing[plural] = (code, message)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Object:
        resource = self.resource(api_version, kind)
        return self._store[resource][f"{namespace}/{name}" if resource.namespaced else name]

    # -- lifecycle
    def __enter__(self) -> FakeApiServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Path, *, server: str | None = None, ca: Path | None = None) -> Path:
        """Write a kubeconfig for this server's user (the test writes it; product code never does)."""
        cluster: Object = {"server": server or self.url}
        if ca is not None:
            cluster["certificate-authority"] = str(ca)
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "admin",
            "clusters": [{"name": "cluster", "cluster": cluster}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "admin", "context": {"cluster": "cluster", "user": "admin"}}],
        }))
        return path

    # -- answering
    @staticmethod
    def _key(resource: Resource, obj: Object) -> str:
        meta = obj["metadata"]
        return f"{meta['namespace']}/{meta['name']}" if resource.namespaced else str(meta["name"])

    def answer(self, path: str, query: Mapping[str, str], authorization: str | None) -> Object:
        """The JSON body for GET `path`, or an ApiError."""
        if authorization != f"Bearer {self.token}":
            raise ApiError(401, status(401, "Unauthorized", "Unauthorized"))
        resource, namespace, name = self._route(path)
        verb = "get" if name is not None else "list"
        if (verb, resource.plural, namespace) in self._forbidden or (verb, resource.plural, None) in self._forbidden:
            raise ApiError(403, self._forbidden_status(verb, resource, namespace, name))
        if resource.plural in self._failing:
            code, message = self._failing[resource.plural]
            raise ApiError(code, status(code, "ServiceUnavailable" if code == 503 else "InternalError", message))
        if name is not None:
            return self._read(resource, namespace, name)
        return self._list(resource, namespace, query)

    def _route(self, path: str) -> tuple[Resource, str | None, str | None]:
        """/api/v1/... or /apis/<group>/<version>/...: (resource, namespace, name) or `404 page not found`."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "404 page not found\n")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        for r in self.resources:
            if (r.group, r.version) == (group, version) and rest and rest[0] == r.plural and len(rest) <= 2 and \
                    (namespace is None or r.namespaced):
                if r.namespaced and namespace is None and len(rest) == 2:
                    break  # a namespaced object has no cluster-scoped path
                return r, namespace, rest[1] if len(rest) == 2 else None
        raise ApiError(404, "404 page not found\n")

    def _forbidden_status(self, verb: str, resource: Resource, namespace: str | None, name: str | None) -> Object:
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        message = f'User "{self.user}" cannot {verb} resource "{resource.plural}" in API group "{resource.group}" ' \
                  f"{where}"
        subject = f'{resource.qualified} "{name}"' if name else resource.qualified
        return status(403, "Forbidden", f"{subject} is forbidden: {message}",
                      {"name": name, "group": resource.group, "kind": resource.plural} if name else
                      {"group": resource.group, "kind": resource.plural})

    def _read(self, resource: Resource, namespace: str | None, name: str) -> Object:
        objects = self._store[resource]
        key = f"{namespace}/{name}" if resource.namespaced else name
        if key not in objects and resource.global_namespace is not None:
            key = f"{resource.global_namespace}/{name}"
        if key not in objects:
            raise ApiError(404, status(404, "NotFound", f'{resource.qualified} "{name}" not found',
                                       {"name": name, "group": resource.group, "kind": resource.plural}))
        obj = json.loads(json.dumps(objects[key]))
        if namespace is not None:
            obj["metadata"]["namespace"] = namespace
        return obj  # type: ignore[no-any-return]

    def _list(self, resource: Resource, namespace: str | None, query: Mapping[str, str]) -> Object:
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(query.get("fieldSelector", ""), resource)
        limit = int(query.get("limit") or 0) if resource.paginates else 0
        start = self._decode_continue(query["continue"]) if resource.paginates and query.get("continue") else ""
        scope = {namespace, resource.global_namespace} if namespace is not None else None
        keys = sorted(k for k, obj in self._store[resource].items()
                      if scope is None or obj["metadata"].get("namespace") in scope)
        items, more, last = [], False, ""
        for key in (k for k in keys if k >= start):
            obj = self._store[resource][key]
            if all(r.matches(obj["metadata"].get("labels") or {}) for r in labels) and \
                    all((_field(obj, f) == v) == equal for f, equal, v in fields):
                items.append(json.loads(json.dumps(obj)))
            if limit and len(items) == limit:
                # The page is full: a token while any key remains, matching or not (etcd3 store `hasMore`).
                more, last = any(k > key for k in keys), key
                break
        meta: Object = {"resourceVersion": str(self.resource_version)}
        if more:
            token = json.dumps({"v": "meta.k8s.io/v1", "rv": self.resource_version, "start": last + "\x00"})
            meta["continue"] = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            if not labels and not fields:
                meta["remainingItemCount"] = sum(1 for k in keys if k > last)
        if namespace is not None and resource.global_namespace is not None:
            for obj in items:
                obj["metadata"]["namespace"] = namespace
        return {"apiVersion": f"{resource.group}/{resource.version}".lstrip("/"), "kind": f"{resource.kind}List",
                "metadata": meta, "items": items}

    @staticmethod
    def _decode_continue(token: str) -> str:
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            assert data["v"] == "meta.k8s.io/v1" and data["rv"] and data["start"]
            return str(data["start"])
        except (ValueError, KeyError, AssertionError, TypeError):
            raise ApiError(400, status(400, "BadRequest", "continue key is not valid")) from None


def _handler(server: FakeApiServer) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(split.path)
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            server.requests.append(Request(path, query, self.headers.get("Authorization")))
            try:
                code, body = 200, server.answer(path, query, self.headers.get("Authorization"))
            except ApiError as exc:
                code, body = exc.code, exc.body
            text = body if isinstance(body, str) else json.dumps(body)
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(body, str) else
                             "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
