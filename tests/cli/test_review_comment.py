"""Issue 21 §1, §3, §4: the review comment's layout, as golden markdown per scenario, and as GitHub renders it.

Each scenario is a real offline plan with the real policy pack, against a real base plan JSON (the target branch's
`--json` with the pack, as CI should plan it). Goldens live in tests/golden/comments/; regenerate them with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_review_comment.py` and read the diff.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt
from rich.console import Console

from benchmarks.plan_bench import synthetic
from gpufleet import layout, report, violations
from gpufleet.report import Plan
from tests.support.plans import PACK, ROOT, checked_plan, gke_of, shared_file, stack_doc

GOLDEN = ROOT / "tests" / "golden" / "comments"
LINKS = layout.Links()  # repository-relative: the goldens do not depend on the CI environment


def _l4(doc: dict[str, Any]) -> dict[str, Any]:
    pools = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"]
    return next(p for p in pools if p["name"] == "l4")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Plan]:
    """Every scenario's plan with the pack's verdict, each built once per run (tests/support/plans.py)."""
    dev_config = PACK / "config" / "dev.json"

    def planned(edit: Callable[[dict[str, Any]], None], config: Path = dev_config) -> Plan:
        doc = stack_doc("dev")
        edit(doc)
        return checked_plan(tmp_path_factory, "dev", yaml.safe_dump(doc), config)

    def fail(d: dict[str, Any]) -> None:
        _l4(d)["autoscaling"].update(max_nodes=10)

    out = {"base": checked_plan(tmp_path_factory, "dev", (ROOT / "Pulumi.dev.yaml").read_text(), dev_config)}
    out["pass"] = planned(lambda d: _l4(d)["autoscaling"].update(max_nodes=6))
    out["fail"] = planned(fail)
    raised = json.loads(dev_config.read_text())
    raised["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_L4_GPUS"] = 12
    raised["gpu-quota"]["global_quotas"]["GPUS_ALL_REGIONS"] = 20
    out["quota"] = planned(fail, shared_file(tmp_path_factory, "dev.json", json.dumps(raised)))
    out["labels"] = planned(lambda d: d["config"]["gpu-fleet:labels"].update({"data-classification": "internal"}))
    out["removal"] = planned(lambda d: gke_of(d)["regions"][0]["clusters"][0]["gpu_pools"].remove(
        next(p for p in gke_of(d)["regions"][0]["clusters"][0]["gpu_pools"] if p["name"] == "h100-spot")))
    return out


def _json(plan: Plan) -> dict[str, Any]:
    return json.loads(json.dumps(plan.to_json()))


SCENARIOS = {  # golden name: (head, base)
    "pass": ("pass", "base"),
    "fail": ("fail", "base"),
    "quota-only": ("quota", "fail"),
    "label-only": ("labels", "base"),
    "removal": ("removal", "base"),
    "unchanged": ("base", "base"),
}


def _golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden {path.name}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs: rerun with UPDATE_GOLDEN=1 and review"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_comment_matches_its_golden(name: str, plans: dict[str, Plan]) -> None:
    head, base = SCENARIOS[name]
    _golden(name, report.markdown(plans[head], _json(plans[base]), links=LINKS))


def test_the_first_line_is_the_verdict_with_counts_gpus_and_ceiling(plans: dict[str, Plan]) -> None:
    fail = report.markdown(plans["fail"], _json(plans["base"]), links=LINKS).splitlines()[0]
    assert re.match(r"### ❌ gpu-fleet plan `dev` fails: (\d) mandatory \(([\w-]+, )*gpu-quota(, [\w-]+)*; \1 new\)",
                    fail), fail
    gpus = sum(r.max_gpus for r in plans["base"].capacity)
    assert f"GPUs at max {gpus + 6} (+6, +{6 / gpus:.1%})" in fail
    delta = plans["fail"].cost.monthly_usd_max - plans["base"].cost.monthly_usd_max
    pct = delta / plans["base"].cost.monthly_usd_max * 100
    assert f"(+${delta:,.0f}, +{pct:.1f}%)" in fail
    passed = report.markdown(plans["pass"], _json(plans["base"]), links=LINKS).splitlines()[0]
    assert passed.startswith("### ✅ gpu-fleet plan `dev` passes: 0 mandatory (0 new)"), passed


def test_a_quota_raise_fixes_the_violation_and_says_so(plans: dict[str, Plan]) -> None:
    md = report.markdown(plans["quota"], _json(plans["fail"]), links=LINKS)
    assert "· 1 fixed ·" in md.splitlines()[0]
    assert "| fixed | mandatory | [`gpu-quota`](docs/policies.md#gpu-quota) | us-central1 NVIDIA_L4_GPUS:" in md


def test_a_label_change_is_not_nothing(plans: dict[str, Plan]) -> None:
    md = report.markdown(plans["labels"], _json(plans["base"]), links=LINKS)
    # The changes section (gpufleet/changes.py) counts what the label touches, per type: never "nothing changed".
    assert "Nothing changes" not in md
    found = re.search(r"- What else this PR changes: (\d+) update \(may replace\) .*; (\d+) update \(", md)
    assert found and int(found.group(1)) + int(found.group(2)) > 10, md[:600]
    same = report.markdown(plans["base"], _json(plans["base"]), links=LINKS)
    assert "- Nothing changes against the target branch" in same


def test_violations_match_on_subject_not_message() -> None:
    before = {"policy": "gpu-budget-warning", "level": "advisory", "urn": "",
              "message": "GPU capacity at maximum scale would use 86% of the monthly budget ($10,379.60 of $12,000)"}
    after = {**before, "message": before["message"].replace("86%", "91%").replace("10,379.60", "10,950.00")}
    quota = {"policy": "gpu-quota", "level": "mandatory", "urn": "", "message": "us-east-1 L-417A185B: 1344 vCPUs"}
    other = {**quota, "message": "us-east-2 L-417A185B: 1344 vCPUs"}
    found = violations.classify({"violations": [after, other]}, {"policy": {"violations": [before, quota]}})
    assert found is not None
    assert found.existing == [after] and found.new == [other] and found.fixed == [quota]
    unknown = violations.classify({"violations": [after]}, {"policy": None})
    assert unknown is not None and unknown.unknown == "base planned without the pack: new/existing unknown"


def test_a_base_planned_without_the_pack_says_new_is_unknown(plans: dict[str, Plan]) -> None:
    base = _json(plans["base"])
    base.pop("policy")
    md = report.markdown(plans["fail"], base, links=LINKS)
    assert "- base planned without the pack: new/existing unknown" in md
    assert "gpu-quota" in md.splitlines()[0] and "; new unknown) ·" in md.splitlines()[0]


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    prod_text = (ROOT / "Pulumi.prod.yaml").read_text()
    return checked_plan(tmp_path_factory, "prod", prod_text, PACK / "config" / "prod.json")


def _gfm() -> MarkdownIt:
    """GitHub's comment rendering: CommonMark, GFM tables, raw HTML passed through, newlines as breaks."""
    return MarkdownIt("commonmark", {"breaks": True, "html": True}).enable("table")


