"""The catalog's GCP facts: regions and zones, boot disks and Local SSD per machine series, GKE limits."""

from __future__ import annotations

from components import catalog
from components.catalog import gcp_limits
from components.config.gke import BootDiskType


def test_every_gpu_zone_is_a_gcp_zone() -> None:
    for gpu_id, regions in catalog.GPU_ZONES.items():
        for region, zones in regions.items():
            assert region in catalog.GCP_REGIONS, (gpu_id, region)
            assert set(zones) <= set(catalog.GCP_REGIONS[region]), (gpu_id, region, zones)


def test_zones_belong_to_their_region() -> None:
    assert len(catalog.GCP_REGIONS) == 42
    for region, zones in catalog.GCP_REGIONS.items():
        assert zones and all(z.rsplit("-", 1)[0] == region for z in zones)
    assert catalog.GCP_REGIONS["us-central1"] == ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f")


def test_every_gcp_machine_has_one_series_with_boot_disks_gke_accepts() -> None:
    gcp = [m.name for m in catalog.machine_types(catalog.Cloud.GCP)]
    assert sorted(gcp) == sorted(m for s in catalog.MACHINE_SERIES for m in s.machines)
    for s in catalog.MACHINE_SERIES:
        assert s.boot_disk_types
        for disk in s.boot_disk_types:
            BootDiskType(disk)  # a value the config accepts, or ValueError


def test_series_disk_facts_from_the_review() -> None:
    def disks(machine: str) -> tuple[str, ...]:
        s = gcp_limits.series(machine)
        assert s is not None
        return s.boot_disk_types

    assert "pd-standard" not in disks("g2-standard-24")
    assert "pd-standard" not in disks("a3-megagpu-8g")
    assert "hyperdisk-balanced" not in disks("a2-highgpu-8g")
    assert disks("a3-ultragpu-8g") == ("hyperdisk-balanced",)
    assert "hyperdisk-balanced" not in disks("a3-highgpu-1g")


def test_local_ssd_is_attachable_only_where_none_is_bundled() -> None:
    for s in catalog.MACHINE_SERIES:
        for machine in s.attachable_local_ssd:
            assert catalog.machine_type(machine).local_ssd_gb == 0, machine
    assert gcp_limits.series("g2-standard-96").attachable_local_ssd["g2-standard-96"] == 8  # type: ignore[union-attr]


def test_region_hint_names_the_likely_region() -> None:
    assert catalog.gcp_region_hint("us-centrall1") == "did you mean us-central1?"
    assert catalog.gcp_region_hint("europe-wets4") == "did you mean europe-west4?"


def test_quota_names_come_from_the_catalog() -> None:
    assert {"NVIDIA_H100_MEGA_GPUS", "PREEMPTIBLE_NVIDIA_L4_GPUS", "L-417A185B"} <= catalog.quota_metrics()
    assert catalog.GCP_ALL_REGIONS_METRIC not in catalog.quota_metrics()  # global, not regional
    assert {"us-central1", "us-east-1"} <= catalog.quota_regions()


def test_project_id_pattern() -> None:
    ok = ["acme-ml-dev", "abcdef", "a" * 30]
    bad = ["abcde", "a" * 31, "1acme-dev", "acme-dev-", "Acme-dev", "acme_dev"]
    assert all(gcp_limits.PROJECT_ID.match(p) for p in ok)
    assert not any(gcp_limits.PROJECT_ID.match(p) for p in bad)
