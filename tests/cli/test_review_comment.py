"""Issue 21 §1, §3, §4: the review comment's layout, as golden markdown per scenario, and as GitHub renders it.

Each scenario is a real offline plan with the real policy pack, against a real base plan JSON (the target branch's
`--json` with the pack, as CI should plan it). Goldens live in tests/golden/comments/; regenerate them with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_review_comment.py` and read the diff.
"""

from __future__ import annotations

import copy
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

from gpufleet import cli, layout, links, live_preview, report, violations
from gpufleet.report import Plan
from tests.support.large_fleets import pools_times
from tests.support.pack_configs import only_policies_file
from tests.support.plans import PACK, ROOT, checked_plan, gke_of, gke_only, shared_file, stack_doc

GOLDEN = ROOT / "tests" / "golden" / "comments"
LINKS = layout.Links()  # repository-relative: the goldens do not depend on the CI environment


def _l4(doc: dict[str, Any]) -> dict[str, Any]:
    pools = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"]
    return next(p for p in pools if p["name"] == "l4")


class Plans(dict[str, Plan]):
    """Scenario name -> its plan; `stack_files` holds the stack file each was planned from (its links' target)."""

    stack_files: dict[str, Path]

    def links(self, name: str) -> layout.Links:
        """The comment's links for scenario `name`: repository-relative, to the lines of the file it planned."""
        stack_file = self.stack_files[name]
        return LINKS.for_stack(stack_file, root=stack_file.parent)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Plans:
    """Every scenario's plan with the pack's verdict, each built once per run (tests/support/plans.py), and the
    stack file it read (its links' target)."""
    dev_config = PACK / "config" / "dev.json"
    out = Plans()
    out.stack_files = {"base": ROOT / "Pulumi.dev.yaml"}

    def planned(name: str, edit: Callable[[dict[str, Any]], None], config: Path = dev_config) -> Plan:
        doc = stack_doc("dev")
        edit(doc)
        text = yaml.safe_dump(doc)
        # The file as the pull request would hold it, at the repository root: its lines are the links' targets.
        out.stack_files[name] = tmp_path_factory.mktemp(f"repo-{name}") / "Pulumi.dev.yaml"
        out.stack_files[name].write_text(text)
        return checked_plan(tmp_path_factory, "dev", text, config)

    def fail(d: dict[str, Any]) -> None:
        _l4(d)["autoscaling"].update(max_nodes=10)

    out["base"] = checked_plan(tmp_path_factory, "dev", (ROOT / "Pulumi.dev.yaml").read_text(), dev_config)
    out["pass"] = planned("pass", lambda d: _l4(d)["autoscaling"].update(max_nodes=6))
    out["fail"] = planned("fail", fail)
    raised = json.loads(dev_config.read_text())
    raised["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_L4_GPUS"] = 12
    raised["gpu-quota"]["global_quotas"]["GPUS_ALL_REGIONS"] = 20
    out["quota"] = planned("quota", fail, shared_file(tmp_path_factory, "dev.json", json.dumps(raised)))
    out["labels"] = planned("labels", lambda d: d["config"]["gpu-fleet:labels"].update(
        {"data-classification": "internal"}))
    out["removal"] = planned("removal", lambda d: gke_of(d)["regions"][0]["clusters"][0]["gpu_pools"].remove(
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
def test_comment_matches_its_golden(name: str, plans: Plans) -> None:
    head, base = SCENARIOS[name]
    _golden(name, report.markdown(plans[head], _json(plans[base]), links=plans.links(head)))


def test_the_first_line_is_the_verdict_with_counts_gpus_and_ceiling(plans: Plans) -> None:
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


def test_a_quota_raise_fixes_the_violation_and_says_so(plans: Plans) -> None:
    md = report.markdown(plans["quota"], _json(plans["fail"]), links=LINKS)
    assert "· 1 fixed ·" in md.splitlines()[0]
    assert "| fixed | mandatory | [`gpu-quota`](docs/policies.md#gpu-quota) | us-central1 NVIDIA_L4_GPUS:" in md


def test_a_label_change_is_not_nothing(plans: Plans) -> None:
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


def test_a_base_planned_without_the_pack_says_new_is_unknown(plans: Plans) -> None:
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
    md = report.markdown(prod, _json(prod), links=LINKS.for_stack(ROOT / "Pulumi.prod.yaml", root=ROOT))
    tokens = _gfm().parse(md)
    assert tokens[0].type == "heading_open" and tokens[0].tag == "h3"
    assert tokens[1].content.startswith("✅ gpu-fleet plan `prod` passes:"), tokens[1].content
    html = _gfm().render(md)
    # The advisory's remedy names a placeholder: escaped, it renders as text instead of vanishing as a tag.
    assert "name: &lt;reservation&gt;}" in html and "<reservation>" not in html
    assert '<a href="docs/policies.md#gpu-critical-capacity-reserved">' in html
    assert "/work/" not in md and str(ROOT) not in md  # paths are repository-relative
    assert _targets(html, "Pulumi.prod.yaml"), "prod's keys link to Pulumi.prod.yaml"


def test_terminal_puts_the_verdict_first_and_last_and_resources_behind_a_flag(plans: Plans) -> None:
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


# prod's GKE and OpenShift sides (`gke_only`) with each cluster's GPU pools four times over (560 resources) is the
# smallest such fleet whose whole comment (about 73,300 characters) is past GitHub's 65,536: three times (529) comes to
# about 60,800, under even the budget; all of prod with four times its pools (748) to about 77,700. Pools are what make
# a comment long (a row in each per-pool table, a line in their quota's violation) at two or three resources each;
# three times prod's clusters (benchmarks/plan_bench.py `synthetic`, 1,631 resources) is about as long at three
# times the plan.
LARGE_FLEET_POOL_COPIES = 4
LARGE_FLEET_POLICIES = ("gpu-quota", "gpu-budget", "gpu-critical-capacity-reserved")
"""The policies the large fleet violates under prod's shipped config (the whole pack on it reports these alone: 12
gpu-quota and 1 gpu-budget mandatory, 8 advisory): the pack runs only them, the other 41 would cost about 4 s of CPU
over its 560 resources to report nothing; the Policy pack table they would fill is cut."""


@pytest.mark.first  # one long plan: started first so it is not the run's tail
def test_a_fleet_too_big_for_one_comment_fits_githubs_limit_and_keeps_every_mandatory_violation(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    fleet = pools_times(gke_only(stack_doc("prod")), LARGE_FLEET_POOL_COPIES)
    plan = checked_plan(tmp_path_factory, "prod", yaml.safe_dump(fleet),
                        only_policies_file(tmp_path_factory, "prod", LARGE_FLEET_POLICIES))
    assert plan.policy is not None
    mandatory = [v for v in plan.policy["violations"] if v["level"] == "mandatory"]
    assert len(mandatory) > 10, "the large fleet should fail its quotas and budget"
    whole = report.markdown(plan, None, links=LINKS, limit=None)
    assert len(whole) > layout.COMMENT_LIMIT  # the case the limit is for: GitHub would refuse it whole
    md = report.markdown(plan, None, links=LINKS)
    assert len(md) <= layout.COMMENT_BUDGET < layout.COMMENT_LIMIT
    assert md.splitlines()[0].startswith("### ❌ gpu-fleet plan `prod` fails:")
    assert "Cut to fit GitHub's 65,536-character comment limit" in md and "Nothing mandatory was cut" in md
    for v in mandatory:
        assert layout.escape(v["message"]) in md, v["message"][:80]
    _golden("large-fleet", md)


def _targets(html: str, href: str) -> dict[str, int]:
    """Key -> line of every rendered link into the stack file `href`."""
    return {key: int(line) for line, key in
            re.findall(rf'<a href="{re.escape(href)}#L(\d+)"><code>([^<]+)</code></a>', html)}


def _at(lines: list[str], line: int) -> str:
    """What the stack file sets at 1-based `line`: `key` of a mapping key, `[name]` of a list item (its first line)."""
    text = lines[line - 1]
    if not text.lstrip().startswith("- "):
        return text.strip().split(":")[0]
    indent = len(text) - len(text.lstrip()) + 2  # the item's own keys, whichever comes first
    for ln in [text[:indent - 2] + "  " + text.lstrip()[2:], *lines[line:]]:
        if ln.strip().startswith("- ") and len(ln) - len(ln.lstrip()) < indent:
            break
        if len(ln) - len(ln.lstrip()) == indent and ln.strip().startswith("name:"):
            return f"[{ln.split(':', 1)[1].strip()}]"
    return "?"


def test_rendered_as_gfm_every_stack_config_key_links_to_its_line(plans: Plans) -> None:
    lines = plans.stack_files["fail"].read_text().splitlines()
    md = report.markdown(plans["fail"], _json(plans["base"]), links=plans.links("fail"))
    tokens = _gfm().parse(md)
    assert tokens[0].tag == "h3" and tokens[1].content.startswith("❌ gpu-fleet plan `dev` fails:"), tokens[1].content
    html = _gfm().render(md)
    targets = _targets(html, "Pulumi.dev.yaml")
    pool = "gke.regions[us-central1].clusters[dev-1].gpu_pools[l4]"
    # In table cells, and inside the violation messages and their hints.
    assert _at(lines, targets[pool]) == "[l4]"
    max_nodes = targets[f"{pool}.autoscaling.max_nodes"]
    assert _at(lines, max_nodes) == "max_nodes" and lines[max_nodes - 1].strip() == "max_nodes: 10"
    assert _at(lines, targets["budgets.daily_usd"]) == "daily_usd"
    for key, line in targets.items():  # each link lands on its own key's line (dev sets every key it names)
        last = re.split(r"\.|(?=\[)", key.removeprefix("gpu-fleet:"))[-1]
        assert _at(lines, line) == last, (key, line, lines[line - 1])
    assert r"gke.regions\[" not in md  # no key left as escaped plain text
    # A key of a top-level block dev does not have (no observability:) stays plain: there is no line to link.
    assert "observability.deadmans_switch" in html and "<code>observability.deadmans_switch</code></a>" not in html


def test_a_default_or_removed_key_links_to_its_nearest_ancestor_in_the_file(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text("config:\n  gpu-fleet:gke:\n    regions:\n      - name: r1\n        clusters:\n"
                     "          - name: c1\n            gpu_pools:\n              - name: p1\n"
                     "                machine_type: g2-standard-8\n")
    found = links.StackLinks.read(stack, root=tmp_path, base="https://github.com/acme/gpu-fleet/blob/abc/")
    assert found is not None
    pools = "gke.regions[r1].clusters[c1].gpu_pools"
    assert found.target(f"{pools}[p1].autoscaling.max_nodes") == "https://github.com/acme/gpu-fleet/blob/abc/" \
        "Pulumi.dev.yaml#L8"  # left at its default: the pool, where it would be set
    assert found.target(f"{pools}[p2]") == "https://github.com/acme/gpu-fleet/blob/abc/Pulumi.dev.yaml#L7"
    assert found.target("eks.regions[us-west-2]") is None
    cell = layout.escape(f"set gpu-fleet:gke, not gke or my-gke.regions; `{pools}[p1]` <reservation> eks.regions[x]",
                         layout.Links(config=found))
    assert cell.startswith("set [`gpu-fleet:gke`](https://github.com/acme/gpu-fleet/blob/abc/Pulumi.dev.yaml#L2), "
                           "not gke or my-gke.regions; [`gke.regions[r1]")
    assert cell.endswith("Pulumi.dev.yaml#L8) &lt;reservation&gt; eks.regions\\[x\\]")
    assert links.StackLinks.read(stack, root=tmp_path / "elsewhere") is None  # outside the repository: plain


def _open_rows(md: str, title: str) -> list[str]:
    """The table rows of the open section `title` (before any <details>)."""
    head = md.split("<details>", 1)[0]
    if f"**{title}**" not in head:
        return []
    block = head.split(f"**{title}**", 1)[1].split("\n\n**", 1)[0]
    return [ln for ln in block.splitlines() if ln.startswith("| ") and not ln.startswith("| region")]


def test_quota_headroom_shows_only_what_moved_or_is_over_open_and_every_row_collapsed(
        plans: Plans, prod: Plan) -> None:
    md = report.markdown(plans["fail"], _json(plans["base"]), links=LINKS)
    shown = _open_rows(md, "Quota headroom")
    assert [r.split(" | ")[1] for r in shown] == ["GPUS_ALL_REGIONS", "NVIDIA_L4_GPUS"]  # +6 each; L4 over
    assert "| us-west-2 | L-3819A6DF | 16 vCPUs (2 GPUs) | 16 | 0 | near | +0 |" in md.split("<details>", 1)[1]
    # prod holds twelve grants at 100% on purpose: a PR that moves none of them opens no quota row at all.
    same = report.markdown(prod, _json(prod), links=LINKS)
    assert _open_rows(same, "Quota headroom") == [] and "- Quota headroom:" not in same
    assert same.count("| near | +0 |") == 12  # all of them, once, collapsed


def _live_doc(plan: Plan) -> dict[str, Any]:
    """A live preview's JSON as `gpu-fleet preview --json` writes it (`LivePreview.to_json`; the recorded engine
    events behind such a document are replayed in tests/test_live_preview.py)."""
    pool = next(r for r in plan.capacity if r.pool == "h100-spot")
    preview = live_preview.LivePreview(
        stack="dev", offline_verdict=1, changes={"gcp:container/nodePool:NodePool": {"replace": 1, "update": 1}},
        drained=[live_preview.DrainedPool(op="replace", urn="urn:pulumi:dev::gpu-fleet::x", pool=pool.pool,
                                          cluster=pool.cluster, region=pool.region, platform=pool.platform,
                                          gpu=pool.gpu,
                                          min_gpus=pool.min_gpus, max_gpus=pool.max_gpus)],
        violations=[{"policy": "gpu-quota", "level": "mandatory", "urn": "", "message": "us-central1 NVIDIA_L4_GPUS"}])
    return json.loads(json.dumps(preview.to_json()))


def test_the_live_preview_is_merged_right_after_the_verdict(plans: Plans) -> None:
    head = copy.copy(plans["fail"])
    head.extra = {**head.extra, "live": _live_doc(head)}
    md = report.markdown(head, _json(plans["base"]), links=LINKS)
    lines = md.splitlines()
    assert lines[0].startswith("### ❌ gpu-fleet plan `dev` fails:")
    assert lines[2].startswith("- Live preview (pulumi preview): Live preview fails (mandatory policy): 0 to create, "
                               "1 to update, 1 to replace, 0 to delete; 1 GPU pool(s) replaced or deleted, up to 1 "
                               "GPUs drained; agrees with the offline plan."), lines[2]
    first_open = next(ln for ln in lines if ln.startswith("**"))
    assert first_open.startswith("**Live preview (pulumi preview)**")
    assert md.index("| gcp:container/nodePool:NodePool |") < md.index("**New and fixed violations**")
    assert "mandatory gpu-quota: us-central1 NVIDIA\\_L4\\_GPUS" in md or "mandatory gpu-quota: us-central1" in md
    skipped = copy.copy(plans["fail"])
    skipped.extra = {**skipped.extra, "live_skipped": "pull requests from forks get no cloud credentials"}
    md = report.markdown(skipped, _json(plans["base"]), links=LINKS)
    assert md.splitlines()[2] == "- Live preview skipped: pull requests from forks get no cloud credentials"
    assert md.count("forks get no cloud credentials") == 1
    assert "Live preview" not in report.markdown(plans["fail"], _json(plans["base"]), links=LINKS)


def test_plan_refuses_a_live_file_that_is_not_a_preview(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bogus = tmp_path / "live.json"
    bogus.write_text('{"verdict": 0}')
    monkeypatch.chdir(ROOT)
    assert cli.main(["plan", "dev", "--no-policy", "--live", str(bogus)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"--live {bogus}: not a live preview JSON" in err and "Traceback" not in err


def test_the_readme_example_is_the_start_of_the_fail_golden() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```markdown\n(### ❌ gpu-fleet plan .*?)```", readme, re.S)
    assert found, "README.md has no example comment"
    assert (GOLDEN / "fail.md").read_text(encoding="utf-8").startswith(found.group(1)), \
        "README's example comment is stale: copy the start of tests/golden/comments/fail.md"
    assert "](Pulumi.dev.yaml#L" in found.group(1)  # it shows the links
