"""Waivers through `gpu-fleet plan` as a user runs it: the terminal, the JSON and the comment each show them, in
their own section; an expired waiver fails the plan saying so; a bad waiver is exit 2 naming its key, no traceback.

One plan of dev's GKE side (what the waivers cover; a third of dev's plan) with the real pack and a policy config
next to dev's: `us-central1 NVIDIA_L4_GPUS` taken to 0 and
waived, a waiver that matches nothing, and `gke-deletion-protection` required with an expired waiver for dev-1.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from policies import waivers
from tests.support.pack_configs import disable_all_but
from tests.support.plans import ROOT, gke_only, stack_doc

TODAY = waivers.today()
SOON, YESTERDAY = str(TODAY + timedelta(days=30)), str(TODAY - timedelta(days=1))
QUOTA = "us-central1 NVIDIA_L4_GPUS"


def _config(tmp_path: Path, *, quota_waivers: list[dict[str, str]]) -> Path:
    config = json.loads((ROOT / "policies" / "config" / "dev.json").read_text())
    config["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_L4_GPUS"] = 0
    config["gpu-quota"]["waivers"] = quota_waivers
    config["gke-deletion-protection"] = {**config.get("gke-deletion-protection", {}), "required": True, "waivers": [
        {"covers": "dev-1", "owner": "sre", "reason": "disposable", "expires": YESTERDAY}]}
    path = tmp_path / "dev.json"
    # only the policies waived here (and the waivers' report) on: the pack process judges nothing else
    path.write_text(json.dumps(disable_all_but(config, ["gpu-quota", "gke-deletion-protection", waivers.NAME])))
    return path


def _dev_gke(folder: Path) -> Path:
    """`Pulumi.dev.yaml` without its EKS side (tests/support/plans.py `gke_only`), in `folder`."""
    path = folder / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(gke_only(stack_doc("dev"))))
    return path


WAIVED = {"covers": QUOTA, "owner": "ml-platform", "ticket": "OPS-4711", "expires": SOON}
STALE = {"covers": "us-central1 NVIDIA_H100_GPUS", "owner": "ml-platform", "reason": "old pool", "expires": SOON}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("waivers-cli")
    config = _config(tmp, quota_waivers=[WAIVED, STALE])
    out, md = tmp / "plan.json", tmp / "plan.md"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["plan", "dev", "--config", str(_dev_gke(tmp)), "--policy-config", str(config),
                         "--json", str(out), "--markdown", str(md)])
    return {"code": code, "terminal": buffer.getvalue(), "json": json.loads(out.read_text()),
            "markdown": md.read_text()}


def _flat(text: str) -> str:
    """The terminal's tables wrap long cells: join the words back, without box-drawing characters."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐├┤┼━─╇╈╋┳┻]", " ", text))


def test_the_expired_waiver_fails_the_plan_saying_so(planned: dict[str, Any]) -> None:
    assert planned["code"] == 1
    [expired] = [v for v in planned["json"]["policy"]["violations"] if v["policy"] == "gke-deletion-protection"]
    assert expired["level"] == "mandatory"
    assert expired["message"].startswith(f"waiver expired on {YESTERDAY} (sre: disposable); renew it or fix this: ")
    assert f"waiver expired on {YESTERDAY} (sre: disposable)" in _flat(planned["terminal"])


def test_waived_and_unused_waivers_show_in_the_json(planned: dict[str, Any]) -> None:
    records = planned["json"]["policy"]["waivers"]
    assert [r["state"] for r in records] == ["waived", "unused"]
    assert records[0]["message"].startswith(f"waived until {SOON} by ml-platform: OPS-4711 [gpu-quota on {QUOTA}]")
    assert "gpu-quota on us-central1 NVIDIA_H100_GPUS (by ml-platform" in records[1]["message"]
    assert not [v for v in planned["json"]["policy"]["violations"]
                if v["policy"] == "gpu-quota" and v["message"].startswith(QUOTA)]


def test_the_terminal_has_a_waivers_section(planned: dict[str, Any]) -> None:
    terminal = _flat(planned["terminal"])
    assert "Waivers 1 violation waived, 1 waiver matching nothing" in terminal
    assert f"waived until {SOON} by ml-platform: OPS-4711 [gpu-quota on {QUOTA}]" in terminal
    assert "unused waiver: gpu-quota on us-central1 NVIDIA_H100_GPUS" in terminal


def test_the_comment_has_a_waivers_section(planned: dict[str, Any]) -> None:
    md = planned["markdown"]
    assert "**Waivers** — 1 violation waived, 1 waiver matching nothing" in md
    assert f"waived until {SOON} by ml-platform: OPS-4711" in md and "unused waiver: gpu-quota on" in md


# One plan each, so the two the issue names: a past year typed for this one, and no owner (test_waivers.py
# has every rule against the pack directly).
@pytest.mark.parametrize(("waiver", "key", "fragment"), [
    ({**WAIVED, "expires": str(TODAY.replace(year=TODAY.year - 10))}, "gpu-quota.waivers.0.expires",
     "days before today"),
    ({k: v for k, v in WAIVED.items() if k != "owner"}, "gpu-quota.waivers.0", "'owner' is a required"),
])
def test_a_bad_waiver_is_exit_2_naming_its_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               waiver: dict[str, str], key: str, fragment: str) -> None:
    config = _config(tmp_path, quota_waivers=[waiver])
    code = cli.main(["plan", "dev", "--config", str(_dev_gke(tmp_path)), "--policy-config", str(config)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if f"{config}: {key}:" in line]
    assert fragment in line and "hint:" in line
