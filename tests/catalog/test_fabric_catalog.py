"""GPU fabric in the catalog: each machine family's transport, NICs and MTU, EFA per instance, the NCCL bars, each
fact with a dated source."""

from __future__ import annotations

import re

import pytest

from components import catalog, versions
from components.catalog.fabric import (
    EFA_FABRICS,
    GKE_FABRICS,
    OPENSHIFT_AWS_MAX_EFA_INTERFACES,
    Transport,
    efa_by_default,
    gke_fabric,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GITHUB_AT_COMMIT = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{7,40}/")


# --- catalog ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("machine", "transport", "gvnic", "rdma", "mtu"), [
    ("a3-highgpu-8g", Transport.TCPX, 4, 0, 8244),
    ("a3-megagpu-8g", Transport.TCPXO, 8, 0, 8244),
    ("a3-ultragpu-8g", Transport.RDMA, 1, 8, 8896),
    ("a4-highgpu-8g", Transport.RDMA, 1, 8, 8896),
])
def test_gke_fabric_per_family(machine: str, transport: Transport, gvnic: int, rdma: int, mtu: int) -> None:
    fabric = gke_fabric(machine)
    assert fabric is not None
    assert (fabric.transport, fabric.gvnic_networks, fabric.rdma_subnets, fabric.gvnic_mtu) == \
        (transport, gvnic, rdma, mtu)
    assert fabric.extra_nics == gvnic + rdma == len(fabric.network_names)
    assert (fabric.rdma_mtu == 8896) == (rdma > 0)


def test_a3_mega_is_tcpxo_at_8244_not_rdma_at_8896() -> None:
    """Seed 002 asks for MTU 8896 and GPUDirect RDMA on A3 Mega; Google builds TCPXO over 8 networks at 8244."""
    fabric = gke_fabric("a3-megagpu-8g")
    assert fabric is not None
    assert fabric.transport is Transport.TCPXO and fabric.gvnic_mtu == 8244 and fabric.rdma_subnets == 0
    assert fabric.line_rate_gbps == 8 * 200


def test_machines_without_a_fabric() -> None:
    for name in ("a3-highgpu-1g", "a3-highgpu-4g", "a2-megagpu-16g", "a2-ultragpu-8g", "g2-standard-96"):
        assert gke_fabric(name) is None


def test_every_catalog_machine_of_a_fabric_family_is_an_8_gpu_gcp_machine() -> None:
    for fabric in GKE_FABRICS:
        for name in fabric.machine_types:
            machine = catalog.find_machine_type(name)
            if machine is not None:  # a4-highgpu-8g is not a catalog machine yet
                assert machine.cloud is catalog.Cloud.GCP and machine.gpus == 8


def test_network_object_names_fit_the_device_socket_limit() -> None:
    for fabric in GKE_FABRICS:
        assert all(len(n) <= 41 and n != "default" for n in fabric.network_names)
        assert len(set(fabric.network_names)) == len(fabric.network_names)


def test_minimum_gke_versions_are_of_their_minor() -> None:
    for fabric in GKE_FABRICS:
        for minor, version in fabric.min_gke.items():
            assert re.fullmatch(rf"{re.escape(minor)}\.\d+-gke\.\d+", version), version
        assert fabric.min_gke_minor >= "1.28"  # multi-networking needs GKE 1.28


@pytest.mark.parametrize(("instance", "efa"), [
    ("p5.48xlarge", 32), ("p5e.48xlarge", 32), ("p5en.48xlarge", 16), ("p4d.24xlarge", 4), ("p4de.24xlarge", 4),
])
def test_efa_by_default_on_training_instances(instance: str, efa: int) -> None:
    assert efa_by_default(instance)
    assert catalog.machine_type(instance).efa_interfaces == efa


def test_no_efa_by_default_on_g_instances() -> None:
    assert not efa_by_default("g6e.48xlarge") and not efa_by_default("g6.xlarge")


def test_openshift_exposes_one_efa_interface_per_machine() -> None:
    assert OPENSHIFT_AWS_MAX_EFA_INTERFACES == 1
    assert min(catalog.machine_type(f.instance_type).efa_interfaces
                                                  for f in EFA_FABRICS) > OPENSHIFT_AWS_MAX_EFA_INTERFACES


def test_every_fabric_fact_has_a_dated_source_pinned_where_it_is_a_repository() -> None:
    sources = [s for f in GKE_FABRICS for s in f.sources] + [s for f in EFA_FABRICS for s in f.sources]
    sources += [s for f in (*GKE_FABRICS, *EFA_FABRICS) for bar in f.nccl for s in bar.sources]
    sources += list(catalog.fabric.OPENSHIFT_EFA_SOURCES)
    for s in sources:
        assert s.url.startswith("https://") and _ISO_DATE.match(s.checked), s
        if s.url.startswith("https://github.com/"):
            assert _GITHUB_AT_COMMIT.match(s.url), f"{s.url} is not pinned to a commit"


def test_nccl_bars_name_their_basis() -> None:
    a3_mega = gke_fabric("a3-megagpu-8g")
    assert a3_mega is not None
    (bar,) = a3_mega.nccl
    assert bar.collective == "all_gather_perf" and bar.measured_gbs == 188.73 and bar.avg_floor_gbs == 30.0
    # The anchor's 188.73 GB/s is 94% of A3 Mega's 200 GB/s fabric: above seed 001's 80% of theoretical.
    assert bar.measured_gbs / (a3_mega.line_rate_gbps / 8) > 0.8
    for fabric in (*GKE_FABRICS, *EFA_FABRICS):
        for bar in fabric.nccl:
            assert bar.basis and bar.sources


def test_gpudirect_installers_are_pinned_to_a_commit() -> None:
    for url in (versions.NCCL_TCPX_INSTALLER, versions.NCCL_TCPXO_INSTALLER, versions.NRI_DEVICE_INJECTOR,
                versions.NCCL_RDMA_INSTALLER):
        match = re.fullmatch(r"https://raw\.githubusercontent\.com/GoogleCloudPlatform/container-engine-accelerators/"
                             r"([0-9a-f]{40})/[a-z_-]+/[a-z-]+\.yaml", url)
        assert match, url
    for image in (*versions.TCPX_IMAGES.values(), *versions.TCPXO_IMAGES.values(), versions.GIB_DIAGNOSTIC_IMAGE,
                  versions.NCCL_TESTS_EFA_IMAGE):
        assert not image.endswith(":latest") and re.search(r":[^/]+$", image), image
