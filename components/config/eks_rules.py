"""Rules of the `eks:` section that span fields or need the GPU catalog (instance types, GPUs, zones, CIDRs, ...).

Seed 003's errors are caught here: `g6.48xlarge` carries L4 (L40S is `g6e`), `p5e`/`p5en` carry H200 (not H100).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from components import catalog
from components.config.addons import RESERVED_NAMESPACE_PREFIXES, RESERVED_NAMESPACES
from components.config.checks import K8S_LABEL_KEY, K8S_LABEL_VALUE, overlaps, parse_cidr, unique_names
from components.config.eks import (
    LOG_RETENTION_DAYS,
    MAX_ZONE_INDEX,
    VPC_PREFIXES,
    CapacityType,
    DeployFrom,
    Eks,
    EksCluster,
    EksGpuPool,
    LogType,
)
from components.config.errors import Issue
from components.config.gke_rules import MIN_AUTHORIZED_PREFIX
from components.config.model import Fleet

KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
"""Kubernetes versions Karpenter 1.14 supports (its compatibility matrix: 1.30 needs >= 0.37, 1.36 >= 1.13)."""
RESERVED_LABEL_DOMAINS = ("karpenter.sh/", "karpenter.k8s.aws/", "kubernetes.io/", "k8s.io/", "gpu-fleet/",
                          "nvidia.com/")
"""Label prefixes Karpenter, Kubernetes, NVIDIA or gpu-fleet set on nodes themselves."""
RUNNER_EXPRESSIONS = ("github.run_id", "github.run_attempt")
"""The only expressions a runner label may carry: what a CodeBuild-hosted runner's label needs, and what
`gpu-fleet ci runners` substitutes (AWS CodeBuild user guide, "Label overrides supported with the CodeBuild-hosted
GitHub Actions runner")."""
VPC_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                        "100.64.0.0/10"))
"""The ranges a VPC (and a network routed to it) may use: RFC 1918 and RFC 6598 (VPC user guide, "VPC CIDR
blocks")."""
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_GPU_FAMILY = re.compile(r"^(p[0-9]|g[0-9]|gr[0-9]|dl[0-9]|inf[0-9]|trn[0-9])")
_PROVISIONING = {
    CapacityType.ON_DEMAND: catalog.Provisioning.ON_DEMAND,
    CapacityType.SPOT: catalog.Provisioning.SPOT,
    CapacityType.RESERVED: catalog.Provisioning.RESERVATION,
}


def check_eks(fleet: Fleet) -> Iterator[Issue]:
    eks = fleet.eks
    assert eks is not None
    if eks.kubernetes_version not in KUBERNETES_VERSIONS:
        yield Issue("eks.kubernetes_version", "not a Kubernetes version gpu-fleet's Karpenter supports",
                    eks.kubernetes_version, "one of " + ", ".join(KUBERNETES_VERSIONS))
    vpcs: list[tuple[str, ipaddress.IPv4Network]] = []
    yield from unique_names("eks.regions", [r.name for r in eks.regions])
    for region in eks.regions:
        rpath = f"eks.regions[{region.name}]"
        yield from unique_names(f"{rpath}.clusters", [c.name for c in region.clusters])
        for cluster in region.clusters:
            cpath = f"{rpath}.clusters[{cluster.name}]"
            vpc = yield from parse_cidr(f"{cpath}.vpc_cidr", cluster.vpc_cidr)
            if vpc is not None:
                low, high = VPC_PREFIXES
                if not low <= vpc.prefixlen <= high:
                    yield Issue(f"{cpath}.vpc_cidr", f"the VPC must be a /{low} to /{high}", cluster.vpc_cidr,
                                "e.g. 10.40.0.0/16: each zone's private subnet takes an eighth of it")
                else:
                    vpcs.append((f"{cpath}.vpc_cidr", vpc))
            yield from _check_cluster(cpath, region.name, cluster)
    yield from overlaps(vpcs)
    yield from _check_principals(eks)
    yield from _check_one_runner(eks)


def _check_principals(eks: Eks) -> Iterator[Issue]:
    """A separate preview identity needs the deploy identity named.

    A preview's caller is the preview role, so a caller-derived admin entry would move to it in every preview.
    """
    if eks.preview_principal_arn is not None and eks.deploy_principal_arn is None:
        yield Issue("eks.deploy_principal_arn", "must be set when preview_principal_arn is: the caller-derived "
                    "default would be the preview role during previews", None,
                    "set it to the role `pulumi up` assumes (the deploy workflow's AWS_DEPLOY_ROLE_ARN)")


def _check_one_runner(eks: Eks) -> Iterator[Issue]:
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


