"""Issue 8 section 5: stack files, policy config and --base that the CLI would refuse exit 2 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet import cli
from tests.conftest import ROOT

DEV = (ROOT / "Pulumi.dev.yaml").read_text()


def plan_text(tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_bytes(data)
    code = cli.main(["plan", "t", "--config", str(path), "--no-policy"])
    return code, capsys.readouterr().err


def test_duplicate_yaml_key_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = DEV.replace("      mtu: 1460\n", "      mtu: 1460\n      mtu: 8896\n")
    assert text != DEV
    code, err = plan_text(tmp_path, text.encode(), capsys)
    assert code == 2
    line = text.splitlines().index("      mtu: 8896") + 1
    assert f"duplicate key 'mtu' at line {line}, column 7" in err and "hint:" in err


def test_yaml_error_keeps_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = DEV.replace("zones: [us-central1-a, us-central1-b]", "zones: [us-central1-a, us-central1-b")
    code, err = plan_text(tmp_path, text.encode(), capsys)
    assert code == 2
    assert "not valid YAML" in err and ", column " in err and "line " in err
    (message,) = [ln for ln in err.splitlines() if "not valid YAML" in ln or "YAML" in ln][:1]
    assert "hint:" in message


@pytest.mark.parametrize(("encoding", "needle"), [("utf-16", "UTF-16"), ("latin-1", "not UTF-8")])
def test_stack_file_in_another_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str], encoding: str,
                                        needle: str) -> None:
    text = DEV.replace("team: ml-platform", "team: ml-platform\n    owner: josé")
    code, err = plan_text(tmp_path, text.encode(encoding), capsys)
    assert code == 2
    assert needle in err and "UTF-8" in err and "Traceback" not in err


def test_utf8_stack_file_still_plans(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = plan_text(tmp_path, DEV.encode("utf-8"), capsys)
    assert code == 0, err
