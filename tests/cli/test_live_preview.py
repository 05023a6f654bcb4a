"""The live preview through the real Automation API code path, against a stand-in `pulumi` on PATH.

`tests/support/fake_pulumi/pulumi` answers `pulumi version`, `stack select` and `preview` as the CLI does and
replays recorded engine events (`dev-preview.jsonl`: shapes from pulumi/pulumi's engine test data, cited in
tests/support/fake_pulumi/README.md) over the event channel the Automation API opened: gRPC for a 3.272 CLI, the
event-log file for a CLI before 3.206. Nothing here needs the Pulumi CLI or a cloud.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gpufleet import cli, live_preview
from gpufleet.report import Plan
from tests.support.fake_cli import EVENTS, fake_pulumi_on_path
from tests.support.plans import ROOT

PACK = ROOT / "policies"
KARPENTER_L4 = ("urn:pulumi:dev::gpu-fleet::gpufleet:aws:KarpenterGpuPool$kubernetes:karpenter.sh/v1:NodePool::"
                "us-west-2-dev-aws-l4-spot-nodepool")
H100 = ("urn:pulumi:dev::gpu-fleet::gpufleet:gpu:GkeGpuNodePool$gcp:container/nodePool:NodePool::"
        "us-central1-dev-1-h100-spot")
CLUSTER = "urn:pulumi:dev::gpu-fleet::gpufleet:cluster:GkeCluster$gcp:container/cluster:Cluster::us-central1-dev-1"
OFFLINE_VIOLATIONS = [
    {"policy": "gpu-quota", "level": "mandatory", "urn": "", "message": "us-central1 NVIDIA_H100_GPUS: over quota"},
    {"policy": "gpu-budget-warning", "level": "advisory", "urn": "", "message": "86% of the monthly budget"},
]


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_pulumi_on_path(tmp_path, monkeypatch)


@pytest.fixture
def plans(dev_plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """(this commit's plan JSON, the target branch's): the commit drops the Karpenter l4-spot pool."""
    base = dev_plan.to_json()
    base["policy"] = {"pack": "gpu-fleet", "violations": OFFLINE_VIOLATIONS}
    plan = copy.deepcopy(base)
    plan["capacity"] = [row for row in plan["capacity"] if row["source_urn"] != KARPENTER_L4]
    return plan, base


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def events_without(tmp_path: Path, *, drop: str) -> Path:
    """The recorded events minus those whose JSON contains `drop`."""
    path = tmp_path / "events.jsonl"
    path.write_text("".join(line + "\n" for line in EVENTS.read_text().splitlines() if drop not in line))
    return path


def test_preview_runs_through_the_automation_api_with_the_pack(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    events, failure = live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=PACK / "config" / "dev.json")
    # A 3.272 CLI streams events over gRPC: the Automation API passed a tcp:// event log and received them all.
    preview_call = next(argv for argv in calls(fake_cli) if "preview" in argv)
    assert preview_call[preview_call.index("--event-log") + 1].startswith("tcp://127.0.0.1:")
    assert preview_call[preview_call.index("--policy-pack") + 1] == str(PACK)
    assert preview_call[preview_call.index("--policy-pack-config") + 1] == str(PACK / "config" / "dev.json")
    assert ["--non-interactive", "stack", "select", "--stack", "dev"] in calls(fake_cli)
    assert len(events) == len(EVENTS.read_text().splitlines())
    # The mandatory violation fails the CLI (exit 255): reported, not raised, and the events are still the verdict.
    assert failure is not None and "preview failed" in failure
    preview = live_preview.summarise("dev", events, failure, *plans)
    assert preview.verdict == 1 and preview.offline_verdict == 1 and preview.agrees is True
    assert preview.errors == []


def test_changes_are_counted_per_type_once_per_replacement(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    assert preview.changes == {
        "gcp:container/nodePool:NodePool": {"update": 1, "replace": 1},
        "kubernetes:core/v1:Namespace": {"create": 1},
        "kubernetes:karpenter.sh/v1:NodePool": {"delete": 1},
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule": {"delete": 1},
    }
    # The per-type counts add up to the engine's own summary event.
    totals: dict[str, int] = {}
    for ops in preview.changes.values():
        for op, n in ops.items():
            totals[op] = totals.get(op, 0) + n
    assert totals == {op: n for op, n in preview.summary.items() if op != "same"}


def test_replaced_and_deleted_gpu_pools_are_called_out_with_their_gpus(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], dev_plan: Plan) -> None:
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    rows = {row.source_urn: row for row in dev_plan.capacity}
    drained = {(p.op, p.pool): p for p in preview.drained}
    assert set(drained) == {("replace", "h100-spot"), ("delete", "l4-spot")}
    # The deleted pool is gone from this commit's plan: its GPUs come from the target branch's row.
    for (_, _), pool in drained.items():
        row = rows[pool.urn]
        assert (pool.gpu, pool.min_gpus, pool.max_gpus) == (row.gpu, row.min_gpus, row.max_gpus)
    notes = live_preview.section(preview).notes
    assert any(n.startswith("GPU pool eks us-west-2/dev-aws/l4-spot is deleted: drains 0 to 2 l4 GPUs") for n in notes)


def test_a_replaced_cluster_drains_every_pool_in_it(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lines = []
    for line in EVENTS.read_text().splitlines():
        event = json.loads(line)
        meta = (event.get("resourcePreEvent") or {}).get("metadata") or {}
        if meta.get("urn") == H100 and meta.get("op") == "replace":
            cluster = json.loads(line.replace(H100, CLUSTER).replace("gcp:container/nodePool:NodePool",
                                                                     "gcp:container/cluster:Cluster"))
            lines.append(json.dumps(cluster))
        elif meta.get("urn") != H100:
            lines.append(line)
    path = tmp_path / "cluster.jsonl"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(path))
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    gke = {p.pool: p for p in preview.drained if p.platform == "gke"}
    assert set(gke) == {"h100-spot", "l4"} and all(p.with_cluster and p.urn == CLUSTER for p in gke.values())


def test_live_policy_violations_come_clean_and_verdicts_are_compared(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    assert {(v["policy"], v["level"]) for v in preview.violations} == {
        ("gpu-quota", "mandatory"), ("gpu-budget-warning", "advisory"), ("gke-kubelet-read-only-port", "advisory")}
    port = next(v for v in preview.violations if v["policy"] == "gke-kubelet-read-only-port")
    assert port["urn"] == H100 and port["message"] == "node pool has no kubelet read-only port setting"
    assert "Only the live preview reports: advisory gke-kubelet-read-only-port." in live_preview.section(preview).notes

    # Live passes where offline fails: they disagree, and the comment says which policy only one side reports.
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(events_without(tmp_path, drop='"enforcementLevel":"mandatory"')))
    events, failure = live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None)
    preview = live_preview.summarise("dev", events, failure, *plans)
    assert failure is None and preview.verdict == 0 and preview.agrees is False
    section = live_preview.section(preview)
    assert "DISAGREES with the offline plan" in (section.headline or "")
    assert "Only the offline plan reports: mandatory gpu-quota." in section.notes


def test_a_preview_that_fails_without_a_policy_cause_has_no_verdict(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(events_without(tmp_path, drop='"enforcementLevel":"mandatory"')))
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "googleapi: Error 403: Permission 'container.clusters.get' denied")
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    assert preview.verdict == 3 and preview.agrees is None
    assert preview.errors == ["error: googleapi: Error 403: Permission 'container.clusters.get' denied"]


def test_an_older_cli_writes_the_event_log_file(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.200.0")
    events, failure = live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None)
    preview_call = next(argv for argv in calls(fake_cli) if "preview" in argv)
    assert preview_call[preview_call.index("--event-log") + 1].endswith("eventlog.txt")
    assert live_preview.summarise("dev", events, failure, *plans).changes["kubernetes:core/v1:Namespace"] == \
        {"create": 1}


def test_cli_preview_writes_json_and_markdown_and_exits_with_the_live_verdict(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan_file, base_file = tmp_path / "plan.json", tmp_path / "base.json"
    plan_file.write_text(json.dumps(plans[0]))
    base_file.write_text(json.dumps(plans[1]))
    monkeypatch.chdir(ROOT)
    out, md = tmp_path / "live.json", tmp_path / "live.md"
    code = cli.main(["preview", "dev", "--plan", str(plan_file), "--base", str(base_file), "--json", str(out),
                     "--markdown", str(md)])
    assert code == 1
    doc = json.loads(out.read_text())
    assert doc["verdict"] == 1 and doc["agrees"] is True and len(doc["drained_pools"]) == 2
    text = md.read_text()
    assert text.startswith("#### Live preview (pulumi preview)")
    assert "| gcp:container/nodePool:NodePool | 0 | 1 | 1 | 0 |" in text
    assert str(tmp_path) not in text and str(ROOT) not in text  # no runner paths in the comment


def test_cli_preview_of_an_unknown_stack_is_exit_2_in_one_line(
        fake_cli: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["preview", "staging"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no stack named 'staging' found" in err and "Traceback" not in err
    assert "pulumi stack init staging --secrets-provider" in err


def test_cli_preview_without_the_cli_is_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.chdir(ROOT)
    assert cli.main(["preview", "dev"]) == 3
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


def test_cli_preview_refuses_a_plan_of_another_stack(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    other = {**plans[0], "stack": "prod"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(other))
    monkeypatch.chdir(ROOT)
    assert cli.main(["preview", "dev", "--plan", str(path)]) == 2
    assert f"--plan {path}: holds a plan of stack 'prod'" in capsys.readouterr().err


def test_section_survives_truncation_when_it_fails_or_drains(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    section = live_preview.section(live_preview.summarise(
        "dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None), *plans))
    assert section.key == "live_preview" and section.mandatory and section.changed
    assert section.columns == ("type", "create", "update", "replace", "delete")
    assert section.data is not None and section.data["verdict"] == 1
    empty = live_preview.section(live_preview.LivePreview(stack="dev", offline_verdict=0))
    assert not empty.mandatory and not empty.changed
    assert empty.headline == ("Live preview holds: 0 to create, 0 to update, 0 to replace, 0 to delete; "
                              "agrees with the offline plan.")


def test_the_json_loads_back_into_the_same_section(
        fake_cli: Path, plans: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The hook for the comment's layout: `section(load(json))` is the section the preview job rendered."""
    preview = live_preview.summarise("dev", *live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None),
                                     *plans)
    again = live_preview.load(json.loads(json.dumps(preview.to_json())))
    assert live_preview.section(again) == live_preview.section(preview)
