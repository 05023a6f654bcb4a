"""Lower rooms never import higher ones: every import of every project module, read with ast, against one order.

The order is the code's own (README "Layout"): the vocabulary (catalog, chart pins, the label conventions) imports
nothing above it; the config model only the vocabulary; capacity and the in-cluster software the two below them,
never each other; the cloud wings everything below, never each other; `infra/` and the policy pack compose or
judge, and only the CLI sees them both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("components", "infra", "policies", "gpufleet")

ROOMS: tuple[tuple[str, ...], ...] = (
    ("components.catalog", "components.versions", "components.kubernetes.conventions"),
    ("components.images",),
    ("components.config",),
    ("components.capacity", "components.kubernetes"),
    ("components.gcp", "components.aws", "components.openshift"),
    ("infra", "policies"),
    ("gpufleet",),
)
"""Rooms from the bottom up: a module may import its own room and any room on a lower line, nothing else."""
LEVEL = {room: level for level, rooms in enumerate(ROOMS) for room in rooms}


def room_of(module: str) -> str:
    """The room a dotted module name lives in: the longest room name it starts with."""
    found = [r for r in LEVEL if module == r or module.startswith(r + ".")]
    if not found:
        raise AssertionError(f"{module}: in no room; add its package to ROOMS (tests/infra/test_layering.py)")
    return max(found, key=len)


def project_modules() -> dict[str, Path]:
    """Every project module's dotted name and file."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported(tree: ast.AST, known: set[str]) -> Iterator[tuple[int, str]]:
    """(line, module) of every project module an ast imports, at the top or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.split(".")[0] in PACKAGES)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:  # `from components import catalog` imports the catalog room
                sub = f"{node.module}.{alias.name}"
                yield node.lineno, sub if sub in known else node.module


def upward(module: str, source: str, known: set[str]) -> list[str]:
    """The imports of ``module`` that reach a room that is not its own and not below it."""
    own = room_of(module)
    bad = []
    for line, target in sorted(set(imported(ast.parse(source), known))):
        room = room_of(target)
        if room != own and LEVEL[room] >= LEVEL[own]:
            bad.append(f"{module}:{line} imports {target} ({room}, level {LEVEL[room]} >= {own}, level {LEVEL[own]})")
    return bad


def test_no_module_imports_a_room_above_or_beside_its_own() -> None:
    modules = project_modules()
    known = set(modules)
    sources = {name: path.read_text(encoding="utf-8") for name, path in modules.items()}
    # `components/__init__.py` is empty: the package is only the house the rooms stand in.
    bad = [b for name, source in sources.items() if source.strip() for b in upward(name, source, known)]
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


def test_every_room_holds_code() -> None:
    modules = set(project_modules())
    empty = [r for r in LEVEL if not any(m == r or m.startswith(r + ".") for m in modules)]
    assert not empty, f"rooms with no module (a renamed package?): {empty}"


def test_the_walk_finds_an_upward_import_a_function_hides() -> None:
    known = set(project_modules())
    source = "def f():\n    from components.capacity.rows import PriceBook\n"
    assert upward("components.kubernetes.monitoring.targets", source, known) == [
        "components.kubernetes.monitoring.targets:2 imports components.capacity.rows (components.capacity, level 3 "
        ">= components.kubernetes, level 3)"]
    assert upward("components.capacity.gke", "from components import catalog\n", known) == []
    assert upward("components.catalog.gcp", "from components import config\n", known) == [
        "components.catalog.gcp:1 imports components.config (components.config, level 2 >= components.catalog, "
        "level 0)"]
    assert upward("components.aws.efa", "import components.gcp.network\n", known) != []