def _check_cluster(cpath: str, region: str, cluster: EksCluster) -> Iterator[Issue]:
    yield from unique_names(f"{cpath}.zones", cluster.zones)
    for zone in cluster.zones:
        if zone[:-1] != region:
            yield Issue(f"{cpath}.zones", f"zone is not in region {region}", zone,
                        f"use zones named {region}a, {region}b, ...")
        elif not 0 <= ord(zone[-1]) - ord("a") < MAX_ZONE_INDEX:
            yield Issue(f"{cpath}.zones", "gpu-fleet lays out subnets for zones a to f", zone,
                        f"use zones {region}a ... {region}f")
    for cidr in cluster.public_access_cidrs:
        allowed = yield from parse_cidr(f"{cpath}.public_access_cidrs", cidr)
        if allowed and allowed.prefixlen < MIN_AUTHORIZED_PREFIX:
            yield Issue(f"{cpath}.public_access_cidrs", "admits most of the internet to the API endpoint", cidr,
                        f"list the networks that run kubectl (/{MIN_AUTHORIZED_PREFIX} or narrower), or leave "
                        "public_access_cidrs empty for a private endpoint")
    yield from _check_deploy_path(cpath, cluster)
    yield from _check_log_retention(cpath, cluster)
    yield from unique_names(f"{cpath}.log_types", [t.value for t in cluster.log_types])
    if LogType.AUDIT not in cluster.log_types:
        yield Issue(f"{cpath}.log_types", "the audit log is off (CIS EKS 2.1.1)",
                    [t.value for t in cluster.log_types], "keep `audit` in log_types")
    sn = cluster.system_nodes
    if sn.min_size > sn.max_size:
        yield Issue(f"{cpath}.system_nodes.min_size", "min_size is above max_size", sn.min_size,
                    f"max_size is {sn.max_size}")
    if not _INSTANCE_TYPE.match(sn.instance_type):
        yield Issue(f"{cpath}.system_nodes.instance_type", "not an EC2 instance type", sn.instance_type,
                    "<family>.<size>, e.g. m7i.xlarge")
    elif _GPU_FAMILY.match(sn.instance_type):
        yield Issue(f"{cpath}.system_nodes.instance_type", "an accelerated instance family; system nodes run "
                    "cluster services and the Karpenter controller", sn.instance_type,
                    "use a general-purpose type such as m7i.xlarge, and put GPUs in gpu_pools")
    yield from unique_names(f"{cpath}.gpu_pools", [p.name for p in cluster.gpu_pools])
    yield from unique_names(f"{cpath}.addons.namespaces", [n.name for n in cluster.addons.namespaces])
    for ns in cluster.addons.namespaces:
        if ns.name in RESERVED_NAMESPACES or ns.name.startswith(RESERVED_NAMESPACE_PREFIXES):
            yield Issue(f"{cpath}.addons.namespaces[{ns.name}].name", "is a namespace Kubernetes or gpu-fleet's "
                        "add-ons own", ns.name, "name team namespaces after the team, e.g. team-vision")
    for pool in cluster.gpu_pools:
        yield from _check_pool(f"{cpath}.gpu_pools[{pool.name}]", region, cluster, pool)


