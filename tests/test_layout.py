"""The tests are laid out like the code (issue 25): one package per wing, helpers in tests/support, small files.

A test module never imports another test module (shared helpers live in tests/support/), no test file grows past
500 lines, and every test file sits in a package that mirrors a part of the code (STYLE.md, "Tests mirror the code").
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.plans import ROOT

TESTS = ROOT / "tests"
MAX_LINES = 500
MIRRORS = {
    # test package -> the code it tests
    "aws": "components/aws",
    "gcp": "components/gcp",
    "openshift": "components/openshift",
    "kubernetes": "components/kubernetes",
    "catalog": "components/catalog",
    "config": "components/config",
    "capacity": "components/capacity",
    "policies": "policies",
    "cli": "gpufleet",
    "infra": "infra",
    "ci": ".github/workflows",
}
TOP_LEVEL = {"test_readme.py", "test_layout.py"}
"""Tests of the repository as a whole (the README, this layout), beside conftest.py."""


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "support" not in p.relative_to(TESTS).parts)


def test_every_test_package_mirrors_the_code() -> None:
    for package, code in MIRRORS.items():
        assert (ROOT / code).is_dir(), f"tests/{package}/ mirrors {code}/, which is gone"
        assert (TESTS / package / "__init__.py").is_file(), f"tests/{package}/ needs an __init__.py"
    misplaced = [str(p.relative_to(TESTS)) for p in _test_files()
                 if (p.parent == TESTS and p.name not in TOP_LEVEL)
                 or (p.parent != TESTS and p.relative_to(TESTS).parts[0] not in MIRRORS)]
    assert not misplaced, f"test files outside the code's wings {sorted(MIRRORS)}: {misplaced}"


def imported_test_modules(source: str) -> list[str]:
    """The test modules (or conftest) that a module's source imports: `tests.<...>.test_*` or `tests.conftest`."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return [n for n in names if n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith(("test_", "conftest"))]


def test_no_test_module_imports_another() -> None:
    found = {str(p.relative_to(TESTS)): imported
             for p in _test_files() + sorted((TESTS / "support").glob("*.py"))
             if (imported := imported_test_modules(p.read_text()))}
    assert not found, f"import helpers from tests/support/ instead: {found}"


def test_no_test_file_is_over_500_lines() -> None:
    long = {str(p.relative_to(TESTS)): n for p in _test_files() + sorted((TESTS / "support").glob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by concern: {long}"


def test_the_import_rule_would_catch_a_test_importing_another() -> None:
    source = "import tests.conftest\nfrom tests.aws.test_eks import x\nfrom tests.support.plans import ROOT\n"
    assert imported_test_modules(source) == ["tests.conftest", "tests.aws.test_eks"]
