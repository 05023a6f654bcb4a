"""Facts the GPU catalog must get right, and the shape every row must have."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest

from components import catalog
from components.catalog import Cloud, Provisioning
from components.config import ConfigError
from infra.config import parse
from tests.support.plans import stack_doc

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _all_sources() -> list[catalog.Source]:
    sources = [g.source for g in catalog.GPUS] + [m.source for m in catalog.MACHINE_TYPES]
    sources += [p.source for p in catalog.PRICES] + [q.source for q in catalog.AWS_QUOTAS.values()]
    sources += [catalog.GPU_ZONES_SOURCE, *catalog.GCP_QUOTA_METRICS_SOURCES]
    sources += [*catalog.MIG_PARTITIONS_SOURCES, *catalog.GKE_ACCELERATOR_SOURCES]
    sources += list(catalog.GCP_PROVISIONING_SOURCES) + list(catalog.GPU_ZONES_CROSSCHECK_SOURCES)
    return sources


def test_a2_highgpu_16g_does_not_exist_and_the_hint_names_a2_megagpu_16g() -> None:
    assert catalog.find_machine_type("a2-highgpu-16g") is None
    assert "a2-megagpu-16g" in catalog.machine_hint("a2-highgpu-16g", Cloud.GCP)
    assert catalog.machine_type("a2-megagpu-16g").gpus == 16


def test_known_mistakes_are_not_catalog_machines() -> None:
    for name in catalog.KNOWN_MISTAKES:
        assert catalog.find_machine_type(name) is None


def test_a3_highgpu_sizes() -> None:
    assert [catalog.machine_type(f"a3-highgpu-{n}g").gpus for n in (1, 2, 4, 8)] == [1, 2, 4, 8]
    m = catalog.machine_type("a3-highgpu-4g")
    assert (m.gpus, m.vcpus, m.memory_gb, m.local_ssd_gb) == (4, 104, 936, 3000)


def test_a3_mega_carries_its_own_accelerator_and_quota() -> None:
    m = catalog.machine_type("a3-megagpu-8g")
    assert catalog.gpu(m.gpu).gke_accelerator == "nvidia-h100-mega-80gb"
    assert catalog.gcp_quota_metric(m, spot=False) == "NVIDIA_H100_MEGA_GPUS"
    assert catalog.gcp_quota_metric(m, spot=True) == "PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS"


@pytest.mark.parametrize(("machine", "accelerator"), [
    ("a2-highgpu-1g", "nvidia-tesla-a100"),
    ("a2-ultragpu-8g", "nvidia-a100-80gb"),
    ("a3-highgpu-8g", "nvidia-h100-80gb"),
    ("a3-ultragpu-8g", "nvidia-h200-141gb"),
    ("g2-standard-8", "nvidia-l4"),
])
def test_accelerator_of_each_series(machine: str, accelerator: str) -> None:
    assert catalog.gpu(catalog.machine_type(machine).gpu).gke_accelerator == accelerator


def test_machine_for_accelerator() -> None:
    found = catalog.machine_for_accelerator("nvidia-tesla-a100", 16)
    assert found is not None and found.name == "a2-megagpu-16g"
    found = catalog.machine_for_accelerator("nvidia-h200-141gb", 8)
    assert found is not None and found.name == "a3-ultragpu-8g"
    # Four g2 sizes carry one L4 each, so one L4 does not name a machine.
    assert catalog.machine_for_accelerator("nvidia-l4", 1) is None


def test_g2_gpu_counts() -> None:
    counts = {m.name: m.gpus for m in catalog.machine_types(Cloud.GCP) if m.name.startswith("g2-")}
    assert counts == {"g2-standard-4": 1, "g2-standard-8": 1, "g2-standard-12": 1, "g2-standard-16": 1,
                      "g2-standard-24": 2, "g2-standard-32": 1, "g2-standard-48": 4, "g2-standard-96": 8}


def test_bundled_local_ssd() -> None:
    assert catalog.machine_type("a2-ultragpu-1g").local_ssd_gb == 375
    assert catalog.machine_type("a3-ultragpu-8g").local_ssd_gb == 12000
    assert catalog.machine_type("a2-highgpu-8g").local_ssd_gb == 0
    assert catalog.machine_type("g2-standard-96").local_ssd_gb == 0


def test_small_a3_high_only_as_spot_or_flex_start() -> None:
    for name in ("a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"):
        assert catalog.machine_type(name).provisioning == {Provisioning.SPOT, Provisioning.FLEX_START}
    assert Provisioning.ON_DEMAND in catalog.machine_type("a3-highgpu-8g").provisioning
    assert Provisioning.ON_DEMAND not in catalog.machine_type("a3-ultragpu-8g").provisioning


def test_every_machine_is_well_formed() -> None:
    names = [m.name for m in catalog.MACHINE_TYPES]
    assert len(names) == len(set(names))
    for m in catalog.MACHINE_TYPES:
        g = catalog.gpu(m.gpu)
        assert m.gpus >= 1 and m.vcpus >= 1 and m.memory_gb > 0 and m.local_ssd_gb >= 0, m.name
        assert m.provisioning, m.name
        if m.cloud is Cloud.GCP:
            assert m.aws_quota is None and g.gke_accelerator is not None, m.name
            assert Provisioning.SPOT in m.provisioning, m.name
        else:  # a Spot quota is needed only where Spot is offered (P6's Spot quota is unverified: no Spot)
            assert (m.aws_quota, False) in catalog.AWS_QUOTAS, m.name
            assert ((m.aws_quota, True) in catalog.AWS_QUOTAS) == (Provisioning.SPOT in m.provisioning), m.name


def test_required_machines_are_present() -> None:
    gcp = [f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)] + ["a2-megagpu-16g"]
    gcp += [f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)] + [f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)]
    gcp += ["a3-megagpu-8g", "a3-ultragpu-8g"] + [f"g2-standard-{n}" for n in (4, 8, 12, 16, 24, 32, 48, 96)]
    sizes = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")
    aws = ["p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge", "p4d.24xlarge", "p4de.24xlarge"]
    aws += [f"{family}.{size}" for family in ("g6", "g6e") for size in sizes]
    assert {m.name for m in catalog.machine_types(Cloud.GCP)} >= set(gcp)
    assert {m.name for m in catalog.machine_types(Cloud.AWS)} >= set(aws)


def test_g6_and_g6e_gpu_counts() -> None:
    for family, gpu in (("g6", "l4"), ("g6e", "l40s")):
        for size, gpus in (("xlarge", 1), ("16xlarge", 1), ("12xlarge", 4), ("24xlarge", 4), ("48xlarge", 8)):
            m = catalog.machine_type(f"{family}.{size}")
            assert (m.gpu, m.gpus, m.aws_quota) == (gpu, gpus, "G")


def test_every_gcp_gpu_has_accelerator_and_both_metrics() -> None:
    for g in catalog.GPUS:
        if g.gke_accelerator is None:
            assert g.gcp_quota_metric is None and g.gcp_preemptible_quota_metric is None
            continue
        assert g.gcp_quota_metric and g.gcp_preemptible_quota_metric
        assert g.gcp_preemptible_quota_metric == "PREEMPTIBLE_" + g.gcp_quota_metric
        assert g.gcp_quota_metric.startswith("NVIDIA_") and g.gcp_quota_metric.endswith("_GPUS")


def test_gpu_ids_and_metrics() -> None:
    expected = {
        "a100-40gb": ("nvidia-tesla-a100", "NVIDIA_A100_GPUS"),
        "a100-80gb": ("nvidia-a100-80gb", "NVIDIA_A100_80GB_GPUS"),
        "h100-80gb": ("nvidia-h100-80gb", "NVIDIA_H100_GPUS"),
        "h100-mega-80gb": ("nvidia-h100-mega-80gb", "NVIDIA_H100_MEGA_GPUS"),
        "h200-141gb": ("nvidia-h200-141gb", "NVIDIA_H200_GPUS"),
        "l4": ("nvidia-l4", "NVIDIA_L4_GPUS"),
        "l40s": (None, None),
        "b200": ("nvidia-b200", "NVIDIA_B200_GPUS"),
        "gb200": ("nvidia-gb200", "NVIDIA_GB200_GPUS"),
        "rtx-pro-6000": ("nvidia-rtx-pro-6000", "NVIDIA_RTX_PRO_6000_GPUS"),
        "b300": (None, None),
        "rtx-pro-4500": (None, None),
    }
    assert {g.id: (g.gke_accelerator, g.gcp_quota_metric) for g in catalog.GPUS} == expected


def test_mig_partitions() -> None:
    # GKE's partitioner (container-engine-accelerators partition_gpu.go) per GPU.
    assert catalog.gpu("a100-40gb").mig_partitions == ("1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")
    assert "4g.40gb" in catalog.gpu("a100-80gb").mig_partitions
    # The double-memory 1g slice: GKE accepts it on H100 (and A3 Mega's H100) and H200, not on A100 80GB.
    assert "1g.20gb" in catalog.gpu("h100-80gb").mig_partitions
    assert catalog.gpu("h100-mega-80gb").mig_partitions == catalog.gpu("h100-80gb").mig_partitions
    assert "1g.20gb" not in catalog.gpu("a100-80gb").mig_partitions
    assert {"1g.35gb", "4g.71gb"} <= set(catalog.gpu("h200-141gb").mig_partitions)
    assert catalog.gpu("l4").mig_partitions == () and catalog.gpu("l40s").mig_partitions == ()
    for g in catalog.GPUS:
        for size in g.mig_partitions:
            assert re.fullmatch(r"[1-7]g\.\d+gb", size), (g.id, size)


def test_prices_are_positive_and_spot_is_cheaper() -> None:
    keys = [(p.machine_type, p.region) for p in catalog.PRICES]
    assert len(keys) == len(set(keys))
    for p in catalog.PRICES:
        assert catalog.find_machine_type(p.machine_type) is not None, p.machine_type
        assert p.on_demand_hourly_usd > 0, p
        if p.spot_hourly_usd is not None:
            assert 0 < p.spot_hourly_usd < p.on_demand_hourly_usd, p


def test_price_lookups() -> None:
    p = catalog.price("p5.48xlarge", "us-east-1")
    assert p is not None and p.on_demand_hourly_usd == 55.04 and p.spot_hourly_usd is None
    assert catalog.price("p5e.48xlarge", "us-east-1") is None  # no on-demand list price
    g2 = catalog.price("g2-standard-8", "us-central1")
    assert g2 is not None and g2.spot_hourly_usd is not None
    assert catalog.price("a3-ultragpu-8g", "us-central1") is None  # not found with a source


def test_aws_quotas() -> None:
    def code(machine: str, spot: bool) -> str:
        return catalog.aws_quota(catalog.machine_type(machine), spot=spot).code

    assert code("p5.48xlarge", False) == code("p4d.24xlarge", False) == "L-417A185B"
    assert code("p5en.48xlarge", True) == "L-C4BD4855"
    assert code("p4de.24xlarge", True) == "L-7212CCBC"
    assert code("g6e.xlarge", False) == "L-DB2E81BA"
    assert code("g6.48xlarge", True) == "L-3819A6DF"
    assert catalog.AWS_QUOTAS[("G", False)].name == "Running On-Demand G and VT instances"
    with pytest.raises(KeyError):
        catalog.aws_quota(catalog.machine_type("g2-standard-8"), spot=False)


def test_gpu_zones_unknown_means_none() -> None:
    for gpu_id, regions in catalog.GPU_ZONES.items():
        catalog.gpu(gpu_id)
        for region, zones in regions.items():
            assert all(z.startswith(region + "-") for z in zones)
    assert catalog.gpu_zones("h100-80gb", "nowhere-1") is None


def test_every_source_has_https_url_and_iso_date() -> None:
    for s in _all_sources():
        assert s.url.startswith("https://"), s
        assert _ISO_DATE.match(s.checked), s
        assert s.checked <= "2026-12-01", s  # the 2026 machines were read on 2026-12-01


def test_rows_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.machine_type("g2-standard-4").gpus = 2  # type: ignore[misc]


# --- GPU zones ---------------------------------------------------------------------------------------

_ZONE_REGIONS = ("us-central1", "us-east4", "europe-west4")


def _dev_values() -> dict[str, Any]:
    cfg = stack_doc("dev")["config"]
    return copy.deepcopy({k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("gpu-fleet:")})


def _dev_errors_with_first_pool(**pool: Any) -> list[str]:
    raw = _dev_values()
    raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"][0].update(pool)
    with pytest.raises(ConfigError) as info:
        parse(raw, gcp_project="acme-test")
    return [str(i) for i in info.value.issues]


def test_gpu_zones_table_is_well_formed() -> None:
    gcp_gpus = {g.id for g in catalog.GPUS if g.gke_accelerator is not None}
    # The 2026 GPUs' zones were not read: absent, hence unknown everywhere (never refused by region).
    assert gcp_gpus - set(catalog.GPU_ZONES) == {"b200", "gb200", "rtx-pro-6000"}
    assert set(catalog.GPU_ZONES) <= gcp_gpus
    for gpu_id, regions in catalog.GPU_ZONES.items():
        for region, zones in regions.items():
            assert zones, (gpu_id, region)  # a region with no listed zone is left out, never empty
            assert list(zones) == sorted(set(zones)), (gpu_id, region)
            assert all(re.fullmatch(re.escape(region) + r"-[a-f]", z) for z in zones), (gpu_id, region)


def test_every_gcp_machine_gpu_has_zones_in_us_central1() -> None:
    for m in catalog.machine_types(Cloud.GCP):
        if m.gpu not in catalog.GPU_ZONES:
            continue  # zones not read (A4, G4)
        zones = catalog.gpu_zones(m.gpu, "us-central1")
        assert zones, m.name


def test_gpus_other_than_h200_have_zones_in_the_three_fleet_regions() -> None:
    for gpu_id in ("a100-40gb", "a100-80gb", "h100-80gb", "h100-mega-80gb", "l4"):
        for region in _ZONE_REGIONS:
            if (gpu_id, region) == ("a100-40gb", "us-east4"):
                continue  # no A2 Standard in us-east4 in the source: left unknown
            assert catalog.gpu_zones(gpu_id, region), (gpu_id, region)


@pytest.mark.parametrize(("gpu_id", "zone"), [
    ("a100-40gb", "us-central1-f"),
    ("a100-80gb", "us-east4-c"),
    ("h100-80gb", "europe-west4-c"),
    ("h100-mega-80gb", "us-east4-a"),
    ("h200-141gb", "us-central1-b"),
    ("l4", "us-east1-d"),
])
def test_known_zone_is_listed(gpu_id: str, zone: str) -> None:
    zones = catalog.gpu_zones(gpu_id, zone.rsplit("-", 1)[0])
    assert zones is not None and zone in zones


@pytest.mark.parametrize(("gpu_id", "zone"), [
    ("a100-80gb", "us-central1-b"),  # A2 Ultra: us-central1-a and -c only
    ("h100-mega-80gb", "europe-west4-a"),  # A3 Mega: europe-west4-b and -c only
    ("h200-141gb", "us-central1-a"),  # A3 Ultra: us-central1-b only
    ("l4", "us-central1-f"),  # G2: us-central1-a, -b, -c
    ("l4", "us-east4-b"),  # G2: us-east4-a and -c
])
def test_zone_known_not_to_offer_the_gpu_is_absent(gpu_id: str, zone: str) -> None:
    zones = catalog.gpu_zones(gpu_id, zone.rsplit("-", 1)[0])
    assert zones is not None and zone not in zones


def test_region_without_a_listing_stays_unknown() -> None:
    assert catalog.gpu_zones("a100-80gb", "us-west1") is None
    assert catalog.gpu_zones("h200-141gb", "asia-southeast1") is None


def test_validation_rejects_l4_pool_in_a_zone_without_l4() -> None:
    errs = _dev_errors_with_first_pool(zones=["us-central1-a", "us-central1-f"])
    (line,) = [e for e in errs if "is not offered in" in e]
    assert "NVIDIA L4 is not offered in us-central1-f" in line
    assert "us-central1-a, us-central1-b, us-central1-c" in line


def test_validation_rejects_h200_pool_outside_us_central1_b() -> None:
    errs = _dev_errors_with_first_pool(machine_type="a3-ultragpu-8g", capacity="spot", sharing=None,
                                       disk_type="hyperdisk-balanced", zones=["us-central1-a"])
    (line,) = errs
    assert "NVIDIA H200 141GB is not offered in us-central1-a" in line
    assert line.endswith("us-central1 offers it in us-central1-b")


def test_validation_accepts_the_listed_zones_of_the_dev_stack() -> None:
    raw = _dev_values()
    parse(raw, gcp_project="acme-test")
    for cluster in raw["gke"]["regions"][0]["clusters"]:
        for pool in cluster["gpu_pools"]:
            gpu_id = catalog.machine_type(pool["machine_type"]).gpu
            offered = catalog.gpu_zones(gpu_id, "us-central1")
            assert offered is not None and set(pool["zones"]) <= set(offered), pool["name"]


def test_every_gpu_machine_has_a_sourced_bandwidth_and_multi_nic_machines_are_not_judged_on_one_nic() -> None:
    from components.catalog.telemetry import NIC_BANDWIDTH_SOURCES, NIC_GBPS, host_nic_gbps

    machines = {m.name for m in catalog.MACHINE_TYPES}
    assert machines <= NIC_GBPS.keys(), sorted(machines - NIC_GBPS.keys())
    assert {s.url for s in NIC_BANDWIDTH_SOURCES} >= {"https://docs.cloud.google.com/compute/docs/gpus"}
    # Google's "Maximum network bandwidth (Gbps)" column, spot-checked.
    assert (NIC_GBPS["a2-highgpu-8g"], NIC_GBPS["g2-standard-96"], NIC_GBPS["a3-megagpu-8g"]) == (100, 100, 1800)
    assert host_nic_gbps("a2-ultragpu-4g") == 50 and host_nic_gbps("a3-highgpu-4g") == 100
    for several in ("a3-highgpu-8g", "a3-megagpu-8g", "a3-ultragpu-8g", "p5.48xlarge", "p4d.24xlarge"):
        assert NIC_GBPS[several] > 0 and host_nic_gbps(several) is None, several
    assert host_nic_gbps("g6.xlarge") == 2.5