def _check_deploy_path(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
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


def _check_log_retention(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    if cluster.log_retention_days not in LOG_RETENTION_DAYS:
        shown = ", ".join(map(str, LOG_RETENTION_DAYS))
        yield Issue(f"{cpath}.log_retention_days", "not a retention period CloudWatch Logs accepts",
                    cluster.log_retention_days, f"one of {shown}")


def _check_pool(ppath: str, region: str, cluster: EksCluster, pool: EksGpuPool) -> Iterator[Issue]:
    yield from unique_names(f"{ppath}.instance_types", pool.instance_types)
    machines: list[catalog.MachineType] = []
    for name in pool.instance_types:
        machine = catalog.find_machine_type(name)
        if machine is None or machine.cloud is not catalog.Cloud.AWS:
            yield Issue(f"{ppath}.instance_types", f"{name} is not an EC2 GPU instance type in the catalog", name,
                        catalog.machine_hint(name, catalog.Cloud.AWS))
        else:
            machines.append(machine)
    gpus = sorted({m.gpu for m in machines})
    if len(gpus) > 1:
        carried = "; ".join(f"{m.name} carries {catalog.gpu(m.gpu).model}" for m in machines)
        yield Issue(f"{ppath}.instance_types", "a pool holds one GPU model", pool.instance_types,
                    f"{carried}; split them into one pool per GPU")
    if pool.gpu is not None:
        try:
            wanted = catalog.gpu(pool.gpu)
        except KeyError:
            wanted = None
            yield Issue(f"{ppath}.gpu", "unknown GPU id", pool.gpu,
                        "a catalog GPU id: " + ", ".join(g.id for g in catalog.GPUS if g.aws_gpu_name))
        for m in machines:
            if wanted is not None and m.gpu != wanted.id:
                right = [t.name for t in catalog.machine_types(catalog.Cloud.AWS) if t.gpu == wanted.id]
                yield Issue(f"{ppath}.instance_types", f"{m.name} carries {m.gpus} x {catalog.gpu(m.gpu).model}, "
                            f"not {wanted.model}", m.name,
                            f"{wanted.model} instance types: {', '.join(right)}" if right
                            else f"EC2 offers no {wanted.model} in the catalog")
    yield from unique_names(f"{ppath}.capacity_types", [c.value for c in pool.capacity_types])
    for capacity in pool.capacity_types:
        for m in machines:
            if _PROVISIONING[capacity] not in m.provisioning:
                allowed = ", ".join(sorted(p.value for p in m.provisioning))
                yield Issue(f"{ppath}.capacity_types", f"{m.name} cannot be obtained as {capacity.value}",
                            capacity.value, f"{m.name} is available as: {allowed}")
    reserved = CapacityType.RESERVED in pool.capacity_types
    if reserved and not pool.capacity_reservations:
        yield Issue(f"{ppath}.capacity_reservations", "capacity type `reserved` needs the reservations to use", None,
                    "list ODCRs or Capacity Blocks by id (cr-...) or tags; Karpenter consumes, never buys them")
    if pool.capacity_reservations and not reserved:
        yield Issue(f"{ppath}.capacity_reservations", "reservations are listed but the pool never uses them", None,
                    "add `reserved` to capacity_types, or remove capacity_reservations")
    for i, term in enumerate(pool.capacity_reservations):
        if (term.id is None) == (term.tags is None):
            yield Issue(f"{ppath}.capacity_reservations[{term.id or i}]", "give exactly one of id and tags", None,
                        "id: cr-0123456789abcdef0, or tags: {purpose: training}")
    if CapacityType.SPOT in pool.capacity_types and pool.production_critical:
        yield Issue(f"{ppath}.capacity_types", "a production-critical pool cannot run on spot", "spot",
                    "remove spot from capacity_types, or set production_critical: false")
    if machines:
        smallest = min(m.gpus for m in machines)
        if pool.gpu_limit < smallest:
            yield Issue(f"{ppath}.gpu_limit", f"below the {smallest} GPUs of the smallest instance type, so the pool "
                        "could never launch a node", pool.gpu_limit, f"raise gpu_limit to at least {smallest}")
    if pool.zones is not None:
        yield from unique_names(f"{ppath}.zones", pool.zones)
        for zone in pool.zones:
            if zone not in cluster.zones:
                yield Issue(f"{ppath}.zones", "not one of the cluster's zones", zone,
                            f"the cluster's zones: {', '.join(cluster.zones)}")
    if machines and len(machines) == len(pool.instance_types):
        yield from _check_efa(ppath, cluster, pool, machines)
    for key, value in pool.labels.items():
        if not K8S_LABEL_KEY.match(key):
            yield Issue(f"{ppath}.labels", "not a Kubernetes label key", key,
                        "letters, digits, '-', '_' and '.', at most 63, optionally after a DNS prefix and '/'")
        elif key.startswith(RESERVED_LABEL_DOMAINS) or "kubernetes.io/" in key:
            yield Issue(f"{ppath}.labels", "a label domain Karpenter, Kubernetes, NVIDIA or gpu-fleet owns", key,
                        "use your own prefix, e.g. team.example.com/purpose")
        elif not K8S_LABEL_VALUE.match(value):
            yield Issue(f"{ppath}.labels.{key}", "not a Kubernetes label value", value,
                        "letters, digits, '-', '_' and '.', at most 63, starting and ending with a letter or digit")


def _check_efa(ppath: str, cluster: EksCluster, pool: EksGpuPool,
               machines: list[catalog.MachineType]) -> Iterator[Issue]:
    """An EFA pool: instance types that all have EFA, in one count (one EC2NodeClass layout), in one zone."""
    on = pool.efa if pool.efa is not None else all(catalog.fabric.efa_by_default(m.name) for m in machines)
    if not on:
        return
    without = [m.name for m in machines if not m.efa_interfaces]
    if without:
        yield Issue(f"{ppath}.efa", f"{', '.join(without)} has no EFA", True,
                    "remove `efa`, or list EFA instance types (p4d, p5, g6/g6e 8xlarge and up)")
        return
    counts = sorted({m.efa_interfaces for m in machines})
    if len(counts) > 1:
        each = ", ".join(f"{m.name} {m.efa_interfaces}" for m in machines)
        yield Issue(f"{ppath}.instance_types", "an EFA pool's EC2NodeClass has one network-interface layout, but "
                    f"these instance types differ in EFA interfaces ({each})", pool.instance_types,
                    "split them into one pool per EFA count, or set efa: false")
    zones = pool.zones or cluster.zones
    if len(zones) != 1:
        yield Issue(f"{ppath}.zones", "an EFA pool runs in one zone: EFA traffic does not cross zones and its cluster "
                    "placement group is zonal", pool.zones,
                    f"zones: [{zones[0]}] (the zone of the pool's capacity reservation), or efa: false")
