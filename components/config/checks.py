"""Checks that every platform's rules use: CIDRs, overlaps, unique names, zones, label syntax."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Generator, Iterator

from components import catalog
from components.config.issues import Issue

# Kubernetes label syntax: an optional DNS-subdomain prefix and "/", then a name of up to 63 characters.
K8S_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
K8S_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{K8S_LABEL_NAME}$")
K8S_LABEL_VALUE = re.compile(rf"^({K8S_LABEL_NAME})?$")
MIN_AUTHORIZED_PREFIX = 8
"""The widest network a control plane admits (GKE authorized networks, EKS public access CIDRs): wider (0.0.0.0/0
above all) opens it to most of the internet. Also the default of the control-plane access policies'
min_prefix_length, which check what is deployed."""
GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


def parse_cidr(path: str, value: str) -> Generator[Issue, None, ipaddress.IPv4Network | None]:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        yield Issue(path, "not a valid CIDR", value, str(exc))
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        yield Issue(path, "not an IPv4 range: gpu-fleet's GKE and EKS networks are IPv4 only", value,
                    "an IPv4 CIDR such as 10.0.0.0/20")
        return None
    return net


def overlaps(ranges: list[tuple[str, ipaddress.IPv4Network]]) -> Iterator[Issue]:
    ordered = sorted(ranges, key=lambda r: (int(r[1].network_address), r[1].prefixlen))
    for i, (path_a, a) in enumerate(ordered):
        for path_b, b in ordered[i + 1:]:
            if int(b.network_address) > int(a.broadcast_address):
                break
            yield Issue(path_b, f"overlaps {path_a} ({a})", str(b), "every range in the fleet must be distinct")


def zones_in_region(path: str, region: str, zones: list[str]) -> Iterator[Issue]:
    if region not in catalog.GCP_REGIONS:
        return  # the region itself is reported, with the likely region; its zones' hint would repeat the typo
    for zone in zones:
        if not zone.startswith(region + "-"):
            yield Issue(path, f"zone is not in region {region}", zone, f"use zones named {region}-a, -b, ...")


def unique_names(path: str, names: list[str]) -> Iterator[Issue]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            yield Issue(f"{path}[{name}]", "duplicate name", name, "names are stable keys and must be unique")
        seen.add(name)
