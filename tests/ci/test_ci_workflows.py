"""The CI a team adopts: tests on every PR and on main, the live preview in the comment, gated prod deploys.

Workflow structure is read from the YAML (what GitHub runs); the comment poster `.ci/sticky-comment` runs against a
stand-in `gh` (tests/support/fake_gh/gh) that answers `gh api --include` as cli/cli prints it; the comment step's own
script runs under bash as the runner runs it. actionlint and zizmor run in tests/ci/test_workflows.py over every file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.plans import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
STICKY = ROOT / ".ci" / "sticky-comment"
FAKE_GH = ROOT / "tests" / "support" / "fake_gh"
# The newest release tags in the upstream mirrors (`git tag --sort=-v:refname`, `git rev-list -n1 <tag>`).
CURRENT = {
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "google-github-actions/auth": ("7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
}
MARKER = "<!-- gpu-fleet-offline-plan:dev -->"


def workflow(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the bare key `on` as True (YAML 1.1).
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def step(job: dict[str, Any], name_part: str) -> dict[str, Any]:
    return next(s for s in steps(job) if name_part in s.get("name", ""))


def scripts() -> list[tuple[str, str]]:
    return [(f"{path.name}:{job_id}:{s.get('name')}", s["run"])
            for path in sorted(WORKFLOWS.glob("*.yml"))
            for job_id, job in yaml.safe_load(path.read_text())["jobs"].items() for s in steps(job) if "run" in s]


def test_a_workflow_runs_the_test_command_on_every_pull_request_and_on_main() -> None:
    doc = workflow("test.yml")
    assert "pull_request" in doc["on"] and doc["on"]["push"]["branches"] == ["main"]
    job = doc["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-24.04" and job["permissions"] == {"contents": "read"}
    assert step(job, "./dev test")["run"].strip() == ".ci/run"
    assert "exec ./dev test" in (ROOT / ".ci" / "run").read_text()
    # ./dev installs promtool and amtool through apt where sudo asks no password (hosted runners).
    assert "apt-get install" in (ROOT / "dev").read_text()
    # The tests read ../shared/reference: the job checks gpu-fleet and the shared data out side by side.
    checkouts = [s["with"]["path"] for s in steps(job) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts == ["gpu-fleet", "shared"] and job["defaults"]["run"]["working-directory"] == "gpu-fleet"


@pytest.mark.parametrize("name", ["test.yml", "pull-request.yml", "deploy.yml"])
def test_every_action_is_pinned_at_its_current_release(name: str) -> None:
    for line in (WORKFLOWS / name).read_text().splitlines():
        m = re.match(r"\s*(?:-\s+)?uses:\s*([^@\s]+)@(\S+)\s*#\s*(\S+)", line)
        if m:
            assert (m[2], m[3]) == CURRENT[m[1]], line.strip()


def test_previews_run_as_the_read_only_identity_and_deploys_as_their_environments() -> None:
    pr = (WORKFLOWS / "pull-request.yml").read_text()
    assert "DEPLOY" not in re.sub(r"(?m)^#.*$", "", pr), "a pull-request job must never name a deployer"
    deploy = workflow("deploy.yml")
    for job_id, job in deploy["jobs"].items():
        uses = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps(job) if "uses" in s}
        if "google-github-actions/auth" not in uses:
            continue
        gcp = uses["google-github-actions/auth"]["service_account"]
        aws = uses["aws-actions/configure-aws-credentials"]["role-to-assume"]
        if "environment" in job:
            assert (gcp, aws) == ("${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}", "${{ vars.AWS_DEPLOY_ROLE_ARN }}"), job_id
        else:
            assert (gcp, aws) == ("${{ vars.GCP_PREVIEW_SERVICE_ACCOUNT }}", "${{ vars.AWS_PREVIEW_ROLE_ARN }}"), job_id


def test_the_live_preview_runs_even_when_the_offline_plan_fails_and_reaches_the_comment() -> None:
    jobs = workflow("pull-request.yml")["jobs"]
    preview = jobs["preview"]
    assert "offline-plan" in preview["needs"] and "!cancelled()" in preview["if"]
    assert "needs.offline-plan.result" not in preview["if"]
    assert "head.repo.full_name == github.repository" in preview["if"]  # never for forks
    assert ".venv/bin/gpu-fleet preview" in step(preview, "pulumi preview")["run"]
    comment = jobs["comment"]
    assert set(comment["needs"]) == {"offline-plan", "preview"} and "!cancelled()" in comment["if"]
    assert comment["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "pull-requests" not in jobs["offline-plan"]["permissions"]
    assert ".ci/sticky-comment" in step(comment, "Post or update")["run"]
    assert "Live preview skipped" in step(jobs["offline-plan"], "job summary")["run"]


def test_the_target_branch_is_planned_with_the_pack() -> None:
    run = step(workflow("pull-request.yml")["jobs"]["offline-plan"], "Plan the target branch")["run"]
    assert "--no-policy" not in run and "--policy-config" in run and "--json ../base.json" in run


def test_prod_is_previewed_before_its_gate_and_deployed_only_while_its_commit_is_head() -> None:
    doc = workflow("deploy.yml")
    # No workflow-level group: a run waiting for approval is in progress and would hold it, queueing every newer push
    # (dev deploy and its own supersede job included) behind itself. Each stack's deploys are serialised per job.
    assert "concurrency" not in doc
    jobs = doc["jobs"]
    for job_id, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        assert jobs[job_id]["concurrency"] == {"group": f"gpu-fleet-deploy-{stack}", "cancel-in-progress": False}
    preview, up = jobs["preview-prod"], jobs["up-prod"]
    assert "environment" not in preview and up["environment"].startswith("prod")
    assert "preview-prod" in up["needs"] and "up-dev" in preview["needs"]
    run = step(preview, "pulumi preview")["run"]
    assert "gpu-fleet preview" in run and "GITHUB_STEP_SUMMARY" in run
    assert not any(re.search(r"\bpulumi up\b", s.get("run", "")) for s in steps(preview))
    for job_id in ("up-dev", "up-prod"):
        names = [s["name"] for s in steps(jobs[job_id])]
        gate = names.index(next(n for n in names if n.startswith("Deploy only while")))
        assert "commits/main" in steps(jobs[job_id])[gate]["run"]
        for s in steps(jobs[job_id])[gate + 1:]:
            assert s.get("if") == "env.superseded != 'true'", (job_id, s["name"])


def test_a_newer_commit_supersedes_an_older_run_waiting_for_approval() -> None:
    """`supersede` runs between the prod preview and the gate, with `actions: write` there and nowhere else."""
    jobs = workflow("deploy.yml")["jobs"]
    sup, up = jobs["supersede"], jobs["up-prod"]
    assert sup["needs"] == "preview-prod" and "!cancelled()" in sup["if"] and "environment" not in sup
    assert sup["permissions"] == {"actions": "write", "contents": "read"}
    assert "supersede" in up["needs"] and "needs.supersede.outputs.superseded == 'false'" in up["if"]
    assert sup["outputs"]["superseded"] == "${{ steps.supersede.outputs.superseded }}"
    run = step(sup, "Cancel older runs")["run"]
    assert ".ci/supersede" in run and "--workflow deploy.yml --branch main" in run
    for flag, var in (("--sha", "SHA"), ("--run-id", "RUN_ID"), ("--run-number", "RUN_NUMBER")):
        assert f'{flag} "${var}"' in run
    env = step(sup, "Cancel older runs")["env"]
    assert env["SHA"] == "${{ github.sha }}" and env["RUN_NUMBER"] == "${{ github.run_number }}"
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            if (path.name, job_id) != ("deploy.yml", "supersede"):
                assert "actions" not in job.get("permissions", {}), (path.name, job_id)


@pytest.mark.parametrize(("where", "script"), scripts(), ids=[w for w, _ in scripts()])
def test_no_script_cuts_output_with_head(where: str, script: str) -> None:
    """`cmd | head -n 1` can SIGPIPE a still-writing `cmd` under pipefail; `head -c` cut mandatory rows."""
    assert not re.search(r"\|\s*head\b|\bhead -c\b", script), where


@pytest.mark.parametrize(("where", "script"), [s for s in scripts() if "./dev plan" in s[1]],
                         ids=[w for w, s in scripts() if "./dev plan" in s])
def test_plans_name_their_policy_config_by_a_relative_path(where: str, script: str) -> None:
    """The plan JSON and the comment quote the config path: a relative one never shows the runner's folders."""
    for line in script.splitlines():
        if re.search(r"\./dev plan \"\$STACK\"", line) or "args=(--json plan.json" in line:
            full = line + script
            assert '--policy-config "policies/config/${STACK}.json"' in full, where


