"""`gpu-fleet prices refresh`: the real urllib clients against recorded catalogs served on loopback.

The stand-in (tests/support/price_catalogs.py) pages the Cloud Billing SKU list and serves EC2 offer files in the
documented formats; the tests check paging, composition per machine, the AWS row filter, the snapshot written, and
`--check`'s verdicts, through the CLI as the scheduled workflow runs it.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from components import catalog
from components.catalog.prices import UNPRICED
from gpufleet import cli
from gpufleet import prices_refresh as refresh
from tests.support.plans import ROOT
from tests.support.price_catalogs import API_KEY, Catalogs, ec2_row, offer_csv, serve, sku
from tests.support.shipped_cli import share_shipped_plans

US = ["us-central1", "us-east4", "us-west1"]

# GCP's published us-central1 A2 rates: 12 x 0.031611 + 85 x 0.004237 + 2.933908 = 3.673385, the on-demand price
# the snapshot holds for a2-highgpu-1g there (composed independently by Cyclenerd's pricing.yml).
A2_SKUS = [
    sku("A2C1-0001-0001", "A2 Instance Core running in Americas", "CPU", "OnDemand", US, 0.031611),
    sku("A2R1-0001-0001", "A2 Instance Ram running in Americas", "RAM", "OnDemand", US, 0.004237, "GiBy.h"),
    sku("A100-0001-0001", "Nvidia Tesla A100 GPU running in Americas", "GPU", "OnDemand", US, 2.933908),
    sku("A2C1-SPOT-0001", "Spot Preemptible A2 Instance Core running in Americas", "CPU", "Preemptible", US, 0.0111),
    sku("A2R1-SPOT-0001", "Spot Preemptible A2 Instance Ram running in Americas", "RAM", "Preemptible", US, 0.0015,
        "GiBy.h"),
    sku("A100-SPOT-0001", "Nvidia Tesla A100 GPU attached to Spot Preemptible VMs running in Americas", "GPU",
        "Preemptible", US, 1.1),
    # Not list prices of a predefined machine: committed use and sole tenancy are skipped.
    sku("A2C1-CUD1-0001", "Commitment v1: A2 Cpu in Americas for 1 Year", "CPU", "Commit1Yr", US, 0.0199),
    sku("A100-SOLE-0001", "Nvidia Tesla A100 GPU running on Sole Tenancy in Americas", "GPU", "OnDemand", US, 9.9),
]
A2_ULTRA_SKUS = [
    sku("A100-80GB-0001", "Nvidia Tesla A100 80GB GPU running in Americas", "GPU", "OnDemand", US, 3.92),
    sku("LSSD-0001-0001", "SSD backed Local Storage", "LocalSSD", "OnDemand", US, 0.08, "GiBy.mo", "Storage"),
]


def _gcp_for_dev() -> list[dict[str, Any]]:
    """Core, RAM and GPU SKUs for dev's GCP machines (a3-highgpu-1g Spot, g2-standard-8), splitting the snapshot's
    own price so that a refresh of them finds no move."""
    out = []
    for name, prefix, gpu_desc in (("a3-highgpu-1g", "A3 Instance", "Nvidia H100 80GB GPU"),
                                   ("g2-standard-8", "G2 Instance", "Nvidia L4 GPU")):
        m, p = catalog.machine_type(name), catalog.price(name, "us-central1")
        assert p is not None and p.spot_hourly_usd is not None
        for usage, total, pre, gpu_suffix in (("OnDemand", p.on_demand_hourly_usd, "", " running in Americas"),
                                              ("Preemptible", p.spot_hourly_usd, "Spot Preemptible ",
                                               " attached to Spot Preemptible VMs running in Americas")):
            core, ram = 0.01, 0.001
            ssd = 0.05 / 730 * m.local_ssd_gb
            gpu = (total - core * m.vcpus - ram * m.memory_gb - ssd) / m.gpus
            tag = f"{name[:2]}{usage[:1]}"
            out += [sku(f"{tag}-CORE", f"{pre}{prefix} Core running in Americas", "CPU", usage, US, core),
                    sku(f"{tag}-RAM", f"{pre}{prefix} Ram running in Americas", "RAM", usage, US, ram, "GiBy.h"),
                    sku(f"{tag}-GPU", f"{gpu_desc}{gpu_suffix}", "GPU", usage, US, gpu)]
        out += [sku("LSSD-OD", "SSD backed Local Storage", "LocalSSD", "OnDemand", US, 0.05, "GiBy.mo", "Storage"),
                sku("LSSD-SP", "SSD backed Local Storage attached to Spot Preemptible VMs", "LocalSSD",
                    "Preemptible", US, 0.05, "GiBy.mo", "Storage")]
    return out


def _offers(g6_2xl: float) -> dict[str, bytes]:
    rows = {r: [ec2_row("QG5W5GNZ8KNV3Y4A", "g6.2xlarge", r, g6_2xl),
                ec2_row("WIN0000000000001", "g6.2xlarge", r, 1.5, **{"Operating System": "Windows"}),
                ec2_row("DED0000000000001", "g6.2xlarge", r, 1.2, Tenancy="Dedicated"),
                ec2_row("RES0000000000001", "g6.2xlarge", r, 0.9, CapacityStatus="UnusedCapacityReservation"),
                ec2_row("P5000000000000001", "p5.48xlarge", r, 55.04)] for r in ("us-east-1", "us-east-2", "us-west-2")}
    return {r: offer_csv(v) for r, v in rows.items()}


def test_the_sku_list_is_read_page_by_page_with_the_key() -> None:
    with serve(Catalogs(pages=[A2_SKUS[:3], A2_SKUS[3:6], A2_SKUS[6:]])) as c:
        got = list(refresh.gcp_skus(API_KEY, base_url=c.base_url, page_size=3))
    assert [s["skuId"] for s in got] == [s["skuId"] for s in A2_SKUS]
    assert len(c.requests) == 3
    assert "pageToken" not in c.requests[0] and "pageToken=page-1" in c.requests[1]
    assert "pageToken=page-2" in c.requests[2]
    assert all(f"key={API_KEY}" in r and "pageSize=3" in r for r in c.requests)


def test_a_refused_key_is_one_line_without_the_key() -> None:
    with serve(Catalogs(pages=[A2_SKUS])) as c, pytest.raises(refresh.RefreshError) as exc:
        list(refresh.gcp_skus("wrong-key", base_url=c.base_url))
    assert "HTTP 403" in str(exc.value) and "wrong-key" not in str(exc.value) and "key=%2A%2A%2A" in str(exc.value)


def test_gcp_machines_are_composed_from_core_ram_gpu_and_local_ssd_skus() -> None:
    keys = [refresh.Key("a2-highgpu-1g", "us-central1"), refresh.Key("a2-ultragpu-1g", "us-central1"),
            refresh.Key("a2-highgpu-1g", "europe-west4")]
    found = refresh.compose_gcp(A2_SKUS + A2_ULTRA_SKUS, keys, today="2026-12-01")
    a2 = found[refresh.Key("a2-highgpu-1g", "us-central1")]
    listed = catalog.price("a2-highgpu-1g", "us-central1")
    assert listed is not None and a2.on_demand_hourly_usd == pytest.approx(listed.on_demand_hourly_usd, abs=1e-9)
    assert a2.spot_hourly_usd == pytest.approx(12 * 0.0111 + 85 * 0.0015 + 1.1)
    assert [(s.sku_id, s.quantity, s.unit, s.spot) for s in a2.skus] == [
        ("A2C1-0001-0001", 12, "h", False), ("A2R1-0001-0001", 85, "GiBy.h", False), ("A100-0001-0001", 1, "h", False),
        ("A2C1-SPOT-0001", 12, "h", True), ("A2R1-SPOT-0001", 85, "GiBy.h", True), ("A100-SPOT-0001", 1, "h", True)]
    assert a2.as_of == "2026-12-01" and "Cloud Billing Catalog" in a2.how
    ultra = found[refresh.Key("a2-ultragpu-1g", "us-central1")]
    m = catalog.machine_type("a2-ultragpu-1g")
    # The bundled 375 GiB of Local SSD at its GiB-month SKU over 730 hours; no Spot Local SSD SKU: no Spot price.
    assert ultra.on_demand_hourly_usd == pytest.approx(12 * 0.031611 + 170 * 0.004237 + 3.92 + 375 * 0.08 / 730)
    assert m.local_ssd_gb == 375 and ultra.spot_hourly_usd is None
    # No SKU lists europe-west4: no price is made up for it.
    assert refresh.Key("a2-highgpu-1g", "europe-west4") not in found


def test_aws_reads_the_plain_linux_on_demand_row_of_the_offer_file() -> None:
    with serve(Catalogs(offers=_offers(1.05))) as c:
        found = refresh.aws_offer("us-west-2", ["g6.2xlarge", "p5.48xlarge"], base_url=c.base_url,
                                  today="2026-12-01")
    g6 = found[refresh.Key("g6.2xlarge", "us-west-2")]
    assert g6.on_demand_hourly_usd == 1.05 and g6.spot_hourly_usd is None
    assert g6.as_of == "2026-11-28"  # the offer file's Publication Date
    assert [(s.sku_id, s.unit) for s in g6.skus] == [("QG5W5GNZ8KNV3Y4A", "Hrs")]
    assert c.requests == ["/offers/v1.0/aws/AmazonEC2/current/us-west-2/index.csv"]


def test_a_missing_region_file_is_an_error_not_an_empty_price_list() -> None:
    with serve(Catalogs(offers=_offers(1.0))) as c, pytest.raises(refresh.RefreshError, match="HTTP 404"):
        refresh.aws_offer("eu-west-9", ["g6.2xlarge"], base_url=c.base_url, today="2026-12-01")


def test_gcp_prices_need_the_api_key() -> None:
    with pytest.raises(refresh.RefreshError, match=refresh.API_KEY_ENV):
        refresh.fetch([refresh.Key("a2-highgpu-1g", "us-central1")], api_key=None, today="2026-12-01")


def test_drift_flags_old_and_moved_prices_only() -> None:
    old = catalog.price("g6.2xlarge", "us-west-2")
    assert old is not None
    current = {refresh.Key("g6.2xlarge", "us-west-2"): old}
    used = [refresh.Used("g6.2xlarge", "us-west-2", False, "dev: eks...[l4-spot]")]
    today = dt.date.fromisoformat(old.as_of) + dt.timedelta(days=10)
    assert refresh.drift(current, {}, used, today=today, max_age_days=30, max_change_percent=10) == []
    (aged,) = refresh.drift(current, {}, used, today=today, max_age_days=5, max_change_percent=10)
    assert f"is from {old.as_of}, 10 days old, over the 5 days allowed" in aged
    moved = {refresh.Key("g6.2xlarge", "us-west-2"): refresh.Price(
        "g6.2xlarge", "us-west-2", old.on_demand_hourly_usd * 1.2, None, old.source)}
    (line,) = refresh.drift(current, moved, used, today=today, max_age_days=30, max_change_percent=10)
    assert "moved +20.0%" in line and "over the 10% allowed" in line
    assert refresh.drift(current, moved, used, today=today, max_age_days=30, max_change_percent=25) == []


@pytest.fixture(autouse=True)
def _dev_planned_once(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`prices refresh dev` reads the prices dev's plan uses: the run's one plan of Pulumi.dev.yaml
    (tests/support/shipped_cli.py), not another build of it per command."""
    share_shipped_plans(monkeypatch, tmp_path_factory)


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(refresh.API_KEY_ENV, API_KEY)
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_check_fails_when_a_used_price_moved(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """dev's g6.2xlarge moved +50% in the served offer file: exit 1, one line naming the pool; GCP unmoved."""
    g6 = catalog.price("g6.2xlarge", "us-west-2")
    assert g6 is not None
    with serve(Catalogs(pages=[_gcp_for_dev()], offers=_offers(round(g6.on_demand_hourly_usd * 1.5, 4)))) as c:
        code, err = _run(["prices", "refresh", "dev", "--check", "--max-age-days", "100000",
                          "--gcp-base-url", c.base_url, "--aws-base-url", c.base_url], monkeypatch, capsys)
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "dev: eks.regions[us-west-2].clusters[dev-aws].gpu_pools[l4-spot]" in errors[0]
    assert "moved +50.0%" in errors[0] and API_KEY not in err
    assert "Traceback" not in err


def test_refresh_writes_a_snapshot_that_keeps_rows_nothing_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "price_snapshot.py"
    with serve(Catalogs(pages=[_gcp_for_dev() + A2_SKUS], offers=_offers(1.01))) as c:
        code, err = _run(["prices", "refresh", "dev", "--out", str(out), "--gcp-base-url", c.base_url,
                          "--aws-base-url", c.base_url], monkeypatch, capsys)
        assert code == 0, err
        check_code, check_err = _run(["prices", "refresh", "dev", "--check", "--max-change-percent", "50",
                                      "--max-age-days", "100",
                                      "--gcp-base-url", c.base_url, "--aws-base-url", c.base_url],
                                     monkeypatch, capsys)
    assert "rewritten: review the diff" in err
    spec = importlib.util.spec_from_file_location("snapshot_under_test", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from components.catalog.prices import load

    by_key = {(p.machine_type, p.region): p for p in load(module.ROWS, module.SOURCES)}
    g6 = by_key[("g6.2xlarge", "us-west-2")]
    assert g6.on_demand_hourly_usd == 1.01 and g6.as_of == "2026-11-28" and g6.skus[0].sku_id == "QG5W5GNZ8KNV3Y4A"
    a2 = by_key[("a2-highgpu-1g", "us-central1")]
    assert a2.as_of == dt.datetime.now(dt.UTC).date().isoformat() and a2.skus[0].sku_id == "A2C1-0001-0001"
    kept = by_key[("a2-highgpu-1g", "europe-west4")]  # no SKU lists europe-west4: the old row, with its own date
    assert kept == catalog.price("a2-highgpu-1g", "europe-west4")
    # A machine no source prices anywhere keeps its curated reason; a gap in some regions names them and the data read.
    assert module.UNPRICED["a3-ultragpu-8g"] == UNPRICED["a3-ultragpu-8g"]
    assert module.UNPRICED["p4de.24xlarge"].startswith("no list price in us-east-2 (priced in us-east-1, us-west-2)")
    # The committed snapshot is still the old one (GCP data of 2026-07-30), so --check finds dev's GCP prices
    # over 100 days old: exit 1, one per pool.
    assert check_code == 1 and check_err.count("days allowed") == 2, check_err
