"""The report and the headroom as packages by concern (issue 25, "Report sections as functions"), read from source.

Each package's modules stand in one order, from the bottom up, and import only modules on a lower line at run time
(`Plan` is a type the sections name under `TYPE_CHECKING`, never an import); none passes ~400 lines; none reaches
into another's private names. Then the contract that makes a section a plug-in: the comment, the terminal and the
plan JSON all take `SECTIONS`, and neither renderer shows anything a section did not say.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from components.capacity import cost
from gpufleet import report
from gpufleet.report import comment
from gpufleet.sections import Section

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
"""No module of either package over this many lines (the brief's ~400: one concern reads on a few screens)."""

ORDERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "gpufleet.report": (
        ("formatting",),
        ("capacity", "limits", "monitoring", "verdict", "inventory"),
        ("comment",),
        ("terminal", "plan"),
        ("__init__",),
    ),
    "gpufleet.headroom": (
        ("quota",),
        ("budget",),
        ("where_else", "shared"),
        ("__init__",),
    ),
}
"""Each package's modules from the bottom up: a module imports only modules of its package on a lower line."""
BELOW_BOTH = ("gpufleet.base_plan", "gpufleet.sections")
"""What both packages read (a plan JSON read back, the `Section` value): they import neither package."""


def _files(package: str) -> dict[str, Path]:
    folder = ROOT / package.replace(".", "/")
    assert folder.is_dir(), f"{package} is a single module, not a package by concern"
    return {p.stem: p for p in sorted(folder.glob("*.py"))}


def _runtime_imports(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of every import that runs: at the top, in functions, never under `if TYPE_CHECKING`."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [a.name for a in node.names]
            yield node.lineno, node.module, names
            yield from ((node.lineno, f"{node.module}.{n}", []) for n in names)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name, []) for a in node.names)


def _upward(package: str, files: dict[str, Path]) -> list[str]:
    level = {m: i for i, line in enumerate(ORDERS[package]) for m in line}
    bad = []
    for name, path in files.items():
        for line, target, _ in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if not target.startswith(package + "."):
                continue
            other = target.removeprefix(package + ".").split(".")[0]
            if other in level and level[other] >= level[name] and other != name:
                bad.append(f"{package}.{name}:{line} imports {target}")
    return bad


@pytest.mark.parametrize("package", sorted(ORDERS))
def test_every_module_stands_in_the_order(package: str) -> None:
    files = _files(package)
    placed = {m for line in ORDERS[package] for m in line}
    assert set(files) == placed, f"modules not in ORDERS (or gone): {sorted(set(files) ^ placed)}"


@pytest.mark.parametrize("package", sorted(ORDERS))
def test_no_module_imports_one_on_its_own_line_or_above(package: str) -> None:
    assert _upward(package, _files(package)) == []


def test_the_order_check_would_catch_a_section_importing_the_assembly(tmp_path: Path) -> None:
    (tmp_path / "capacity.py").write_text("from gpufleet.report.comment import SECTIONS\n")
    (tmp_path / "comment.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from gpufleet.report.plan import Plan\n")
    assert _upward("gpufleet.report", {p.stem: p for p in tmp_path.glob("*.py")}) == [
        "gpufleet.report.capacity:1 imports gpufleet.report.comment",
        "gpufleet.report.capacity:1 imports gpufleet.report.comment.SECTIONS"]


def test_the_shared_readers_and_the_headroom_import_no_report_at_run_time() -> None:
    """gpufleet/headroom/ sits below the report (the report's `limits` shows its sections), the readers below both."""
    sources = {**{f"gpufleet.headroom.{m}": p for m, p in _files("gpufleet.headroom").items()},
               **{m: ROOT / (m.replace(".", "/") + ".py") for m in BELOW_BOTH}}
    bad = [f"{m}:{line} imports {target}" for m, path in sources.items()
           for line, target, _ in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
           if target.startswith("gpufleet.report") or (m in BELOW_BOTH and target.startswith("gpufleet.headroom"))]
    assert bad == []


@pytest.mark.parametrize("package", sorted(ORDERS))
def test_no_module_is_over_the_size_limit(package: str) -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _files(package).items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


@pytest.mark.parametrize("package", sorted(ORDERS))
def test_no_module_imports_anothers_private_names(package: str) -> None:
    private = [f"{package}.{m}:{line} {target}: {n}" for m, path in _files(package).items()
               for line, target, names in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
               if target.startswith("gpufleet.") for n in names if n.startswith("_")]
    assert private == []


def _plan() -> report.Plan:
    """A plan with nothing registered: every real section has little or nothing to say about it."""
    return report.Plan(stack="empty", resources=[], capacity=[], cost=cost([]))


def _probe(plan: report.Plan, base: dict[str, Any] | None) -> Section:
    return Section(key="probe", title="Probe section", headline="probe headline", changed=True,
                   columns=("probe column",), rows=[("probe cell",)], data={"probe": base is None})


def _terminal(plan: report.Plan) -> str:
    buf = io.StringIO()
    report.render(plan, Console(file=buf, width=200, highlight=False))
    return buf.getvalue()


def test_a_section_appended_to_sections_shows_in_the_comment_the_terminal_and_the_json() -> None:
    plan = _plan()
    assert "probe" not in report.markdown(plan) and "probe" not in plan.to_json() and "probe" not in _terminal(plan)
    comment.SECTIONS.append(_probe)
    try:
        md, text, doc = report.markdown(plan), _terminal(plan), plan.to_json()
    finally:
        comment.SECTIONS.remove(_probe)
    assert "probe headline" in md and "probe cell" in md
    assert "Probe section" in text and "probe cell" in text
    assert doc["probe"] == {"probe": True}
    assert report.SECTIONS is comment.SECTIONS  # one list behind the face, so appending there is appending here


def test_the_renderers_show_nothing_a_section_did_not_say() -> None:
    plan = _plan()
    every = report.sections(plan)
    assert {"cost-summary", "regions", "pools", "policy-pack"} <= {s.key for s in every}
    saved = comment.SECTIONS[:]
    comment.SECTIONS[:] = []
    try:
        md, text = report.markdown(plan), _terminal(plan)
    finally:
        comment.SECTIONS[:] = saved
    for s in every:
        assert s.title not in md and s.title not in text, s.title
    assert md.startswith("### ⚪ gpu-fleet plan `empty` no policy verdict") and "NO VERDICT" in text
