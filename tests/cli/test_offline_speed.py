"""The offline plan skips the SDK's per-resource stack walk and collects garbage seldom, only while it runs.

Timing is the benchmark's business (`./dev bench`); this holds the mechanism (gpufleet/offline.py): the SDK still has
the function the plan replaces (else the saving silently stops), the plan's registrations carry no stack, the SDK is
restored; a plan runs fewer collections, restores the thresholds, and the benchmark's floors collect alike.
"""

from __future__ import annotations

import gc
import importlib
from pathlib import Path

import pytest
import yaml

from gpufleet import cli, offline
from tests.support.plans import ROOT, gke_only, stack_doc

THRESHOLD_OF_THE_RUN = gc.get_threshold()


def test_the_sdk_still_walks_the_stack_where_the_offline_plan_skips_it() -> None:
    runtime_resource = importlib.import_module("pulumi.runtime.resource")
    assert callable(getattr(runtime_resource, "_get_stack_trace", None)), (
        "pulumi.runtime.resource._get_stack_trace is gone: gpufleet/offline.py's _no_source_positions no longer "
        "saves anything; find where this SDK version captures source positions")
    original = runtime_resource._get_stack_trace
    with offline._no_source_positions():
        assert runtime_resource._get_stack_trace is not original
        assert list(runtime_resource._get_stack_trace().frames) == []
    assert runtime_resource._get_stack_trace is original


def test_the_sdk_is_restored_after_a_failing_plan() -> None:
    runtime_resource = importlib.import_module("pulumi.runtime.resource")
    original = runtime_resource._get_stack_trace
    try:
        with offline._no_source_positions():
            raise RuntimeError("the program failed")
    except RuntimeError:
        pass
    assert runtime_resource._get_stack_trace is original


def _collections_of_a_plan(tmp_path: Path) -> int:
    """Collections of every generation while dev's GKE side is planned."""
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(gke_only(stack_doc("dev"))))
    before = sum(g["collections"] for g in gc.get_stats())
    cli.build_plan("dev", path)
    return sum(g["collections"] for g in gc.get_stats()) - before


def test_a_plan_collects_garbage_seldom_and_restores_the_thresholds(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan's graph stays alive until it ends: collecting only walks it again (PLAN_GC_THRESHOLD).

    Each young collection promotes it, and once the old generation has grown by a quarter a full one walks the whole
    heap: in a warm process (the test run's cached plans, the CLI after its imports) two of those were a third of a
    prod plan's CPU. Counted here, not timed: about 3.5 times fewer over a whole small plan (config and report
    included, which run at the thresholds outside the plan).
    """
    gc.set_threshold(700, 10, 10)  # Python's defaults, wherever the run set others
    try:
        seldom = _collections_of_a_plan(tmp_path)
        assert gc.get_threshold() == (700, 10, 10)
        monkeypatch.setattr(offline, "PLAN_GC_THRESHOLD", (700, 10, 10))
        default = _collections_of_a_plan(tmp_path)
    finally:
        gc.set_threshold(*THRESHOLD_OF_THE_RUN)
    assert seldom * 3 <= default, (seldom, default)


def test_the_benchmark_floors_collect_as_the_plan_does() -> None:
    bench = (ROOT / "benchmarks" / "plan_bench.py").read_text()
    assert f"gc.set_threshold({offline.PLAN_GC_THRESHOLD[0]:_}, {offline.PLAN_GC_THRESHOLD[1]}, " \
           f"{offline.PLAN_GC_THRESHOLD[2]})" in bench  # the process floor, which may not import project code
    assert "offline.fewer_collections()" in bench  # the in-process floors
