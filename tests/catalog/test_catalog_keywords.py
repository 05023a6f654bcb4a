"""Catalog rows are built by keyword (issue 25): `_gcp("a2-highgpu-1g", gpu="a100-40gb", gpus=1, vcpus=12,
memory_gb=85)`, so a reader can tell vCPUs from memory and a row cannot put one fact in another's place.

Two holds keep position from creeping back: the row helpers and the record types take only their first argument
(the row's name or key) by position, which Python enforces at call time; and every call the catalog's own source
makes to them passes at most that one positional argument, read from its AST.

That the rows themselves did not change when they were rewritten by keyword was checked once, field by field,
against a dump of every module-level value of `components.catalog` taken before (the commit says so); the rows'
values are held by tests/catalog (every AWS row against Karpenter's reference, the GCP rows' prices against their
SKU quantities) and by the golden plans, not by a copy of the table here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.catalog import aws, gcp, gcp_limits, gpus, types, xid

CATALOG = Path(aws.__file__).resolve().parent

ROW_HELPERS: dict[str, Callable[..., Any]] = {
    "_gcp": gcp._gcp, "_aws": aws._aws, "_g7": aws._g7, "_gcp_gpu": gpus._gcp_gpu, "_aws_gpu": gpus._aws_gpu,
    "_zones": gcp_limits._zones,
}
"""The functions the catalog's tables are built with, by the name the source calls them by."""

KEYWORD_RECORDS: tuple[type, ...] = (types.MachineType, types.Gpu, types.Refusal, types.AwsQuota,
                                     gcp_limits.MachineSeries, xid.Xid)
"""The record types catalog tables are made of; nothing outside components/catalog builds them."""

POSITIONAL_RECORDS = {"Source"}
"""Records the catalog may build by position: a Source is (url, checked), an address and a date no reader confuses,
written hundreds of times; its keywords would only lengthen every citation."""


def _records() -> set[str]:
    """Every dataclass defined in components/catalog, by name."""
    found = set()
    for path in CATALOG.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    "dataclass" in ast.unparse(d) for d in node.decorator_list):
                found.add(node.name)
    return found


def _keyword_only_after_first(signature: inspect.Signature) -> list[str]:
    """The parameters after the first that a caller may still pass by position."""
    params = list(signature.parameters.values())[1:]
    return [p.name for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]


@pytest.mark.parametrize("name", sorted(ROW_HELPERS))
def test_row_helpers_take_only_the_name_by_position(name: str) -> None:
    assert _keyword_only_after_first(inspect.signature(ROW_HELPERS[name])) == [], name


@pytest.mark.parametrize("record", KEYWORD_RECORDS, ids=lambda r: r.__name__)
def test_catalog_records_take_only_their_key_by_position(record: type) -> None:
    assert dataclasses.is_dataclass(record)
    assert _keyword_only_after_first(inspect.signature(record)) == [], record.__name__


def test_a_positional_row_is_refused() -> None:
    with pytest.raises(TypeError):
        gcp._gcp("a2-highgpu-1g", "a100-40gb", 1, 12, 85)  # type: ignore[misc]
    with pytest.raises(TypeError):
        types.AwsQuota("L-417A185B", "Running On-Demand P instances", aws.AWS_SPECS_SOURCE)  # type: ignore[misc]


def _positional_calls() -> list[str]:
    """`file:line callee(...)` for every call in components/catalog passing more than one argument by position to a
    row helper or a catalog record (Source excepted)."""
    callees = (_records() - POSITIONAL_RECORDS) | set(ROW_HELPERS)
    found = []
    for path in sorted(CATALOG.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callees
                    and (len(node.args) > 1 or any(isinstance(a, ast.Starred) for a in node.args))):
                found.append(f"{path.name}:{node.lineno} {node.func.id}(...)")
    return found


def test_the_check_sees_the_tables() -> None:
    """The AST check below would pass on an empty catalog: make sure it reads the tables it guards."""
    records = _records()
    assert {"MachineType", "Gpu", "Refusal", "AwsQuota", "MachineSeries", "Xid", "Price", "PriceSku"} <= records
    calls = [n.func.id for p in CATALOG.glob("*.py") for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert calls.count("_gcp") >= len(gcp.MACHINE_TYPES)
    assert calls.count("_aws") + calls.count("_g7") >= len(aws.MACHINE_TYPES)


def test_catalog_rows_are_built_by_keyword() -> None:
    assert _positional_calls() == []
