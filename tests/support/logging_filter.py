"""A small evaluator of the Cloud Logging query language, for the subset gpu-fleet's log-based metrics use.

It follows the language as documented (cloud.google.com/logging/docs/view/logging-query-language): a comparison
`path OP value` walks the entry's fields by dotted path, and a repeated field matches when any element does; `=` is
equality, `:` ("has") a case-insensitive substring match; `(a OR b)` as a value is any of them; `AND`, `OR`, `NOT` and
parentheses combine comparisons (NOT binds tightest, then AND, then OR); `log_id("x")` matches the entry whose
`logName` ends in `/logs/<x, URL-encoded>`. A path that does not exist never matches. Anything outside the subset
raises, so a filter gpu-fleet emits cannot silently mean something else here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>[=:()])|(?P<word>[A-Za-z_@][\w.@/-]*))')


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read the filter at {text[pos:pos + 30]!r}")
        out.append(m.group(m.lastgroup or ""))
        pos = m.end()
    return out


def _values(node: Any, path: list[str]) -> list[Any]:
    """Every value at `path`, descending into every element of repeated fields."""
    if isinstance(node, list):
        return [v for item in node for v in _values(item, path)]
    if not path:
        return [node]
    if not isinstance(node, dict) or path[0] not in node:
        return []
    return _values(node[path[0]], path[1:])


class _Parser:
    def __init__(self, text: str, entry: dict[str, Any]) -> None:
        self.toks, self.i, self.entry = _tokens(text), 0, entry

    def _peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _take(self, want: str | None = None) -> str:
        tok = self._peek()
        if tok is None or (want is not None and tok != want):
            raise ValueError(f"expected {want!r}, found {tok!r}")
        self.i += 1
        return tok

    def parse(self) -> bool:
        result = self._or()
        if self._peek() is not None:
            raise ValueError(f"unexpected {self._peek()!r}")
        return result

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == "OR":
            self._take()
            result = self._and() or result
        return result

    def _and(self) -> bool:
        result = self._not()
        while self._peek() == "AND":
            self._take()
            result = self._not() and result
        return result

    def _not(self) -> bool:
        if self._peek() == "NOT":
            self._take()
            return not self._not()
        return self._atom()

    def _atom(self) -> bool:
        tok = self._take()
        if tok == "(":
            result = self._or()
            self._take(")")
            return result
        if tok == "log_id":
            self._take("(")
            name = _string(self._take())
            self._take(")")
            return str(self.entry.get("logName", "")).endswith("/logs/" + quote(name, safe=""))
        op = self._take()
        if op not in ("=", ":"):
            raise ValueError(f"unsupported operator {op!r}")
        wanted = self._value_list()
        found = [str(v) for v in _values(self.entry, tok.split("."))]
        if op == "=":
            return any(f == w for f in found for w in wanted)
        return any(w.lower() in f.lower() for f in found for w in wanted)

    def _value_list(self) -> list[str]:
        if self._peek() != "(":
            return [_string(self._take())]
        self._take("(")
        out = [_string(self._take())]
        while self._peek() == "OR":
            self._take()
            out.append(_string(self._take()))
        self._take(")")
        return out


def _string(tok: str) -> str:
    if not (tok.startswith('"') and tok.endswith('"')):
        raise ValueError(f"expected a quoted string, found {tok!r}")
    return tok[1:-1].replace('\\"', '"')


def matches(log_filter: str, entry: dict[str, Any]) -> bool:
    """Whether `entry` (a LogEntry as the Logging API returns it) matches `log_filter`."""
    return _Parser(log_filter, entry).parse()
