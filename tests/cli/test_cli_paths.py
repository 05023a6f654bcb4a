"""`gpu-fleet plan` run from the checkout, as CI runs it, names files relative to it: a job log or summary never shows
the runner's folders (`/home/runner/work/<repo>/<repo>/...`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from tests.support.plans import ROOT


def test_an_invalid_stack_file_is_named_relative_to_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["gpu-fleet:gke"]["regions"][0]["clusters"][0]["gpu_pools"][0]["min_nodez"] = 1
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid configuration in Pulumi.bad.yaml (1 problem):"), err
    assert str(tmp_path) not in err
