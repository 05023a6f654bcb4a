"""Issue 8 section 5: stack files, policy config and --base that the CLI would refuse exit 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from tests.support.plans import ROOT, gke_only, stack_doc
from tests.support.shipped_cli import share_shipped_plans

DEV = (ROOT / "Pulumi.dev.yaml").read_text()
# dev's GKE side (54 resources, not 183): for the tests about what the pack's run prints, not about dev's plan.
DEV_GKE = yaml.safe_dump(gke_only(stack_doc("dev")))


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
    ({"gpu-quota": {"quotas": {"us-central1": {"NVIDIA_L4_GPUS": 2**60}}}},
     "t.json: gpu-quota.quotas.us-central1.NVIDIA_L4_GPUS: too large"),
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


def test_the_plan_says_which_policy_config_it_uses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(DEV_GKE)
    assert cli.main(["plan", "dev", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    words = " ".join(captured.out.split())  # the policy section's title wraps to the table's width
    assert "Policy pack" in words and "config policies/config/dev.json" in words


def test_a_stack_without_policy_config_says_so_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(DEV_GKE)
    cli.main(["plan", "staging", "--config", str(path)])
    err = capsys.readouterr().err
    assert "warning: stack 'staging' has no policy config" in err and "policies/config/staging.json" in err


# --- --base, unexpected errors, one line ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev_base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("base") / "base.json"
    with pytest.MonkeyPatch.context() as monkeypatch:  # the run's one plan of Pulumi.dev.yaml, written as a base
        share_shipped_plans(monkeypatch, tmp_path_factory)
        assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy", "--json",
                         str(out)]) == 0
    return dict(json.loads(out.read_text()))


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: {**d, "stack": "prod"}, "holds a plan of stack 'prod', not 'dev'"),
    (lambda d: {"resources": []}, "not a gpu-fleet plan (no stack, capacity)"),
    (lambda d: [d], "not a gpu-fleet plan"),
    (lambda d: {**d, "capacity": "none"}, "not a gpu-fleet plan"),
])
def test_base_of_another_stack_or_not_a_plan_exits_2(edit: Any, expected: str, dev_base: dict[str, object],
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps(edit(dev_base)))
    code = cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy", "--base", str(base),
                     "--markdown", str(tmp_path / "c.md")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "hint:" in err, err


def test_unexpected_exception_is_exit_3_on_one_line(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("first line\nsecond line")

    monkeypatch.setattr(cli, "build_plan", broken)
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: unexpected KeyError: ") and "second line" in err and "hint:" in err


def test_errors_stay_on_one_line_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(DEV.replace("      mtu: 1460\n", "      mtu: 1460\n      mtu: 8896\n"))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    exe = Path(sys.executable).with_name("gpu-fleet")
    out = subprocess.run([str(exe), "plan", "t", "--config", str(path), "--no-policy"], capture_output=True,
                         text=True, check=False, env=env)
    assert out.returncode == 2
    (line,) = [ln for ln in out.stderr.splitlines() if "duplicate key" in ln]
    assert len(line) > 120 and line.rstrip().endswith("the Pulumi CLI refuses a key set twice"), out.stderr
    # the stack-not-found message, outside the configuration path, too
    out = subprocess.run([str(exe), "plan", "no-such-stack-with-a-long-name-to-wrap-past-eighty-columns"],
                         capture_output=True, text=True, check=False, env=env, cwd=ROOT)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