def test_rendered_as_gfm_the_first_line_is_the_verdict_and_placeholders_survive(prod: Plan) -> None:
    md = report.markdown(prod, _json(prod), links=LINKS)
    tokens = _gfm().parse(md)
    assert tokens[0].type == "heading_open" and tokens[0].tag == "h3"
    assert tokens[1].content.startswith("✅ gpu-fleet plan `prod` passes:"), tokens[1].content
    html = _gfm().render(md)
    # The advisory's remedy names a placeholder: escaped, it renders as text instead of vanishing as a tag.
    assert "name: &lt;reservation&gt;}" in html and "<reservation>" not in html
    assert '<a href="docs/policies.md#gpu-critical-capacity-reserved">' in html
    assert "/work/" not in md and str(ROOT) not in md  # paths are repository-relative


def test_terminal_puts_the_verdict_first_and_last_and_resources_behind_a_flag(plans: dict[str, Plan]) -> None:
    def text(**kwargs: Any) -> list[str]:
        console = Console(file=io.StringIO(), width=100, record=True)
        report.render(plans["fail"], console, _json(plans["base"]), **kwargs)
        return [ln for ln in console.export_text().splitlines() if ln.strip()]

    lines = text()
    verdict = next(n for n, ln in enumerate(lines) if ln.startswith("FAIL gpu-fleet plan dev fails"))
    assert verdict <= 1 and " ".join(lines[-3:]).endswith("— exit 1")  # repeated last (wrapped to the width)
    assert any("GPU changes by region and type" in ln for ln in lines)  # --base shows the deltas here too
    assert all(len(ln) <= 100 for ln in lines), max(lines, key=len)
    assert not any(ln.lstrip().startswith("Resources (") for ln in lines)
    assert any(ln.lstrip().startswith("Resources (") for ln in text(resources=True))


# Three times prod's clusters is the smallest fleet whose whole comment (about 75,000 characters) is over the budget:
# it proves the cut as a 10x fleet would, at a third of the plan (the benchmark still plans 10x and 100x).
LARGE_FLEET_SCALE = 3


@pytest.mark.first  # one long plan: started first so it is not the run's tail
def test_a_fleet_too_big_for_one_comment_fits_githubs_limit_and_keeps_every_mandatory_violation(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    plan = checked_plan(tmp_path_factory, "prod", yaml.safe_dump(synthetic(LARGE_FLEET_SCALE)),
                        PACK / "config" / "prod.json")
    assert plan.policy is not None
    mandatory = [v for v in plan.policy["violations"] if v["level"] == "mandatory"]
    assert mandatory, "the large fleet should fail its quota and budget"
    whole = report.markdown(plan, None, links=LINKS, limit=None)
    assert len(whole) > layout.COMMENT_BUDGET  # the case the limit is for
    md = report.markdown(plan, None, links=LINKS)
    assert len(md) <= layout.COMMENT_BUDGET < layout.COMMENT_LIMIT
    assert md.splitlines()[0].startswith("### ❌ gpu-fleet plan `prod` fails:")
    assert "Cut to fit GitHub's 65,536-character comment limit" in md and "Nothing mandatory was cut" in md
    for v in mandatory:
        assert layout.escape(v["message"]) in md, v["message"][:80]
    _golden("large-fleet", md)
