"""Issue 8 section 6: the README's recipe works as written, its generated tables are current, --help has exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import cli, docs
from tests.support.pack_configs import only_policies
from tests.support.plans import ROOT, gke_of

README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(name: str) -> str:
    """The fenced block right after `<!-- recipe: NAME -->` in the README."""
    found = re.search(rf"<!-- recipe: {name} -->\n```\w+\n(.*?)```", README, re.S)
    assert found, f"README.md has no recipe block {name!r}"
    return found.group(1)


def test_generated_tables_are_current() -> None:
    assert docs.render(README) == README, "README.md is stale: run `.venv/bin/python -m gpufleet.docs`"
    assert docs.main(["--check"]) == 0


def test_catalog_table_lists_every_machine_with_quota_zones_and_prices() -> None:
    table = docs.catalog_table()
    row = next(ln for ln in table.splitlines() if ln.startswith("| `a3-megagpu-8g` |"))
    assert "8 x NVIDIA H100 80GB (A3 Mega)" in row and "`NVIDIA_H100_MEGA_GPUS`" in row
    assert "us-central1: a, b, c" in row and "us-east4, europe-west4" in row.replace("europe-west4, us-east4",
                                                                                    "us-east4, europe-west4")


def test_add_a_region_recipe_works_as_written(dev_doc: dict[str, Any], tmp_path: Path) -> None:
    region = yaml.safe_load(block("region"))
    gke_of(dev_doc)["regions"].extend(region)
    prices = yaml.safe_load(block("prices"))["gpu-fleet:prices"]
    dev_doc["config"].setdefault("gpu-fleet:prices", []).extend(prices)
    policy = json.loads((ROOT / "policies" / "config" / "dev.json").read_text())
    for r, granted in json.loads(block("quota"))["gpu-quota"]["quotas"].items():
        policy["gpu-quota"]["quotas"].setdefault(r, {}).update(granted)
    stack, pack_config = tmp_path / "Pulumi.dev.yaml", tmp_path / "dev.json"
    stack.write_text(yaml.safe_dump(dev_doc))
    pack_config.write_text(json.dumps(policy))
    out = tmp_path / "plan.json"
    code = cli.main(["plan", "dev", "--config", str(stack), "--policy-config", str(pack_config), "--json", str(out)])
    plan = json.loads(out.read_text())
    assert code == 0, plan["policy"]["violations"]
    assert any(row["region"] == "us-east1" and row["max_gpus"] == 2 for row in plan["capacity"])


def test_the_recipe_without_price_and_quota_fails_as_the_readme_says(dev_doc: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    gke_of(dev_doc)["regions"].extend(yaml.safe_load(block("region")))
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump(dev_doc))
    out = tmp_path / "plan.json"
    # The real pack with dev's config, only the two policies the README says fail left on.
    pack_config = tmp_path / "dev.json"
    pack_config.write_text(json.dumps(only_policies("dev", ["gpu-quota", "gpu-budget"])))
    assert cli.main(["plan", "dev", "--config", str(stack), "--policy-config", str(pack_config),
                     "--json", str(out)]) == 1
    failed = {v["policy"] for v in json.loads(out.read_text())["policy"]["violations"] if v["level"] == "mandatory"}
    assert {"gpu-quota", "gpu-budget"} <= failed


def test_help_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["plan", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        text = capsys.readouterr().out
        assert "exit codes:" in text
        assert all(re.search(rf"^  {code}  ", text, re.M) for code in "0123"), text
