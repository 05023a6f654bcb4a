"""The live preview quotes the CLI's errors into the job summary and the PR comment: never with the runner's folders.

A Python program's traceback and the CLI's own errors name absolute paths (`/home/runner/work/<repo>/<repo>/infra/
__main__.py`, `~/.pulumi/plugins/...`); quoted as they are, every reader of the comment would see the runner's
layout. Through the real Automation API path against the stand-in `pulumi` (tests/support/fake_pulumi), from the
checkout as CI runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpufleet import live_preview
from tests.support.fake_cli import EVENTS, fake_pulumi_on_path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"


def test_quoted_errors_name_paths_relative_to_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pulumi_on_path(tmp_path, monkeypatch)
    monkeypatch.chdir(ROOT)
    home = Path.home()
    traceback = (f"Program failed with an unhandled exception:\nTraceback (most recent call last):\n  File "
                 f"\"{ROOT}/infra/__main__.py\", line 12, in <module>\nValueError: boom\n")
    lines = [line for line in EVENTS.read_text().splitlines() if '"enforcementLevel":"mandatory"' not in line]
    lines.append(json.dumps({"sequence": 0, "timestamp": 0, "diagnosticEvent": {
        "message": traceback, "color": "never", "severity": "error"}}))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(events))
    monkeypatch.setenv("FAKE_PULUMI_FAIL", f"could not load plugin {home}/.pulumi/plugins/resource-gcp-v8/x")
    found, failure = live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None)
    preview = live_preview.summarise("dev", found, failure, None)
    quoted = " ".join(preview.errors)
    assert 'File "infra/__main__.py", line 12' in quoted
    assert str(ROOT) not in quoted and str(home) not in quoted
    assert preview.verdict == 3
    # The CLI's own failure, when it is the only error (no diagnostic says more).
    lines.pop()
    events.write_text("\n".join(lines) + "\n")
    found, failure = live_preview.run("dev", work_dir=ROOT, pack=PACK, pack_config=None)
    preview = live_preview.summarise("dev", found, failure, None)
    assert preview.errors == ["error: could not load plugin ~/.pulumi/plugins/resource-gcp-v8/x"]
