"""No function in the program grows past a screen (issue 25, STYLE.md "Size").

A component's `__init__` reads as a table of contents of named helpers, and so does every other long function:
the dashboard's sections, a rule module's checks, a capacity extractor. This reads every function of
`components/`, `infra/` and `policies/` from its AST (methods and nested functions included, from its `def` line
to its last line) and fails on any longer than LIMIT, unless ALLOWED names it with the reason it must stay.

`gpufleet/` is not held here yet: its command line, report and headroom modules are being split on their own
branches; tests/infra/test_shape.py holds the modules issue 25 reshaped to about 50 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("components", "infra", "policies")
LIMIT = 60
"""Lines a function may run to: a screen. The reshaped functions run to about 50, so 60 leaves room for a new
case or argument without inviting a second table of contents inside the first."""

ALLOWED: dict[str, str] = {}
"""`path::qualified.name` -> why it must stay longer than LIMIT. None must: every long function split into named
steps without changing a child, a name or a parent (the golden plans hold that)."""


def _functions() -> dict[str, int]:
    """`path::qualified.name` -> lines, for every function and method in ROOMS."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                assert child.end_lineno is not None
                found[f"{path}::{prefix}{child.name}"] = child.end_lineno - child.lineno + 1
                visit(child, path, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, path, f"{prefix}{child.name}.")
            else:
                visit(child, path, prefix)

    for room in ROOMS:
        for file in sorted((ROOT / room).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            visit(ast.parse(file.read_text(encoding="utf-8")), path, "")
    return found


def test_the_scan_reads_the_program() -> None:
    """The check below passes on an empty tree: make sure it sees the functions it holds, methods included."""
    functions = _functions()
    assert len(functions) > 500
    assert "components/gcp/budget.py::GcpBudget.__init__" in functions
    assert "components/kubernetes/monitoring/dashboards.py::sections" in functions
    assert any(name.startswith("infra/") for name in functions)
    assert any(name.startswith("policies/") for name in functions)


def test_no_function_runs_past_a_screen() -> None:
    long = {name: lines for name, lines in _functions().items() if lines > LIMIT and name not in ALLOWED}
    assert long == {}, f"split these into named helpers (STYLE.md, Size), or say in ALLOWED why not: {long}"


def test_every_allowance_is_still_needed() -> None:
    """An allowance whose function was split or removed goes, so the list never hides a new long function."""
    functions = _functions()
    stale = sorted(name for name in ALLOWED if functions.get(name, 0) <= LIMIT)
    assert stale == [], f"{LIMIT} lines or fewer now (or gone): drop them from ALLOWED"
