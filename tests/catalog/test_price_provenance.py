"""Price provenance: every snapshot row's source, date and SKUs; each pool's price source and age in the plan; the
Price provenance section; gpu-fleet:discounts applied and shown; the gpu-price-age advisory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import catalog
from components.catalog import prices as catalog_prices
from components.config import ConfigError, load_fleet
from gpufleet import policy_gate, price_provenance, report
from gpufleet.report import Plan
from policies.price_age import stale
from tests.support.pack_configs import only_policies_copy
from tests.support.plans import ROOT, stack_doc

PACK = ROOT / "policies"


def test_every_price_row_records_source_date_and_the_skus_it_is_composed_of() -> None:
    assert catalog.PRICES
    for p in catalog.PRICES:
        m = catalog.machine_type(p.machine_type)
        assert p.source.url.startswith("https://") and p.how
        assert dt.date.fromisoformat(p.as_of) <= dt.date(2026, 12, 1)
        assert p.skus, p
        if m.cloud is catalog.Cloud.GCP:
            on_demand = [s for s in p.skus if not s.spot]
            # vCPUs x core, GiB x RAM, GPUs x GPU, and the bundled Local SSD where the machine has one.
            expected = [m.vcpus, m.memory_gb, m.gpus] + ([m.local_ssd_gb] if m.local_ssd_gb else [])
            assert [s.quantity for s in on_demand] == expected, p.machine_type
            assert "Core" in on_demand[0].description or "CPU" in on_demand[0].description
            assert "GPU" in on_demand[2].description
        else:
            assert [(s.quantity, s.unit) for s in p.skus] == [(1.0, "Hrs")]


def test_machines_without_a_price_say_why() -> None:
    assert "a3-ultragpu-8g" in catalog_prices.UNPRICED
    assert all(catalog.price("a3-ultragpu-8g", r) is None for r in ("us-central1", "us-east4", "europe-west4"))
    # A3 Mega in us-central1 is in no price file read: the plan's figure there is the stack's own override.
    assert catalog.price("a3-megagpu-8g", "us-central1") is None
    assert set(catalog_prices.UNPRICED) <= {m.name for m in catalog.MACHINE_TYPES}


def test_plan_rows_carry_their_price_source_and_date(prod_plan: Plan) -> None:
    rows = prod_plan.capacity
    mega = [r for r in rows if r.machine_type == "a3-megagpu-8g" and r.region == "us-central1"]
    assert mega and all(r.price_source == "override" and r.price_as_of is None for r in mega)
    assert mega[0].price_ref == "gpu-fleet:prices[a3-megagpu-8g, us-central1]"
    listed = [r for r in rows if r.price_source == "catalog"]
    assert listed
    for r in listed:
        p = catalog.price(r.machine_type, r.region)
        assert p is not None and r.price_as_of == p.as_of and r.price_ref == p.source.url
    doc = prod_plan.to_json()
    by_pool = {e["pool"]: e for e in doc["prices"]}
    key = "gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]"
    assert by_pool[key]["source"] == "override"
    assert {"price_source", "price_as_of", "price_ref", "list_hourly_usd_per_node", "discount"} <= set(
        doc["capacity"][0])


def test_the_section_gives_each_pools_source_and_age_and_the_oldest_in_its_footer(dev_plan: Plan) -> None:
    extra = {**dev_plan.extra, "today": "2026-12-01"}
    s = price_provenance.section(dev_plan.capacity, extra)
    assert s is not None and s.key == "prices" and s.title == "Price provenance"
    assert s.headline == f"{len(dev_plan.capacity)} pools from the catalog, 0 from stack overrides, 0 unpriced."
    oldest = min(dt.date.fromisoformat(str(r.price_as_of)) for r in dev_plan.capacity)
    assert s.notes[-1].endswith(f"catalog data of {oldest} ({(dt.date(2026, 12, 1) - oldest).days} days old).")
    row = next(r for r in s.rows if r[1] == "g6.2xlarge")
    assert row[3] == "catalog (skypilot-catalog)" and row[5] == "9 days"
    text = "\n".join(report.markdown(dataclasses.replace(dev_plan, extra=extra)).splitlines())
    assert "Price provenance" in text and "| pool | machine | region | price source |" in text


def test_unpriced_pools_are_shown_with_the_reason(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    pools = dev_doc["config"]["gpu-fleet:gke"]["regions"][0]["clusters"][0]["gpu_pools"]
    pools.append({"name": "h200", "machine_type": "a3-ultragpu-8g", "capacity": "spot", "zones": ["us-central1-b"],
                  "autoscaling": {"per": "zone", "min_nodes": 0, "max_nodes": 1}})
    plan = plan_doc(dev_doc, "dev")
    s = price_provenance.section(plan.capacity, plan.extra)
    assert s is not None and "1 unpriced" in str(s.headline)
    assert any(n.startswith("a3-ultragpu-8g: no list price found") for n in s.notes)
    (entry,) = [e for e in s.data or [] if e["machine_type"] == "a3-ultragpu-8g"]
    assert entry["source"] == "unpriced" and entry["hourly_usd_per_node"] is None


def _discounted(dev_doc: dict[str, Any]) -> dict[str, Any]:
    dev_doc["config"]["gpu-fleet:discounts"] = [
        {"name": "cud-l4-1y", "kind": "committed-use", "percent": 30, "machine_types": ["g2-*"],
         "regions": ["us-central1"]},
        {"name": "savings-plan", "kind": "savings-plan", "percent": 20, "machine_types": ["g6.*", "a3-*"]},
    ]
    return dev_doc


def test_discounts_lower_on_demand_prices_and_are_shown(dev_doc: dict[str, Any], plan_doc: Any,
                                                        dev_plan: Plan) -> None:
    plan = plan_doc(_discounted(dev_doc), "dev")
    rows = {r.pool: r for r in plan.capacity}
    l4 = rows["l4"]
    listed = catalog.price("g2-standard-8", "us-central1")
    assert listed is not None and l4.list_hourly_usd_per_node == listed.on_demand_hourly_usd
    assert l4.hourly_usd_per_node == pytest.approx(listed.on_demand_hourly_usd * 0.7)
    assert l4.discount == "cud-l4-1y: committed-use -30%"
    # Spot is a market price: a commitment or savings plan does not lower it.
    h100 = rows["h100-spot"]
    assert h100.spot and h100.discount is None and h100.hourly_usd_per_node == h100.list_hourly_usd_per_node
    assert plan.cost.monthly_usd_max < dev_plan.cost.monthly_usd_max
    s = price_provenance.section(plan.capacity, plan.extra)
    assert s is not None
    assert any(c.endswith("(list $0.85, cud-l4-1y: committed-use -30%)") for row in s.rows for c in row)
    assert any(n.startswith("Discounts applied to on-demand prices (gpu-fleet:discounts): cud-l4-1y") for n in s.notes)


def test_a_discount_that_covers_no_machine_is_refused() -> None:
    doc = stack_doc("dev")["config"]
    raw = {k.partition(":")[2]: v for k, v in doc.items() if k.startswith("gpu-fleet:")}
    raw["discounts"] = [{"name": "cud", "kind": "committed-use", "percent": 30, "machine_types": ["g3-*"]}]
    with pytest.raises(ConfigError) as exc:
        load_fleet(raw)
    (issue,) = exc.value.issues
    assert str(issue).startswith("discounts[cud].machine_types: matches no machine type in the catalog")
    raw["discounts"] = [{"name": "cud", "kind": "committed-use", "percent": 100}]
    with pytest.raises(ConfigError, match=r"discounts\[0\]\.percent|discounts\[cud\]\.percent"):
        load_fleet(raw)


def test_price_age_advisory_as_a_plain_function(dev_plan: Plan) -> None:
    today = dt.date(2026, 12, 1)
    assert stale(dev_plan.capacity, {"max_age_days": 100_000}, today=today) == []
    found = stale(dev_plan.capacity, {"max_age_days": 30}, today=today)
    messages = [m for _, m in found]
    old = [r for r in dev_plan.capacity if (today - dt.date.fromisoformat(str(r.price_as_of))).days > 30]
    assert len(found) == len(old) >= 1
    assert all(re.search(r"is priced from catalog data of \d{4}-\d\d-\d\d \(\d+ days old, over the 30 days", m)
               for m in messages)


def test_price_age_advisory_through_the_pack(dev_plan: Plan, tmp_path: Path) -> None:
    config = json.loads((PACK / "config" / "dev.json").read_text())
    config["gpu-price-age"] = {"max_age_days": 1, "max_change_percent": 10}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(config))
    # The pack's other policies switched off: the verdict read here is gpu-price-age's alone.
    result = policy_gate.run_pack(PACK, only_policies_copy(path, {"gpu-price-age"}, tmp_path), dev_plan.resources,
                                  stack="dev", project="gpu-fleet")
    ages = [v for v in result.to_json()["violations"] if v["policy"] == "gpu-price-age"]
    assert ages and all(v["level"] == "advisory" for v in ages)
    assert {re.search(r"gpu_pools\[([^]]+)\]", v["message"]).group(1) for v in ages} == {  # type: ignore[union-attr]
        r.pool for r in dev_plan.capacity}
    assert not result.mandatory_failed or any(v["policy"] != "gpu-price-age" for v in result.to_json()["violations"]
                                              if v["level"] == "mandatory")


def test_the_readme_discounts_recipe_is_valid_config() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- recipe: discounts -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    discounts = yaml.safe_load(block)["gpu-fleet:discounts"]
    doc = stack_doc("dev")["config"]
    raw = {k.partition(":")[2]: v for k, v in doc.items() if k.startswith("gpu-fleet:")}
    fleet = load_fleet({**raw, "discounts": discounts})
    assert [d.name for d in fleet.discounts] == ["cud-a3-3y", "compute-sp"]