STUB_DEV = """#!/bin/sh
# The step's `./dev plan STACK ARGS`: records its arguments; writes --markdown unless STUB_DEV_FAIL is set.
printf '%s\\n' "$@" > dev-args
[ -n "$STUB_DEV_FAIL" ] && exit 3
out=""; prev=""
for a in "$@"; do [ "$prev" = --markdown ] && out=$a; prev=$a; done
printf '### merged\\n\\n- Live preview (pulumi preview): merged\\n' > "$out"
"""


def test_the_comment_step_merges_plan_and_live_preview(tmp_path: Path) -> None:
    """The comment is the plan re-rendered with `--live` (or `--live-skipped`), and the old two blocks if that fails.

    `./dev plan --live` itself is tested through the CLI (tests/cli/test_review_comment.py); here a stand-in `./dev`
    records what the step asks of it.
    """
    script = step(workflow("pull-request.yml")["jobs"]["comment"], "Write the comment")["run"]
    (tmp_path / "dev").write_text(STUB_DEV)
    (tmp_path / "dev").chmod(0o755)
    (tmp_path / "plan.md").write_text("### plan\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (tmp_path / "plan-exit").write_text("1\n")
    (tmp_path / "live.json").write_text("{}")
    (tmp_path / "live.md").write_text("#### Live preview (pulumi preview)\n")
    (tmp_path / "base.json").write_text("{}")
    summary = tmp_path / "summary.md"
    env = {**os.environ, "STACK": "dev", "PREVIEW_RESULT": "failure", "GITHUB_STEP_SUMMARY": str(summary)}

    def run(**extra: str) -> tuple[str, list[str]]:
        subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, env={**env, **extra}, check=True)
        return (tmp_path / "comment.md").read_text(), (tmp_path / "dev-args").read_text().splitlines()

    body, args = run()
    assert args[:2] == ["plan", "dev"] and "--live" in args and args[args.index("--live") + 1] == "live.json"
    assert args[args.index("--base") + 1] == "base.json" and "--live-skipped" not in args
    assert body.startswith(MARKER + "\n### merged\n\n- Live preview (pulumi preview): merged\n")
    assert "#### Live preview" not in body  # merged, not appended
    assert body.endswith("\n\n**`./dev plan dev` exited 1** (1: mandatory policy violation, 2: invalid "
                         "configuration).\n")
    (tmp_path / "live.json").unlink()
    body, args = run()
    assert args[args.index("--live-skipped") + 1] == "preview job: failure; see the run's log" and "--live" not in args
    # The re-render failing: the offline job's markdown, then the live preview's own section, each after a blank line.
    body, _ = run(STUB_DEV_FAIL="1")
    assert body.startswith(MARKER + "\n### plan")
    assert "| 1 | 2 |\n\n#### Live preview (pulumi preview)\n" in body
    (tmp_path / "live.md").unlink()
    body, _ = run(STUB_DEV_FAIL="1")
    assert "**Live preview not available** (preview job: failure)" in body


