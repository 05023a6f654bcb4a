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


# --- policy config -----------------------------------------------------------------------------------------

def _reconcile(config: dict[str, object]) -> list[str]:
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    from components.config import ConfigError
    from gpufleet import policy_gate
    from policies.pack import PACK_NAME, POLICIES

    info = _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", POLICIES, EnforcementLevel.MANDATORY).GetAnalyzerInfo(
        None, None)
    with pytest.raises(ConfigError) as caught:
        policy_gate.reconcile_config(info, config, "t.json")
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize(("config", "expected"), [
    ({"all": 3}, "t.json: all: not an enforcement level (got 3)"),
    ({"all": ["advisory"]}, "t.json: all: not an enforcement level (got ['advisory'])"),
    ({"gpu-budget": {"daily_budget_usd": 2**60}}, "t.json: gpu-budget.daily_budget_usd: too large"),
    ({"gpu-quota": {"quotas": {"us-centrall1": {"NVIDIA_L4_GPUS": 8}}}}, "did you mean us-central1?"),
    ({"gpu-quota": {"quotas": {"us-central1": {"NVIDIA_L4_GPU": 8}}}}, "did you mean NVIDIA_L4_GPUS?"),
    ({"gpu-quota": {"quotas": {"us-east-1": {"L-417A185": 8}}}}, "did you mean L-417A185B?"),
    ({"gpu-quota": {"global_quotas": {"GPUS_ALL_REGION": 8}}}, "did you mean GPUS_ALL_REGIONS?"),
])
def test_policy_config_the_engine_would_misread_is_refused(config: dict[str, object], expected: str) -> None:
    errs = _reconcile(config)
    assert any(expected in e for e in errs), errs
    assert all("hint:" in e for e in errs), errs


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(tmp_path: Path, literal: str) -> None:
    from components.config import ConfigError
    from gpufleet import policy_gate

    path = tmp_path / "c.json"
    path.write_text('{"gpu-budget": {"daily_budget_usd": ' + literal + "}}")
    with pytest.raises(ConfigError, match=rf"c\.json: {literal} is not a JSON number"):
        policy_gate.load_config(path)


def test_the_plan_says_which_policy_config_it_uses(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml")]) == 0
    captured = capsys.readouterr()
    assert "policy config: " in captured.out and "policies/config/dev.json" in captured.out


def test_a_stack_without_policy_config_says_so_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(DEV)
    cli.main(["plan", "staging", "--config", str(path)])
    err = capsys.readouterr().err
    assert "warning: stack 'staging' has no policy config" in err and "policies/config/staging.json" in err
