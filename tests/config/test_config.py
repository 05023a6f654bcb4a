"""Stack configuration errors: one line per problem, with the key path by name, the value and a hint."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import ConfigError
from gpufleet.offline import read_stack_file
from infra.config import parse
from tests.support.config_builders import POOL, errors, first_pool, values
from tests.support.plans import ROOT, stack_doc


def test_shipped_stacks_are_valid() -> None:
    for stack in ("dev", "prod"):
        # As the program receives it: encrypted values are secret keys (prod's OpenShift kubeconfig).
        file = read_stack_file(ROOT / f"Pulumi.{stack}.yaml", stack)
        parsed = parse(file.project_values(), gcp_project=stack_doc(stack)["config"]["gcp:project"],
                       keys=file.config, secret_keys=file.secret_keys)
        assert parsed.fleet.gke is not None


def test_unknown_key_is_an_error_with_its_named_path() -> None:
    raw = values()
    first_pool(raw)["max_node"] = 3
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.max_node: unknown key")
    assert "hint:" in line


def test_unknown_top_level_key() -> None:
    raw = values()
    raw["gkee"] = {}
    assert any(e.startswith("gkee: unknown key") for e in errors(raw))


def test_machine_type_that_does_not_exist_gets_the_real_one_as_hint() -> None:
    raw = values()
    first_pool(raw)["machine_type"] = "a2-highgpu-16g"
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.machine_type: a2-highgpu-16g does not exist")
    assert "a2-megagpu-16g" in line


def test_accelerator_restated_wrongly_for_a3_mega() -> None:
    raw = values()
    pool = first_pool(raw)
    pool.update(machine_type="a3-megagpu-8g", zones=["us-central1-a"],
                accelerator={"type": "nvidia-h100-80gb", "count": 8})
    errs = errors(raw)
    assert any(e.startswith(f"{POOL}.accelerator.type: a3-megagpu-8g carries nvidia-h100-mega-80gb") for e in errs)


def test_a3_highgpu_4g_has_four_gpus_not_eight() -> None:
    raw = values()
    pool = first_pool(raw)
    pool.update(machine_type="a3-highgpu-4g", capacity="spot", zones=["us-central1-a"],
                accelerator={"type": "nvidia-h100-80gb", "count": 8})
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.accelerator.count: a3-highgpu-4g has 4 GPUs (got 8)")


def test_min_above_max() -> None:
    raw = values()
    first_pool(raw)["autoscaling"] = {"per": "zone", "min_nodes": 5, "max_nodes": 2}
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.autoscaling.min_nodes: min_nodes is above max_nodes (got 5)")


def test_autoscaling_scope_must_be_explicit() -> None:
    raw = values()
    del first_pool(raw)["autoscaling"]["per"]
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.autoscaling.per:")


def test_zone_outside_the_region() -> None:
    raw = values()
    first_pool(raw)["zones"] = ["us-east4-a"]
    errs = errors(raw)
    assert any(e.startswith(f"{POOL}.zones: zone is not in region us-central1 (got 'us-east4-a')") for e in errs)


def test_invalid_cidr() -> None:
    raw = values()
    raw["gke"]["regions"][0]["subnet_cidr"] = "10.300.0.0/20"
    (line,) = errors(raw)
    assert line.startswith("gke.regions[us-central1].subnet_cidr: not a valid CIDR")


def test_overlapping_ranges_across_regions() -> None:
    raw = values("prod")
    regions = raw["gke"]["regions"]
    regions[1]["subnet_cidr"] = regions[0]["subnet_cidr"]
    errs = errors(raw)
    assert any("overlaps gke.regions[" in e for e in errs)


def test_master_range_must_be_slash_28() -> None:
    raw = values()
    raw["gke"]["regions"][0]["clusters"][0]["master_cidr"] = "172.16.0.0/24"
    assert any("must be a /28" in e for e in errors(raw))


def test_mtu_bounds() -> None:
    raw = values()
    raw["gke"]["network"]["mtu"] = 9000
    (line,) = errors(raw)
    assert line.startswith("gke.network.mtu: MTU must be between 1460 and 8896 (got 9000)")


def test_mig_partition_must_fit_the_gpu() -> None:
    raw = values()
    first_pool(raw)["mig_partition"] = "1g.10gb"
    (line,) = errors(raw)
    assert line.startswith(f"{POOL}.mig_partition: not a MIG partition size of")


def test_compact_placement_needs_one_zone() -> None:
    raw = values()
    pool = first_pool(raw)
    pool["compact_placement"] = True
    pool["zones"] = ["us-central1-a", "us-central1-b"]
    assert any(e.startswith(f"{POOL}.compact_placement:") for e in errors(raw))


def test_production_critical_pool_cannot_be_spot() -> None:
    raw = values()
    first_pool(raw).update(capacity="spot", production_critical=True)
    assert any("production-critical pool cannot run on spot" in e for e in errors(raw))


def test_machine_only_sold_as_spot_or_flex_start() -> None:
    raw = values()
    first_pool(raw).update(machine_type="a3-highgpu-1g", capacity="on-demand", zones=["us-central1-a"])
    assert any(e.startswith(f"{POOL}.capacity: a3-highgpu-1g cannot be obtained as on-demand") for e in errors(raw))


def test_duplicate_pool_names() -> None:
    raw = values()
    pools = raw["gke"]["regions"][0]["clusters"][0]["gpu_pools"]
    pools.append(copy.deepcopy(pools[0]))
    assert any(e.startswith("gke.regions[us-central1].clusters[dev-1].gpu_pools[l4]: duplicate name")
               for e in errors(raw))


def test_all_problems_reported_at_once() -> None:
    raw = values()
    first_pool(raw)["machine_type"] = "a2-highgpu-16g"
    raw["gke"]["network"]["mtu"] = 100
    assert len(errors(raw)) == 2


def test_openshift_section_is_strict() -> None:
    raw = values()
    raw["openshift"] = {"regions": []}
    assert "openshift.regions: unknown key" in " ".join(errors(raw))


def test_missing_gcp_project() -> None:
    with pytest.raises(ConfigError, match=r"gcp:project: no GCP project"):
        parse(values(), gcp_project=None)


def test_gcp_labels_are_checked() -> None:
    raw = values()
    raw["labels"] = {"Cost-Center": "ML Platform"}
    errs = errors(raw)
    assert any(e.startswith("labels.Cost-Center: not a valid GCP label key") for e in errs)
    assert any(e.startswith("labels.Cost-Center: not a valid GCP label value (got 'ML Platform')") for e in errs)


def test_secret_settings_are_refused_without_their_value() -> None:
    """A gpu-fleet setting stored with --secret would land unencrypted in resource inputs: refused, never echoed."""
    raw = values()
    raw["labels"] = {"team": "Sup3r Secret!"}
    with pytest.raises(ConfigError) as info:
        parse(raw, gcp_project="acme-test", keys=["gpu-fleet:labels", "gpu-fleet:gke"],
              secret_keys=["gpu-fleet:labels"])
    (line,) = [str(i) for i in info.value.issues]
    assert line.startswith("gpu-fleet:labels: is stored as a secret")
    # Never "set it in plain text (without --secret)": that would write a credential into the stack file (issue 20).
    assert "pulumi config rm gpu-fleet:labels" in line and "Sup3r" not in line
    assert "plain text" not in line.split("hint:")[1] and "without --secret" not in line


def test_look_alike_namespace_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse(values(), gcp_project="acme-test", keys=["gpu_fleet:gke", "gcp:project", "kubernetes:context"])
    assert [str(i) for i in info.value.issues] == [
        "gpu_fleet:gke: unknown config namespace 'gpu_fleet'; hint: gpu-fleet reads `gpu-fleet:` keys; "
        "rename it to gpu-fleet:gke"]


def test_world_open_authorized_network_is_refused() -> None:
    raw = values()
    cluster = raw["gke"]["regions"][0]["clusters"][0]
    cluster["authorized_networks"] = [{"name": "anywhere", "cidr": "0.0.0.0/0"}, {"name": "vpn", "cidr": "10.8.0.0/16"}]
    (line,) = errors(raw)
    assert line.startswith("gke.regions[us-central1].clusters[dev-1].authorized_networks[anywhere].cidr: admits most "
                           "of the internet to the control plane (got '0.0.0.0/0'); hint: list the networks")


def test_system_pool_machine_type_is_checked() -> None:
    raw = values()
    cluster = raw["gke"]["regions"][0]["clusters"][0]
    cluster["system_pool"] = {"machine_type": "n2-standrd-8"}
    (line,) = errors(raw)
    assert line.startswith("gke.regions[us-central1].clusters[dev-1].system_pool.machine_type: n2-standrd-8 is not "
                           "a GCP general-purpose machine type; hint: <family>-<kind>-<vCPUs>")
    cluster["system_pool"] = {"machine_type": "g2-standard-8"}
    (line,) = errors(raw)
    assert "g2-standard-8 is a GPU machine (1 x l4)" in line and "put GPUs in gpu_pools" in line
    for ok in ("e2-standard-4", "n2-highmem-16", "n2-custom-8-16384", "c3-standard-8-lssd"):
        cluster["system_pool"] = {"machine_type": ok}
        parse(raw, gcp_project="acme-test")


def test_reserved_pool_and_namespace_names() -> None:
    raw = values()
    cluster = raw["gke"]["regions"][0]["clusters"][0]
    first_pool(raw)["name"] = "system"
    cluster.setdefault("addons", {})["namespaces"] = [{"name": "kube-system", "gpus": 4},
                                                      {"name": "gpu-operator", "gpus": 4},
                                                      {"name": "team-vision", "gpus": 4}]
    lines = errors(raw)
    assert [ln.split(":")[0] for ln in lines] == [
        "gke.regions[us-central1].clusters[dev-1].gpu_pools[system].name",
        "gke.regions[us-central1].clusters[dev-1].addons.namespaces[kube-system].name",
        "gke.regions[us-central1].clusters[dev-1].addons.namespaces[gpu-operator].name",
    ]
    assert all("hint:" in ln for ln in lines)


@pytest.mark.parametrize(("edit", "hint"), [
    (lambda raw: first_pool(raw)["autoscaling"].update(max_nodes="abc"), "hint: a whole number, e.g. 3"),
    (lambda raw: first_pool(raw)["autoscaling"].update(min_nodes=-1), "hint: use a value >= 0"),
    (lambda raw: first_pool(raw).update(zones=["uscentral1a"]), "hint: a GCP zone such as us-central1-a"),
    (lambda raw: raw["gke"]["regions"][0].update(name="US-central1"), "hint: a GCP region such as us-central1"),
    (lambda raw: raw["gke"].update(regions=[]), "hint: list at least 1"),
    (lambda raw: raw.update(gke=5), "hint: a mapping of keys (key: value)"),
    (lambda raw: first_pool(raw).update(compact_placement=True, zones=["us-central1-a"],
                                        autoscaling={"per": "zone", "min_nodes": 0, "max_nodes": 151}),
     "compact placement allows at most 150 nodes (got 151); hint: lower max_nodes to 150"),
    (lambda raw: first_pool(raw).update(disk_type="pd-foo"), "'pd-ssd' or 'hyperdisk-balanced' (got 'pd-foo'); "
                                                             "hint: use one of those values"),
], ids=["int", "bound", "zone", "region", "empty-list", "mapping", "compact-per-zone", "disk-type"])
def test_every_error_has_a_hint(edit: Any, hint: str) -> None:
    raw = values()
    edit(raw)
    lines = errors(raw)
    assert any(hint in ln for ln in lines), lines
    assert all("; hint: " in ln for ln in lines), lines


def test_pool_labels_and_price_regions_are_checked() -> None:
    raw = values()
    first_pool(raw)["labels"] = {"a b": "c", "team": "vision research", "example.com/tier": "gold"}
    raw["prices"] = [{"machine_type": "g2-standard-8", "region": "us-centrall", "on_demand_hourly_usd": 1.0}]
    lines = errors(raw)
    assert len(lines) == 1 and lines[0].startswith("prices[0].region: String should match pattern")
    raw["prices"][0]["region"] = "us-central1"
    assert [ln.split(" (got")[0] for ln in errors(raw)] == [
        f"{POOL}.labels: not a Kubernetes label key", f"{POOL}.labels.team: not a Kubernetes label value"]
