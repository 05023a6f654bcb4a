"""`gpu-fleet prices refresh --gcp-pricing-yml / --aws-vms-csv`: the snapshot refreshed from published price files.

The recorded files are excerpts of the real ones (tests/reference/README.md): Cyclenerd's pricing.yml and
mapping.csv at fd66b26 (generated 2026-07-30 from the Cloud Billing Catalog API) and SkyPilot's AWS vms.csv at
00148f2. The committed snapshot must be what the reader makes of them, so a hand-edited row fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from components import catalog
from components.catalog import prices as catalog_prices
from gpufleet import cli
from gpufleet import prices_files as files
from gpufleet import prices_refresh as refresh
from gpufleet.prices_refresh import Key, RefreshError
from tests.support.shipped_cli import share_shipped_plans

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference" / "prices"
PRICING = REF / "cyclenerd-fd66b26-pricing-excerpt.yml"
MAPPING = REF / "cyclenerd-fd66b26-mapping-excerpt.csv"
VMS = REF / "skypilot-catalog-00148f2-aws-vms-excerpt.csv"
GCP_URL = ("https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/"
           "fd66b26ff84fee5cdd94f341ea89206e76c06b99/pricing.yml")
AWS_URL = ("https://github.com/skypilot-org/skypilot-catalog/blob/"
           "00148f2af3672e2229b4f7bf8157d5a3f36e3c35/catalogs/v8/aws/vms.csv")
GCP_REGIONS = ("us-central1", "us-east4", "europe-west4")
GCP_MACHINES = ("a3-highgpu-1g", "a3-megagpu-8g", "g2-standard-8", "g4-standard-48")
AWS_REGIONS = ("us-east-1", "us-east-2", "us-west-2")
AWS_MACHINES = ("p5.4xlarge", "p6-b200.48xlarge", "p6-b300.48xlarge", *(m.name for m in catalog.MACHINE_TYPES
                                                                         if m.name.startswith("g7e.")))


def _gcp(text: str | None = None, keys: list[Key] | None = None) -> files.FileRead:
    keys = keys or [Key(m, r) for m in GCP_MACHINES for r in GCP_REGIONS]
    return files.cyclenerd_prices(text or PRICING.read_text(), MAPPING.read_text(), keys, url=GCP_URL)


def _aws(text: str | None = None) -> files.FileRead:
    keys = [Key(m, r) for m in AWS_MACHINES for r in AWS_REGIONS]
    return files.skypilot_aws(text or VMS.read_text(), keys, url=AWS_URL, as_of="2026-11-22")


def test_a_cyclenerd_row_is_the_machines_hour_and_spot_figures_dated_by_the_files_run() -> None:
    read = _gcp()
    h100 = read.prices[Key("a3-highgpu-1g", "us-central1")]
    # pricing.yml: compute.instance.a3-highgpu-1g.cost.us-central1.hour / hour_spot; about.timestamp 1785391997.
    assert (h100.on_demand_hourly_usd, h100.spot_hourly_usd) == (11.0612499878219, 6.32619260273973)
    assert h100.as_of == "2026-07-30" and h100.source.url == GCP_URL and "Cloud Billing Catalog API" in h100.how
    on_demand = [s for s in h100.skus if not s.spot]
    assert [(s.description, s.quantity, s.unit) for s in on_demand] == [
        ("A3 Instance% (resource group CPU)", 26, "h"), ("A3 Instance% (resource group RAM)", 234, "GiBy.h"),
        ("Nvidia H100 80GB GPU running% (resource group GPU)", 1, "h"),
        ("SSD backed Local Storage% (resource group LocalSSD)", 750, "GiBy.mo")]
    spot_gpu = [s.description for s in h100.skus if s.spot][2]
    assert spot_gpu == "Nvidia H100 80GB GPU attached to Spot% (resource group GPU)"
    g4 = read.prices[Key("g4-standard-48", "us-central1")]
    assert (g4.on_demand_hourly_usd, g4.spot_hourly_usd) == (4.49993, 1.79982)
    assert [s.description for s in g4.skus if not s.spot][2] == "RTX 6000 96GB running% (resource group GPU)"


def test_a_region_the_file_does_not_price_stays_unpriced() -> None:
    read = _gcp()
    assert Key("a3-megagpu-8g", "us-central1") not in read.prices  # no us-central1 block in pricing.yml
    assert Key("a3-megagpu-8g", "us-east4") in read.prices and not read.skipped
    # pricing.pl writes 0 where a SKU of the machine is missing in a region: that is no price, not a free machine.
    zero = PRICING.read_text().replace("hour: 0.853624271", "hour: 0")
    assert Key("g2-standard-8", "us-central1") not in _gcp(zero).prices


def test_a_machine_whose_facts_disagree_with_the_catalog_is_not_priced_from_the_file() -> None:
    text = PRICING.read_text().replace("      cpu: 26\n", "      cpu: 28\n")
    read = _gcp(text)
    assert all(k.machine_type != "a3-highgpu-1g" for k in read.prices)
    assert read.skipped == ["a3-highgpu-1g: pricing.yml says cpu 28 (catalog 26)"]


def test_a_file_that_is_not_pricing_yml_is_an_error() -> None:
    with pytest.raises(RefreshError, match=r"no compute\.instance table"):
        _gcp("about: {timestamp: 1}\n")
    with pytest.raises(RefreshError, match=r"no `about\.timestamp`"):
        _gcp(PRICING.read_text().replace("  timestamp: 1785391997\n", ""))


def test_a_skypilot_row_is_the_regions_on_demand_price_and_zones_must_agree() -> None:
    read = _aws()
    assert read.prices[Key("p6-b200.48xlarge", "us-west-2")].on_demand_hourly_usd == 113.9328
    assert read.prices[Key("p5.4xlarge", "us-east-1")].on_demand_hourly_usd == 6.88
    assert Key("p6-b300.48xlarge", "us-east-1") not in read.prices  # vms.csv lists it in us-west-2 only
    assert Key("g7e.2xlarge", "us-west-2") not in read.prices
    row = read.prices[Key("g7e.2xlarge", "us-east-2")]
    assert row.spot_hourly_usd is None and row.how == files.SKYPILOT_HOW and row.skus[0].unit == "Hrs"
    (row_line,) = [line for line in VMS.read_text().splitlines() if line.startswith("p5.4xlarge,") and "usw2" in line]
    other_zone = row_line.replace(",6.88,", ",7.00,").replace("usw2-az1", "usw2-az2")
    read = _aws(VMS.read_text() + other_zone + "\n")
    assert Key("p5.4xlarge", "us-west-2") not in read.prices
    assert read.skipped == ["p5.4xlarge: vms.csv rows of us-west-2 disagree ([6.88, 7.0])"]


def test_the_committed_snapshot_is_what_the_reader_makes_of_the_recorded_files() -> None:
    fresh = {**_gcp().prices, **_aws().prices}
    assert len(fresh) == 11 + 19
    for key, price in fresh.items():
        assert catalog.price(key.machine_type, key.region) == price, key


@pytest.fixture(autouse=True)
def _dev_planned_once(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`prices refresh dev` reads the prices dev's plan uses: the run's one plan of Pulumi.dev.yaml
    (tests/support/shipped_cli.py), not another build of it per command."""
    share_shipped_plans(monkeypatch, tmp_path_factory)


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(refresh.API_KEY_ENV, raising=False)  # the file path needs no API key and no network
    code = cli.main(["prices", "refresh", "dev", *argv])
    return code, capsys.readouterr().err


