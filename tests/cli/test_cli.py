"""`gpu-fleet plan` as a user runs it: exit codes, error lines, JSON and markdown outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli
from tests.support.pack_configs import only_policies
from tests.support.plans import ROOT, gke_of, gke_only
from tests.support.shipped_cli import share_shipped_plans

RESOURCE_KEYS = {"urn", "type", "name", "parent", "custom", "provider", "inputs"}
CAPACITY_KEYS = {"platform", "cluster", "region", "pool", "machine_type", "gpu", "accelerator", "gpus_per_node",
                 "zones", "min_nodes", "max_nodes", "min_gpus", "max_gpus", "spot", "hourly_usd_per_node",
                 "source_urn"}


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("gpu-fleet")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "160"})


def test_plan_dev_writes_json_and_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    # In-process (the pack still runs in its own process): what the files hold is not about the process boundary,
    # which the exit-code tests below and tests/cli/test_cli_usage.py run through the console script. dev's plan is
    # the run's one plan of Pulumi.dev.yaml: what the command writes is the claim, not building it again.
    monkeypatch.chdir(ROOT)
    planned = share_shipped_plans(monkeypatch, tmp_path_factory)
    code = cli.main(["plan", "dev", "--json", str(tmp_path / "plan.json"), "--markdown", str(tmp_path / "plan.md")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert planned == ["dev"]
    assert "GPUs and monthly cost by region and type" in out.out
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert doc["stack"] == "dev"
    assert all(set(r) >= RESOURCE_KEYS for r in doc["resources"])
    assert doc["capacity"] and all(set(c) >= CAPACITY_KEYS for c in doc["capacity"])
    assert set(doc["cost"]) >= {"hourly_usd_max", "monthly_usd_min", "monthly_usd_max"}
    urns = {r["urn"] for r in doc["resources"]}
    assert all(c["source_urn"] in urns for c in doc["capacity"])
    assert "[secret]" in json.dumps(doc) and "gke-gcloud-auth-plugin" not in json.dumps(doc)
    md = (tmp_path / "plan.md").read_text()
    assert "| region | GPU | GPUs min | GPUs max | $/month min | $/month max |" in md and "Monthly GPU cost" in md
    l4 = next(line for line in md.splitlines() if line.startswith("| us-central1 | l4 |"))
    row = next(c for c in doc["capacity"] if c["gpu"] == "l4" and c["region"] == "us-central1")
    expected_max = row["max_nodes"] * row["hourly_usd_per_node"] * 730
    assert f"${expected_max:,.2f}" in l4


def _broken_stack(tmp_path: Path) -> Path:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    pool = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    pool["machine_type"] = "a2-highgpu-16g"
    pool["min_nodez"] = 1
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_invalid_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    out = run_cli("plan", "broken", "--config", str(_broken_stack(tmp_path)))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [ln.strip() for ln in out.stderr.splitlines() if ln.startswith("  ")]
    assert len(lines) == 1  # structure errors are reported before semantic ones
    assert lines[0].startswith("gke.regions[us-central1].clusters[dev-1].gpu_pools[l4].min_nodez: unknown key")


def test_semantic_errors_name_the_key_and_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    pool = gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"][0]
    pool["machine_type"] = "a2-highgpu-16g"
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert cli.main(["plan", "bad", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "(1 problem):" in err
    key = f"gke.regions[us-central1].clusters[dev-1].gpu_pools[{pool['name']}].machine_type"
    assert f"{key}: a2-highgpu-16g does not exist" in err
    assert f"{key}: a2-highgpu-16g does not exist; hint: the 16 x A100 machine is a2-megagpu-16g" in err


def test_unknown_stack_exits_2_and_lists_stacks(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["plan", "staging"]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.staging.yaml does not exist" in err and "dev, prod" in err


def test_not_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # In-process: test_invalid_config_exits_2_with_one_line_per_problem holds exit 2 at the process boundary.
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config: [unclosed")
    code = cli.main(["plan", "x", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "not valid YAML" in err and "Traceback" not in err


def test_markdown_delta_against_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    share_shipped_plans(monkeypatch, tmp_path_factory)  # both runs plan Pulumi.dev.yaml: the run's one plan of it
    base = tmp_path / "base.json"
    # Without the pack: the delta is the capacity and cost against the base, not a verdict.
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy", "--json", str(base)]) == 0
    doc = json.loads(base.read_text())
    doc["capacity"] = doc["capacity"][:1]
    doc["cost"]["monthly_usd_max"] = 0
    base.write_text(json.dumps(doc))
    md = tmp_path / "c.md"
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy", "--base", str(base),
                     "--markdown", str(md)]) == 0
    text = md.read_text()
    assert "**GPU changes by region and type**" in text and "Monthly GPU cost: ceiling" in text
    assert "change: GPUs max" in text and "| +" in text


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="needs the Pulumi CLI")
def test_real_pulumi_preview(tmp_path: Path) -> None:
    """With the CLI (and GCP credentials), `pulumi preview` of dev runs the same program."""
    if not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") and not os.environ.get("CLOUDSDK_AUTH_ACCESS_TOKEN"):
        pytest.skip("needs GCP credentials")
    env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "offline"}
    subprocess.run(["pulumi", "stack", "select", "--create", "dev"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(["pulumi", "preview", "--stack", "dev", "--non-interactive"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_markdown_lists_each_pool_added_removed_or_resized(dev_doc: dict[str, Any], dev_plan: Any,
                                                           plan_doc: Any) -> None:
    from components import catalog
    from gpufleet import report

    pools = gke_of(dev_doc)["regions"][0]["clusters"][0]["gpu_pools"]
    l4 = next(p for p in pools if p["name"] == "l4")
    l4["autoscaling"]["max_nodes"] += 2
    removed = next(p for p in pools if p["name"] == "h100-spot")
    pools.remove(removed)
    pools.append({"name": "l4-big", "machine_type": "g2-standard-48", "zones": ["us-central1-a"],
                  "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 1}})
    text = report.markdown(plan_doc(dev_doc, "dev"), dev_plan.to_json())
    assert "- GPU pools changed: 3 pools (1 added, 1 changed, 1 removed)" in text
    changes = text.split("**GPU pools changed**", 1)[1].split("\n\n**", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in changes.splitlines() if "gpu_pools[" in line}
    key = "gke.regions[us-central1].clusters[dev-1].gpu_pools[{}]"
    big = catalog.machine_type("g2-standard-48")
    big_monthly = catalog.price(big.name, "us-central1").on_demand_hourly_usd * 730  # type: ignore[union-attr]
    added = rows[key.format("l4-big")]
    assert f"| added | g2-standard-48, on-demand | l4 | 0 | {big.gpus} | +${big_monthly:,.2f} (new) |" in added
    l4_hourly = catalog.price(l4["machine_type"], "us-central1").on_demand_hourly_usd  # type: ignore[union-attr]
    old_max = l4["autoscaling"]["max_nodes"] - 2
    assert f"| changed | {l4['machine_type']}, on-demand | l4 | 0 → 0 | {old_max} → {old_max + 2} | " \
           f"+${2 * l4_hourly * 730:,.2f} (+" in rows[key.format("l4")]
    assert "| removed | a3-highgpu-1g, spot | h100-80gb | 0 → 0 |" in rows[key.format("h100-spot")]
    unchanged = report.markdown(dev_plan, dev_plan.to_json())
    assert "GPU pools changed" not in unchanged and "Nothing changes against the target branch" in unchanged


def test_secret_and_look_alike_keys_in_a_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An encrypted gpu-fleet setting and a mistyped namespace are exit 2; keys print verbatim (no emoji codes)."""
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    doc["config"]["gpu-fleet:labels"] = {"secure": "v1:c2VjcmV0"}
    doc["config"]["gpufleet:x"] = "1"
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = cli.main(["plan", "s", "--config", str(path)])  # in-process, as test_not_yaml_exits_2
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "  gpu-fleet:labels: is stored as a secret" in err
    assert "  gpufleet:x: unknown config namespace 'gpufleet'" in err


