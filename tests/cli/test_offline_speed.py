"""The offline plan skips the SDK's per-resource stack walk, and only while it runs (gpufleet/offline.py).

Timing is the benchmark's business (`./dev bench`); this holds the mechanism: the SDK still has the function the
plan replaces (else the saving silently stops), the plan's registrations carry no stack, and the SDK is restored.
"""

from __future__ import annotations

import importlib

from gpufleet import offline


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
