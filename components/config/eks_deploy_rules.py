"""How CI reaches each EKS cluster's API: one runner for the whole stack, inside the VPC or admitted by the endpoint.

Without a deploy path every Kubernetes resource times out once the cluster exists (review B1); runner labels carry
only what `gpu-fleet ci runners` fills in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from components.config.checks import parse_cidr
from components.config.eks import (
    DeployFrom,
    Eks,
    EksCluster,
)
from components.config.errors import Issue

RUNNER_EXPRESSIONS = ("github.run_id", "github.run_attempt")
"""The only expressions a runner label may carry: what a CodeBuild-hosted runner's label needs, and what
`gpu-fleet ci runners` substitutes (AWS CodeBuild user guide, "Label overrides supported with the CodeBuild-hosted
GitHub Actions runner")."""
VPC_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                        "100.64.0.0/10"))
"""The ranges a VPC (and a network routed to it) may use: RFC 1918 and RFC 6598 (VPC user guide, "VPC CIDR
blocks")."""
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def check_one_runner(eks: Eks) -> Iterator[Issue]:
    """One `pulumi up` (one job) deploys the whole stack, so every EKS cluster must be reachable from one runner."""
    first: tuple[str, list[str]] | None = None
    for region in eks.regions:
        for cluster in region.clusters:
            if cluster.deploy_from is None:
                continue
            labels = list(cluster.deploy_from.runner)
            path = f"eks.regions[{region.name}].clusters[{cluster.name}].deploy_from.runner"
            if first is None:
                first = (path, labels)
            elif sorted(labels) != sorted(first[1]):
                yield Issue(path, f"differs from {first[0]}: one job deploys the whole stack, so one runner must "
                            "reach every cluster", labels, f"use {first[1]} (a runner routed to every cluster's VPC)")


def check_deploy_path(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """CI's runner can reach the API endpoint.

    From inside the VPC (private endpoint), or from public addresses the public endpoint admits. Without this
    every Kubernetes resource times out once the cluster exists (review B1).
    """
    deploy = cluster.deploy_from
    if deploy is None:
        endpoint = ("the endpoint is private only, so" if not cluster.public_access_cidrs
                    else "no public_access_cidrs is known to be the runner's, so")
        yield Issue(f"{cpath}.deploy_from", f"no deploy path: {endpoint} CI's `pulumi up` cannot reach the API", None,
                    "deploy_from: {runner: [<labels of a runner in the VPC>], private_cidrs: [<its subnet>]}, or "
                    "{runner: [...], public_cidrs: [<its static egress>]} inside public_access_cidrs")
        return
    yield from _check_runner_labels(f"{cpath}.deploy_from.runner", deploy)
    if bool(deploy.private_cidrs) == bool(deploy.public_cidrs):
        yield Issue(f"{cpath}.deploy_from", "give exactly one of private_cidrs (a runner in the VPC) and "
                    "public_cidrs (a runner outside it)", None,
                    "private_cidrs: [10.40.250.0/24] for a runner subnet, or public_cidrs: [198.51.100.7/32]")
    for cidr in deploy.private_cidrs:
        net = yield from parse_cidr(f"{cpath}.deploy_from.private_cidrs", cidr)
        if net is not None and not any(net.subnet_of(r) for r in VPC_RANGES):
            yield Issue(f"{cpath}.deploy_from.private_cidrs", "not a private network; the private endpoint is "
                        "reached from inside the VPC or a network routed to it", cidr,
                        "the runner's subnet, e.g. 10.40.250.0/24; public egress goes in public_cidrs")
    yield from _check_public_path(cpath, cluster, deploy)


def _check_runner_labels(path: str, deploy: DeployFrom) -> Iterator[Issue]:
    for label in deploy.runner:
        found = _EXPRESSION.findall(label)
        rest = _EXPRESSION.sub("", label)
        if any(e not in RUNNER_EXPRESSIONS for e in found) or any(c in rest for c in "${}"):
            yield Issue(path, "a runner label may only carry the expressions "
                        + " and ".join(f"${{{{ {e} }}}}" for e in RUNNER_EXPRESSIONS), label,
                        "e.g. codebuild-gpu-fleet-prod-${{ github.run_id }}-${{ github.run_attempt }}")


def _check_public_path(cpath: str, cluster: EksCluster, deploy: DeployFrom) -> Iterator[Issue]:
    if not deploy.public_cidrs:
        return
    path = f"{cpath}.deploy_from.public_cidrs"
    if not cluster.public_access_cidrs:
        yield Issue(path, "the API endpoint is private only, so a runner outside the VPC cannot reach it",
                    list(deploy.public_cidrs), "run the runner in the VPC (private_cidrs), or admit its egress in "
                    "public_access_cidrs (a public endpoint: the CIS EKS 5.4.2 trade-off)")
        return
    allowed = [ipaddress.ip_network(c, strict=False) for c in cluster.public_access_cidrs if _is_cidr(c)]
    for cidr in deploy.public_cidrs:
        net = yield from parse_cidr(path, cidr)
        if net is not None and not any(net.subnet_of(a) for a in allowed if isinstance(a, ipaddress.IPv4Network)):
            yield Issue(path, "not inside the cluster's public_access_cidrs, so the endpoint refuses the runner",
                        cidr, "add it to public_access_cidrs, or list the runner's actual egress")


def _is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True
