"""`gpufleet/cli.py` is the command line only; each command's body is its own module, imported when it runs.

The import tests (test_cli_imports.py) hold what each command loads; this holds the shape that makes it so: the
CLI module imports no command module at its top, and no function of the CLI or of a command grows past a screen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "gpufleet" / "commands").glob("*.py"))
LIGHT = {"gpufleet.commands.common", "gpufleet.comment_size", "gpufleet.usage", "gpufleet.prices_cli"}
"""What the CLI module may import at its top: the shared exit codes and errors, and the parser's own needs."""


def _top_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{a.name}" if node.module == "gpufleet" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m.split(".")[0] in ("gpufleet", "components", "infra", "policies")}


def test_there_is_a_module_per_command() -> None:
    assert {"gpufleet/commands/plan.py", "gpufleet/commands/fabric.py", "gpufleet/commands/ci.py",
            "gpufleet/commands/preview.py", "gpufleet/commands/openshift.py"} <= set(COMMANDS)


def test_the_cli_imports_no_command_body_at_its_top() -> None:
    assert _top_imports(ROOT / "gpufleet" / "cli.py") - LIGHT == set()
    assert _top_imports(ROOT / "gpufleet" / "commands" / "plan.py") - LIGHT  # the walk sees a command's imports


@pytest.mark.parametrize("path", ["gpufleet/cli.py", *COMMANDS])
def test_no_function_over_a_screen(path: str) -> None:
    """STYLE.md: no function grows past ~50 lines."""
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(ast.parse((ROOT / path).read_text()))
            if isinstance(n, ast.FunctionDef) and n.end_lineno is not None and n.end_lineno - n.lineno + 1 > 50}
    assert long == {}
