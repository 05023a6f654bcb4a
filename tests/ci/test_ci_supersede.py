""".ci/supersede: a newer deploy cancels older runs waiting for prod's approval, or skips the gate when superseded.

The real script runs against the stand-in `gh` (tests/support/fake_gh/gh), which lists workflow runs as GitHub's
"List workflow runs for a workflow" does (newest first; `branch` and `status` filters, status matching status or
conclusion; pages), lists a run's jobs, and answers a cancel with 202, or 409 once the run has completed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SUPERSEDE = ROOT / ".ci" / "supersede"
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"
FAKE_GH = ROOT / "tests" / "support" / "fake_gh"
HEAD = "a" * 40
OLD = "b" * 40
REPO = "acme/gpu-fleet"


def run(number: int, status: str, *, branch: str = "main", sha: str = OLD, conclusion: str | None = None,
        path: str = ".github/workflows/deploy.yml") -> dict[str, Any]:
    """A workflow run as the REST API returns it (the fields the script reads, and their neighbours)."""
    return {"id": 9000 + number, "run_number": number, "head_branch": branch, "head_sha": sha, "status": status,
            "conclusion": conclusion, "event": "push", "path": path,
            "html_url": f"https://github.com/{REPO}/actions/runs/{9000 + number}"}


def supersede(tmp_path: Path, state: dict[str, Any], *, sha: str = HEAD, number: int = 12) -> tuple[
        subprocess.CompletedProcess[str], dict[str, Any], list[str], str]:
    state_file, log, out = tmp_path / "state.json", tmp_path / "gh.jsonl", tmp_path / "github_output"
    state_file.write_text(json.dumps({"commits": {"main": HEAD}, **state}))
    env = {**os.environ, "PATH": os.pathsep.join([str(FAKE_GH), str(Path(sys.executable).parent), os.environ["PATH"]]),
           "FAKE_GH_STATE": str(state_file), "FAKE_GH_LOG": str(log), "GITHUB_OUTPUT": str(out)}
    proc = subprocess.run([sys.executable, str(SUPERSEDE), "--repo", REPO, "--workflow", "deploy.yml", "--branch",
                           "main", "--sha", sha, "--run-id", str(9000 + number), "--run-number", str(number)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    calls = []
    for line in log.read_text().splitlines() if log.exists() else []:
        argv = json.loads(line)["argv"]
        method = argv[argv.index("--method") + 1] if "--method" in argv else "GET"
        calls.append(f"{method} {next(a for a in argv if a.startswith('repos/'))}")
    return proc, json.loads(state_file.read_text()), calls, out.read_text() if out.exists() else ""


def statuses(state: dict[str, Any]) -> dict[int, str]:
    return {r["run_number"]: r["conclusion"] or r["status"] for r in state["runs"]}


def test_the_head_commit_cancels_only_older_waiting_runs_of_its_workflow_on_main(tmp_path: Path) -> None:
    runs = [run(9, "completed", conclusion="success"), run(10, "waiting"), run(11, "waiting", branch="release"),
            run(12, "in_progress", sha=HEAD), run(13, "waiting", sha=HEAD),
            run(8, "waiting", path=".github/workflows/prices.yml")]
    proc, state, calls, output = supersede(tmp_path, {"runs": runs})
    assert proc.returncode == 0, proc.stderr
    assert statuses(state) == {9: "success", 10: "cancelled", 11: "waiting", 12: "in_progress", 13: "waiting",
                               8: "waiting"}
    assert calls == [
        f"GET repos/{REPO}/commits/main",
        f"GET repos/{REPO}/actions/workflows/deploy.yml/runs?branch=main&status=waiting&per_page=100&page=1",
        f"GET repos/{REPO}/actions/runs/9010/jobs?per_page=100",
        f"POST repos/{REPO}/actions/runs/9010/cancel",
    ]
    assert output == "superseded=false\n"
    notice = "::notice::cancelled run #10 (bbbbbbbbbbbb), which was waiting for approval: superseded by #12"
    assert notice in proc.stdout


def test_a_superseded_run_skips_the_gate_and_cancels_nothing(tmp_path: Path) -> None:
    proc, state, calls, output = supersede(tmp_path, {"runs": [run(10, "waiting")]}, sha=OLD, number=11)
    assert proc.returncode == 0, proc.stderr
    assert output == "superseded=true\n" and statuses(state) == {10: "waiting"}
    assert calls == [f"GET repos/{REPO}/commits/main"]
    assert f"superseded: main is at {HEAD[:12]}, this run is for {OLD[:12]}" in proc.stdout


def test_a_run_with_a_job_in_progress_is_never_cancelled(tmp_path: Path) -> None:
    jobs = {"9010": [{"name": "pulumi up (prod)", "status": "in_progress"}, {"name": "runners", "status": "completed"}]}
    proc, state, calls, _ = supersede(tmp_path, {"runs": [run(10, "waiting")], "jobs": jobs})
    assert proc.returncode == 0, proc.stderr
    assert statuses(state) == {10: "waiting"} and not any(c.startswith("POST") for c in calls)
    assert "run #10 (bbbbbbbbbbbb) has a job in progress (pulumi up (prod)); not cancelled" in proc.stdout


def test_a_run_that_finished_meanwhile_is_not_an_error(tmp_path: Path) -> None:
    conflict = {"on": "/cancel", "status": 409, "message": "Cannot cancel a workflow run that is completed."}
    proc, _state, calls, _ = supersede(tmp_path, {"runs": [run(10, "waiting")], "fail": [conflict]})
    assert proc.returncode == 0, proc.stderr
    assert calls[-1] == f"POST repos/{REPO}/actions/runs/9010/cancel"
    assert "run #10 (bbbbbbbbbbbb) finished meanwhile; nothing to cancel" in proc.stdout


def test_an_older_waiting_run_on_a_later_page_is_found(tmp_path: Path) -> None:
    # Newest first: 100 runs of later numbers fill page 1 (a re-run keeps its number), run #5 is on page 2.
    runs = [run(5, "waiting"), *(run(n, "waiting", sha=HEAD) for n in range(100, 200))]
    proc, state, calls, _ = supersede(tmp_path, {"runs": runs}, number=50)
    assert proc.returncode == 0, proc.stderr
    assert [c for c in calls if "/runs?" in c][-1].endswith("&page=2")
    assert [n for n, s in statuses(state).items() if s == "cancelled"] == [5]


def test_listing_is_retried_on_a_rate_limit(tmp_path: Path) -> None:
    limit = {"on": "/actions/workflows/", "status": 429, "headers": {"Retry-After": "1"},
             "message": "API rate limit exceeded"}
    proc, state, calls, _ = supersede(tmp_path, {"runs": [run(10, "waiting")], "fail": [limit]})
    assert proc.returncode == 0, proc.stderr
    assert "rate limited (HTTP 429); retrying in 1s" in proc.stderr
    assert sum("/actions/workflows/" in c for c in calls) == 2 and statuses(state) == {10: "cancelled"}


def test_a_token_without_actions_write_fails_the_job(tmp_path: Path) -> None:
    denied = {"on": "/cancel", "status": 403, "message": "Resource not accessible by integration"}
    proc, _state, _calls, _ = supersede(tmp_path, {"runs": [run(10, "waiting")], "fail": [denied]})
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"error: gh api repos/{REPO}/actions/runs/9010/cancel: "
                                   "gh: Resource not accessible by integration (HTTP 403)")


@pytest.mark.parametrize("job_id", ["up-dev", "up-prod"])
@pytest.mark.parametrize(("sha", "superseded"), [(HEAD, False), (OLD, True)], ids=["head", "superseded"])
def test_an_up_job_deploys_only_while_its_commit_is_mains_head(tmp_path: Path, job_id: str, sha: str,
                                                               superseded: bool) -> None:
    """The step as the runner runs it (bash -e -o pipefail), its `gh api ... --jq .sha` answered by the stand-in."""
    job = yaml.safe_load(DEPLOY.read_text())["jobs"][job_id]
    check = next(s for s in job["steps"] if s["name"].startswith("Deploy only while"))
    state_file, github_env = tmp_path / "state.json", tmp_path / "github_env"
    state_file.write_text(json.dumps({"commits": {"main": HEAD}}))
    env = {**os.environ, "PATH": os.pathsep.join([str(FAKE_GH), str(Path(sys.executable).parent), os.environ["PATH"]]),
           "FAKE_GH_STATE": str(state_file), "FAKE_GH_LOG": str(tmp_path / "gh.jsonl"), "GITHUB_ENV": str(github_env),
           "GITHUB_REPOSITORY": REPO, "SHA": sha, "GH_TOKEN": "token"}
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", check["run"]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (github_env.read_text() if github_env.exists() else "") == ("superseded=true\n" if superseded else "")
    assert ("::notice::superseded: main is at " + HEAD in proc.stdout) is superseded