def test_output_into_a_missing_folder_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # in-process, as test_not_yaml_exits_2
    code = cli.main(["plan", "dev", "--json", str(tmp_path / "nope" / "plan.json")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"--json {tmp_path / 'nope' / 'plan.json'}: the folder {tmp_path / 'nope'} does not exist" in err


@pytest.mark.parametrize("main", [
    "raise SystemExit('pack import failed')",
    "from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy\n"
    "def boom(args, report):\n    raise ValueError('policy bug')\n"
    "PolicyPack(name='broken', policies=[ResourceValidationPolicy(name='boom', description='d', validate=boom)],\n"
    "           enforcement_level=EnforcementLevel.MANDATORY)\n",
], ids=["does-not-start", "fails-while-analyzing"])
def test_a_pack_that_cannot_run_exits_3_without_a_verdict(tmp_path: Path, main: str, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str],
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    share_shipped_plans(monkeypatch, tmp_path_factory)  # the pack's run is the claim, not dev's plan (built once)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text(main)
    monkeypatch.setattr(cli, "pack_dir", lambda root: pack)
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml"), "--no-policy"]) == 0
    assert cli.main(["plan", "dev", "--config", str(ROOT / "Pulumi.dev.yaml")]) == 3
    err = capsys.readouterr().err
    assert f"error: the policy pack at {pack}" in err and "hint: the plan has no policy verdict" in err


def test_unpriced_pool_is_named_by_its_config_key(tmp_path: Path) -> None:
    """A3 Ultra has no catalog price: the budget cannot be checked, and the violation says which pool and how."""
    # dev's GKE side (a third of dev's resources, for the plan and the pack): the unpriced pool is a GKE pool.
    doc: dict[str, Any] = gke_only(yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text()))
    gke_of(doc)["regions"][0]["clusters"][0]["gpu_pools"].append(
        {"name": "h200", "machine_type": "a3-ultragpu-8g", "capacity": "spot", "zones": ["us-central1-b"],
         "disk_type": "hyperdisk-balanced",
         "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 1}})
    path = tmp_path / "Pulumi.u.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "plan.json"
    # The real pack with dev's config, gpu-budget alone on: its verdict is the claim (and the exit code's cause).
    budget_only = tmp_path / "dev.json"
    budget_only.write_text(json.dumps(only_policies("dev", ["gpu-budget"])))
    assert cli.main(["plan", "dev", "--config", str(path), "--policy-config", str(budget_only),
                     "--json", str(out)]) == 1
    (message,) = [v["message"] for v in json.loads(out.read_text())["policy"]["violations"]
                  if v["policy"] == "gpu-budget"]
    assert ("1 GPU pool without a catalog price, so the budget cannot be checked for it: "
            "gke.regions[us-central1].clusters[dev-1].gpu_pools[h200] (a3-ultragpu-8g in us-central1)") in message
    assert "gpu-fleet:prices" in message
