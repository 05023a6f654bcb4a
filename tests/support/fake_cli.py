"""Puts the stand-in `pulumi` (tests/support/fake_pulumi/pulumi) first on PATH, replaying dev's recorded preview."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FAKE = Path(__file__).resolve().parent / "fake_pulumi"
EVENTS = FAKE / "dev-preview.jsonl"


def fake_pulumi_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in first on PATH (then this interpreter's folder, for its `python3`); returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "pulumi").exists():
        (bin_dir / "pulumi").symlink_to(FAKE / "pulumi")
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                                                os.environ.get("PATH", "")]))
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("FAKE_PULUMI_STACKS", "dev")
    monkeypatch.setenv("FAKE_PULUMI_EVENTS", str(EVENTS))
    monkeypatch.delenv("FAKE_PULUMI_VERSION", raising=False)
    monkeypatch.delenv("FAKE_PULUMI_FAIL", raising=False)
    return log