# --- .ci/sticky-comment against the stand-in gh ---


def comment(cid: int, body: str, login: str = "github-actions[bot]") -> dict[str, Any]:
    return {"id": cid, "user": {"login": login}, "body": body}


def sticky(tmp_path: Path, state: dict[str, Any], body: str, *extra: str) -> tuple[
        subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, Any]]]:
    state_file, log = tmp_path / "state.json", tmp_path / "gh.jsonl"
    state_file.write_text(json.dumps(state))
    body_file = tmp_path / "comment.md"
    body_file.write_text(body)
    env = {**os.environ, "PATH": os.pathsep.join([str(FAKE_GH), str(Path(sys.executable).parent), os.environ["PATH"]]),
           "FAKE_GH_STATE": str(state_file), "FAKE_GH_LOG": str(log)}
    proc = subprocess.run([sys.executable, str(STICKY), "--repo", "acme/gpu-fleet", "--pr", "7", "--marker", MARKER,
                           "--body", str(body_file), *extra], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, json.loads(state_file.read_text()), calls


def methods(calls: list[dict[str, Any]]) -> list[str]:
    return [c["argv"][c["argv"].index("--method") + 1] if "--method" in c["argv"] else "GET" for c in calls]


def test_sticky_comment_posts_when_there_is_none(tmp_path: Path) -> None:
    proc, state, calls = sticky(tmp_path, {"comments": [comment(1, MARKER + "\nby a person", "alice")]},
                                MARKER + "\nplan")
    assert proc.returncode == 0, proc.stderr
    assert methods(calls) == ["GET", "POST"] and state["comments"][-1]["body"] == MARKER + "\nplan"


def test_sticky_comment_leaves_an_unchanged_body_alone(tmp_path: Path) -> None:
    proc, _state, calls = sticky(tmp_path, {"comments": [comment(5, MARKER + "\r\nplan\r\n")]}, MARKER + "\nplan\n")
    assert proc.returncode == 0 and "unchanged" in proc.stdout
    assert methods(calls) == ["GET"]


def test_sticky_comment_updates_a_changed_body_found_on_a_later_page(tmp_path: Path) -> None:
    others = [comment(i, f"comment {i}", "bob") for i in range(100)]
    proc, state, calls = sticky(tmp_path, {"comments": [*others, comment(500, MARKER + "\nold")]}, MARKER + "\nnew")
    assert proc.returncode == 0, proc.stderr
    assert methods(calls) == ["GET", "GET", "PATCH"]
    assert calls[-1]["argv"][-3] == "repos/acme/gpu-fleet/issues/comments/500"
    assert state["comments"][-1]["body"] == MARKER + "\nnew" and len(state["comments"]) == 101


@pytest.mark.parametrize("failure", [
    {"status": 429, "headers": {"Retry-After": "1"}, "message": "API rate limit exceeded"},
    {"status": 403, "headers": {"Retry-After": "1"}, "message": "You have exceeded a secondary rate limit"},
    {"status": 403, "headers": {"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "0"},
     "message": "API rate limit exceeded"},
])
def test_sticky_comment_retries_rate_limits(tmp_path: Path, failure: dict[str, Any]) -> None:
    proc, _state, calls = sticky(tmp_path, {"comments": [], "fail": [failure]}, MARKER + "\nplan")
    assert proc.returncode == 0, proc.stderr
    assert methods(calls) == ["GET", "GET", "POST"] and "rate limited" in proc.stderr


def test_sticky_comment_retries_a_secondary_rate_limit_that_only_says_so(tmp_path: Path) -> None:
    """GitHub: a secondary limit is a 403 or 429 "and an error message that indicates" it; no header need come."""
    failure = {"status": 403, "headers": {}, "message": "You have exceeded a secondary rate limit. Please wait a few "
               "minutes before you try again."}
    proc, state, calls = sticky(tmp_path, {"comments": [], "fail": [failure]}, MARKER + "\nplan", "--max-wait", "1")
    assert proc.returncode == 0, proc.stderr
    assert methods(calls) == ["GET", "GET", "POST"] and "rate limited (HTTP 403); retrying in 1s" in proc.stderr
    assert state["comments"][-1]["body"] == MARKER + "\nplan"


def test_rate_limit_waits_follow_githubs_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry-After first; else X-RateLimit-Reset when none remain; else one minute, doubling ("Exceeding the rate
    limit", GitHub REST docs)."""
    spec = importlib.util.spec_from_file_location("ci_ghapi", ROOT / ".ci" / "ghapi.py")
    assert spec and spec.loader
    ghapi = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "ci_ghapi", ghapi)  # dataclasses resolve annotations through it
    spec.loader.exec_module(ghapi)
    now = 1_700_000_000.0

    def wait(status: int, headers: dict[str, str], message: str = "", attempt: int = 0) -> float | None:
        body = json.dumps({"message": message})
        return ghapi.rate_limit_wait(ghapi.Response(status, headers, body), attempt, now)

    assert wait(429, {"retry-after": "7", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 90)}) == 7
    assert wait(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 30)}) == 31
    assert wait(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) - 5)}) == 1
    assert wait(403, {}, "You have exceeded a secondary rate limit") == 60
    assert wait(429, {}, attempt=2) == 240
    assert wait(403, {}, "Resource not accessible by integration") is None
    assert wait(404, {"retry-after": "1"}) is None
    assert ghapi.parse("HTTP/2.0 403 Forbidden\r\nRetry-After: 3\r\n\r\n{}").headers == {"retry-after": "3"}