FILE_ARGS = ["--gcp-pricing-yml", str(PRICING), "--gcp-mapping-csv", str(MAPPING), "--gcp-source-url", GCP_URL,
             "--aws-vms-csv", str(VMS), "--aws-source-url", AWS_URL, "--aws-as-of", "2026-11-22"]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("snapshot_from_files", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refresh_from_the_files_rewrites_the_snapshot_with_their_rows_and_reasons(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "price_snapshot.py"
    code, err = _run(["--out", str(out), *FILE_ARGS], monkeypatch, capsys)
    assert code == 0, err
    module = _load(out)
    rows = {(p.machine_type, p.region): p for p in catalog_prices.load(module.ROWS, module.SOURCES)}
    assert rows[("g4-standard-48", "us-east4")].as_of == "2026-07-30"
    assert rows[("p6-b200.48xlarge", "us-east-1")].on_demand_hourly_usd == 113.9328
    # Rows the excerpts do not hold are kept with their own dates; the curated A3 Ultra reason stays.
    assert rows[("a2-highgpu-1g", "us-central1")] == catalog.price("a2-highgpu-1g", "us-central1")
    assert module.UNPRICED["a3-ultragpu-8g"] == catalog_prices.UNPRICED["a3-ultragpu-8g"]
    mega = module.UNPRICED["a3-megagpu-8g"]
    assert mega.startswith("no list price in us-central1 (priced in europe-west4, us-east4)")
    assert set(module.SOURCES) == {"google-cloud-pricing-cost-calculator-2026-07-30", "skypilot-catalog-2026-11-22"}


@pytest.mark.parametrize(("drop", "replace", "expected"), [
    ("--gcp-mapping-csv", None, "--gcp-pricing-yml needs --gcp-mapping-csv"),
    (None, (GCP_URL, "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/master/pricing.yml"),
     "--gcp-pricing-yml needs --gcp-source-url: a URL pinned to a commit, got 'https://github.com/Cyclenerd/"
     "google-cloud-pricing-cost-calculator/blob/master/pricing.yml'"),
    ("--aws-as-of", None, "--aws-vms-csv needs --aws-as-of YYYY-MM-DD, got None"),
    (None, (str(VMS), str(REF / "missing.csv")), "missing.csv: no such file"),
])
def test_bad_file_options_exit_2_with_one_line(drop: str | None, replace: tuple[str, str] | None, expected: str,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = list(FILE_ARGS)
    if drop:
        del argv[argv.index(drop):argv.index(drop) + 2]
    if replace:
        argv[argv.index(replace[0])] = replace[1]
    code, err = _run(["--out", str(tmp_path / "s.py"), *argv], monkeypatch, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1 and expected in errors[0], err
    assert "hint: " in errors[0] and "Traceback" not in err and not (tmp_path / "s.py").exists()
