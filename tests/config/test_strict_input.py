"""Issue 8 section 5: what GKE, GCP or the Pulumi CLI would refuse is refused at plan time, one line each."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.config import ConfigError
from infra.config import parse
from tests.support.config_builders import POOL, errors, first_pool, values


def one(raw: dict[str, Any], start: str) -> str:
    """The single error line starting with ``start`` (every line names key, value and hint)."""
    found = [e for e in errors(raw) if e.startswith(start)]
    assert len(found) == 1, errors(raw)
    assert "hint:" in found[0]
    return found[0]


def test_compact_placement_with_queued_provisioning() -> None:
    raw = values()
    first_pool(raw).update(machine_type="a3-megagpu-8g", capacity="queued", compact_placement=True,
                           zones=["us-central1-a"], sharing=None,
                           autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 4})
    line = one(raw, f"{POOL}.compact_placement:")
    assert "queued" in line


@pytest.mark.parametrize(("machine", "zone", "disk"), [
    ("g2-standard-24", "us-central1-a", "pd-standard"),
    ("a3-megagpu-8g", "us-central1-a", "pd-standard"),
    ("a2-highgpu-8g", "us-central1-b", "hyperdisk-balanced"),
    ("a3-highgpu-8g", "us-central1-a", "pd-standard"),
])
def test_boot_disk_type_the_machine_series_does_not_take(machine: str, zone: str, disk: str) -> None:
    raw = values()
    first_pool(raw).update(machine_type=machine, zones=[zone], disk_type=disk, sharing=None)
    line = one(raw, f"{POOL}.disk_type:")
    assert repr(disk) in line
    assert "pd-balanced, pd-ssd" in line.split("hint:")[1]


def test_a3_ultra_boots_from_hyperdisk_unless_told_otherwise() -> None:
    raw = values()
    first_pool(raw).update(machine_type="a3-ultragpu-8g", zones=["us-central1-b"], capacity="flex-start",
                           sharing=None, autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 2})
    parse(raw, gcp_project="acme-test")  # no disk_type: derived from the catalog, not refused
    first_pool(raw)["disk_type"] = "pd-balanced"
    assert "hyperdisk-balanced" in one(raw, f"{POOL}.disk_type:")


def test_misspelt_region_names_the_likely_region_not_the_typo() -> None:
    raw = values()
    raw["gke"]["regions"][0]["name"] = "us-centrall1"
    errs = errors(raw)
    line = one(raw, "gke.regions[us-centrall1].name:")
    assert "did you mean us-central1?" in line
    assert not any("us-centrall1-a" in e for e in errs), errs  # never "use zones named <typo>-a"


def test_zone_that_does_not_exist() -> None:
    raw = values()
    first_pool(raw)["zones"] = ["us-central1-d"]
    line = one(raw, f"{POOL}.zones:")
    assert "'us-central1-d'" in line and "us-central1-f" in line


def test_gpu_in_a_region_the_catalog_says_has_none() -> None:
    raw = values()
    region = raw["gke"]["regions"][0]
    region["name"] = "us-east4"
    for pool in region["clusters"][0]["gpu_pools"]:
        pool["zones"] = ["us-east4-a"]
    first_pool(raw).update(machine_type="a2-highgpu-8g", sharing=None)
    line = one(raw, f"{POOL.replace('us-central1', 'us-east4')}.machine_type:")
    assert "us-east4 does not offer" in line and "us-central1" in line.split("hint:")[1]


@pytest.mark.parametrize(("edit", "start", "needle"), [
    (lambda c: c.update(pods_cidr="10.12.0.0/25"), "pods_cidr", "/24"),
    (lambda c: c.update(services_cidr="10.13.0.0/29"), "services_cidr", "/27"),
    (lambda c: c["gpu_pools"][0].update(disk_size_gb=70000), "gpu_pools[l4].disk_size_gb", "65536"),
    (lambda c: c["gpu_pools"][0].update(local_ssd_count=2), "gpu_pools[l4].local_ssd_count", "1"),
    (lambda c: c["gpu_pools"][0].update(autoscaling={"per": "zone", "min_nodes": 0, "max_nodes": 1001}),
     "gpu_pools[l4].autoscaling.max_nodes", "1000"),
    (lambda c: c["gpu_pools"][0].update(autoscaling={"per": "total", "min_nodes": 0, "max_nodes": 2001}),
     "gpu_pools[l4].autoscaling.max_nodes", "2000"),
    (lambda c: c["system_pool"].update(max_nodes_per_zone=1001), "system_pool.max_nodes_per_zone", "1000"),
])
def test_sizes_gcp_enforces(edit: Any, start: str, needle: str) -> None:
    raw = values()
    edit(raw["gke"]["regions"][0]["clusters"][0])
    line = one(raw, f"gke.regions[us-central1].clusters[dev-1].{start}:")
    assert needle in line


def test_derived_regional_names_fit_63_characters() -> None:
    raw = values()
    raw["gke"]["network"]["name"] = "n" * 40
    region = raw["gke"]["regions"][0]
    region["name"] = "northamerica-northeast1"
    for pool in region["clusters"][0]["gpu_pools"]:
        pool["zones"] = ["northamerica-northeast1-a"]
    line = one(raw, "gke.network.name:")
    assert "64" in line and "63" in line


@pytest.mark.parametrize("project", ["Acme_Dev", "acme", "acme-dev-", "1acme-dev", "a" * 31])
def test_gcp_project_must_be_a_project_id(project: str) -> None:
    with pytest.raises(ConfigError, match=r"^gcp:project: not a GCP project id \(got '.*'\); hint: ") as info:
        parse(values(), gcp_project=project)
    assert len(info.value.issues) == 1


def test_gke_project_must_be_a_project_id() -> None:
    raw = values()
    raw["gke"]["project"] = "My Project"
    with pytest.raises(ConfigError, match=r"gke\.project: not a GCP project id"):
        parse(raw, gcp_project="acme-test")


@pytest.mark.parametrize(("where", "key"), [
    (lambda p: p["autoscaling"], "autoscaling.min_nodes"),
    (lambda p: p, "local_ssd_count"),
    (lambda p: p, "disk_size_gb"),
])
def test_booleans_are_not_counts(where: Any, key: str) -> None:
    raw = values()
    where(first_pool(raw))[key.rsplit(".", 1)[-1]] = True
    with pytest.raises(ConfigError, match=rf"^{re.escape(POOL)}\.{key}: .*\(got True\); hint: a whole number"):
        parse(raw, gcp_project="acme-test")