def test_a_failed_update_names_the_api_path_never_a_local_one(tmp_path: Path) -> None:
    failure = {"on": "/issues/comments/5", "status": 422, "headers": {}, "message": "Validation Failed"}
    proc, _state, _calls = sticky(tmp_path, {"comments": [comment(5, MARKER + "\nold")], "fail": [failure]},
                                  MARKER + "\nnew")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: gh api repos/acme/gpu-fleet/issues/comments/5: gh: Validation Failed "
                                   "(HTTP 422)")
    assert str(tmp_path) not in proc.stdout + proc.stderr and str(ROOT) not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("where", "script"), scripts(), ids=[w for w, _ in scripts()])
def test_no_script_prints_the_runners_folders(where: str, script: str) -> None:
    """Logs, summaries and comments are read by people outside the runner: no workspace or temp path in them."""
    assert not re.search(r"\$\{?(GITHUB_WORKSPACE|RUNNER_TEMP|RUNNER_TOOL_CACHE|HOME|PWD)\b|\$\(pwd\)|\bpwd\b|"
                         r"realpath|readlink -f|github\.workspace|runner\.temp", script), where


def test_sticky_comment_does_not_retry_a_plain_403(tmp_path: Path) -> None:
    failure = {"status": 403, "headers": {}, "message": "Resource not accessible by integration"}
    proc, _state, calls = sticky(tmp_path, {"comments": [], "fail": [failure]}, MARKER + "\nplan")
    assert proc.returncode == 1 and "Resource not accessible by integration" in proc.stderr
    assert methods(calls) == ["GET"]


def test_sticky_comment_refuses_a_body_without_its_marker(tmp_path: Path) -> None:
    proc, _, calls = sticky(tmp_path, {"comments": []}, "plan without marker")
    assert proc.returncode == 2 and calls == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_use_a_cloud_kms_secrets_provider_that_the_offline_plan_reads(stack: str) -> None:
    """CI has no passphrase: each stack names its KMS key (in its own project); the offline plan still reads it."""
    from gpufleet import offline

    path = ROOT / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    m = re.fullmatch(r"gcpkms://projects/([a-z][a-z0-9-]+)/locations/[a-z0-9-]+/keyRings/[\w-]+/cryptoKeys/[\w-]+",
                     doc["secretsprovider"])
    assert m and m[1] == doc["config"]["gcp:project"]
    assert "encryptionsalt" not in doc  # a passphrase stack's marker
    sf = offline.read_stack_file(path, stack)
    assert all(sf.config[key] == offline.SECRET for key in sf.secret_keys)


def test_every_job_running_a_ci_script_checks_out_all_of_ci() -> None:
    """The scripts import `.ci/ghapi.py`: a sparse checkout of one script alone would fail on its import."""
    for script in (STICKY, ROOT / ".ci" / "supersede"):
        assert "from ghapi import gh" in script.read_text(), script.name
    found = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in yaml.safe_load(path.read_text())["jobs"].items():
            if not any(re.search(r"(^|\s)\.ci/(sticky-comment|supersede)\b", s.get("run", "")) for s in steps(job)):
                continue
            found += 1
            checkouts = [s.get("with", {}) for s in steps(job) if s.get("uses", "").startswith("actions/checkout@")]
            assert any(c.get("sparse-checkout", ".ci").split() in ([".ci"], [".ci/"]) for c in checkouts), job_id
    assert found == 2


def test_the_readme_states_the_retry_budget() -> None:
    source = (ROOT / ".ci" / "ghapi.py").read_text()
    assert re.search(r"^ATTEMPTS = 5$", source, re.M)
    assert "five attempts in all (`.ci/ghapi.py`" in (ROOT / "README.md").read_text()
