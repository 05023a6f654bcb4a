"""Rules of the `eks:` section that span fields or need the GPU catalog (instance types, GPUs, zones, CIDRs, ...).

Seed 003's errors are caught here: `g6.48xlarge` carries L4 (L40S is `g6e`), `p5e`/`p5en` carry H200 (not H100).
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from components import catalog, versions
from components.catalog import aws_instance_types, aws_limits
from components.catalog.aws import P6E_CAPACITY_BLOCKS_ONLY
from components.config.addons import RESERVED_NAMESPACE_PREFIXES, RESERVED_NAMESPACES
from components.config.aws_checks import TAG_KEY_MAX, TAG_VALUE_MAX, check_aws_location, tag_problem
from components.config.checks import K8S_LABEL_KEY, K8S_LABEL_VALUE, overlaps, parse_cidr, unique_names
from components.config.eks import (
    CPU_POOL_NAME,
    LOG_RETENTION_DAYS,
    MAX_ZONE_INDEX,
    VPC_PREFIXES,
    CapacityReservationTerm,
    CapacityType,
    DeployFrom,
    Eks,
    EksCluster,
    EksGpuPool,
    LogType,
    efa_interfaces,
    is_training,
)
from components.config.errors import Issue
from components.config.gke_rules import MIN_AUTHORIZED_PREFIX
from components.config.model import Fleet

KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
"""Kubernetes versions Karpenter 1.14 supports (its compatibility matrix: 1.30 needs >= 0.37, 1.36 >= 1.13)."""
RESERVED_LABEL_DOMAINS = ("karpenter.sh/", "karpenter.k8s.aws/", "kubernetes.io/", "k8s.io/", "gpu-fleet/",
                          "nvidia.com/")
"""Label prefixes Karpenter, Kubernetes, NVIDIA or gpu-fleet set on nodes themselves."""
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_ADDON_VERSION = re.compile(versions.EKS_ADDON_VERSION_PATTERN)
SYSTEM_AMI_ARCH = "x86_64"
"""The system node group's AMI type is AL2023_x86_64_STANDARD (components/aws/cluster.py): no Graviton types."""
_NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16"))
"""RFC 1918, shared (CGNAT), loopback and link-local space: never the source address of a request that reaches a
public endpoint over the internet, so listing one admits nobody (private networks use the private endpoint)."""
_VPC_RESTRICTED = tuple(ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16",
                                                              "224.0.0.0/4", "240.0.0.0/4"))
"""Ranges no VPC may use ("VPC CIDR blocks", docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html)."""
MAX_RESERVATION_TAGS = 20
"""EC2NodeClass `capacityReservationSelectorTerms[].tags` maxProperties (Karpenter v1.14.1 CRD)."""
RUNNER_EXPRESSIONS = ("github.run_id", "github.run_attempt")
"""The only expressions a runner label may carry: what a CodeBuild-hosted runner's label needs, and what
`gpu-fleet ci runners` substitutes (AWS CodeBuild user guide, "Label overrides supported with the CodeBuild-hosted
GitHub Actions runner")."""
VPC_RANGES = tuple(ipaddress.IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                        "100.64.0.0/10"))
"""The ranges a VPC (and a network routed to it) may use: RFC 1918 and RFC 6598 (VPC user guide, "VPC CIDR
blocks")."""
_EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
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
    yield from _check_flow_logs(eks.flow_logs.retention_days)
    for region in eks.regions:
        rpath = f"eks.regions[{region.name}]"
        yield from check_aws_location(f"{rpath}.name", region.name, [
            (f"{rpath}.clusters[{c.name}].zones", z) for c in region.clusters for z in c.zones])
        yield from unique_names(f"{rpath}.clusters", [c.name for c in region.clusters])
        for cluster in region.clusters:
            cpath = f"{rpath}.clusters[{cluster.name}]"
            vpc = yield from parse_cidr(f"{cpath}.vpc_cidr", cluster.vpc_cidr)
            if vpc is not None:
                low, high = VPC_PREFIXES
                if not low <= vpc.prefixlen <= high:
                    yield Issue(f"{cpath}.vpc_cidr", f"the VPC must be a /{low} to /{high}", cluster.vpc_cidr,
                                "e.g. 10.40.0.0/16: each zone's private subnet takes an eighth of it")
                elif any(vpc.overlaps(r) for r in _VPC_RESTRICTED):
                    yield Issue(f"{cpath}.vpc_cidr", "a range AWS does not allow for a VPC (this network, loopback, "
                                "link-local, multicast or reserved)", cluster.vpc_cidr,
                                "use private space (RFC 1918), e.g. 10.40.0.0/16")
                else:
                    vpcs.append((f"{cpath}.vpc_cidr", vpc))
            yield from _check_cluster(cpath, region.name, cluster)
            yield from _check_ami_version(f"{cpath}.ami_version", cluster.ami_version, eks.kubernetes_version)
    yield from overlaps(vpcs)
    yield from _check_principals(eks)
    yield from _check_one_runner(eks)
    yield from _check_addon_versions(eks)


def _check_addon_versions(eks: Eks) -> Iterator[Issue]:
    """Overrides name an add-on gpu-fleet installs and a version EKS could have; every add-on ends up pinned.

    Never "most recent": an unpinned add-on would move to a newer build on any `pulumi up`, unasked.
    """
    for name, version in eks.addon_versions.items():
        path = f"eks.addon_versions.{name}"
        if name not in versions.EKS_ADDONS:
            close = difflib.get_close_matches(name, versions.EKS_ADDONS, n=1)
            yield Issue(path, "not a managed add-on gpu-fleet installs", name,
                        (f"did you mean {close[0]}? " if close else "") + "one of " + ", ".join(versions.EKS_ADDONS))
        elif not _ADDON_VERSION.match(version):
            yield Issue(path, "not an EKS add-on version", version,
                        f"e.g. v1.22.3-eksbuild.1; list them with `aws eks describe-addon-versions --addon-name {name}"
                        f" --kubernetes-version {eks.kubernetes_version}`")
    if eks.kubernetes_version not in KUBERNETES_VERSIONS:
        return
    missing = versions.unpinned_eks_addons(eks.kubernetes_version, eks.addon_versions)
    if missing:
        yield Issue("eks.addon_versions", f"no pinned version of {', '.join(missing)} for Kubernetes "
                    f"{eks.kubernetes_version}", eks.kubernetes_version,
                    f"pin each in the stack, e.g. eks.addon_versions: {{{missing[0]}: v1.2.3-eksbuild.1}}, from "
                    f"`aws eks describe-addon-versions --kubernetes-version {eks.kubernetes_version}`")


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
    yield from _check_zones(cpath, region, cluster)
    yield from _check_public_access(cpath, cluster)
    yield from _check_deploy_path(cpath, cluster)
    yield from _check_log_retention(cpath, cluster)
    yield from _check_log_types(cpath, cluster)
    yield from _check_system_nodes(cpath, cluster)
    yield from unique_names(f"{cpath}.gpu_pools", [p.name for p in cluster.gpu_pools])
    yield from _check_namespaces(cpath, cluster)
    yield from _check_cpu_pool(cpath, cluster)
    yield from _check_maintenance(cpath, cluster)
    for pool in cluster.gpu_pools:
        yield from _check_pool(f"{cpath}.gpu_pools[{pool.name}]", region, cluster, pool)


def _check_zones(cpath: str, region: str, cluster: EksCluster) -> Iterator[Issue]:
    """The cluster's zones are in its region, once each, and within the letters gpu-fleet lays subnets out for."""
    yield from unique_names(f"{cpath}.zones", cluster.zones)
    for zone in cluster.zones:
        if zone[:-1] != region:
            yield Issue(f"{cpath}.zones", f"zone is not in region {region}", zone,
                        f"use zones named {region}a, {region}b, ...")
        elif zone in aws_limits.aws_zones(region) and not 0 <= ord(zone[-1]) - ord("a") < MAX_ZONE_INDEX:
            yield Issue(f"{cpath}.zones", "gpu-fleet lays out subnets for zones a to f", zone,
                        f"use zones {region}a ... {region}f")


def _check_public_access(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """The public endpoint admits public, narrow networks only."""
    yield from unique_names(f"{cpath}.public_access_cidrs", cluster.public_access_cidrs)
    for cidr in cluster.public_access_cidrs:
        allowed = yield from parse_cidr(f"{cpath}.public_access_cidrs", cidr)
        if allowed and any(allowed.subnet_of(r) for r in _NOT_PUBLIC):
            yield Issue(f"{cpath}.public_access_cidrs", "a private range: requests from it never reach the public "
                        "endpoint", cidr, "list public egress addresses (the runner's or the NAT's); networks "
                        "inside the VPC or peered with it use the private endpoint")
        elif allowed and allowed.prefixlen < MIN_AUTHORIZED_PREFIX:
            yield Issue(f"{cpath}.public_access_cidrs", "admits most of the internet to the API endpoint", cidr,
                        f"list the networks that run kubectl (/{MIN_AUTHORIZED_PREFIX} or narrower), or leave "
                        "public_access_cidrs empty for a private endpoint")


def _check_log_types(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """Control-plane log types once each, the audit log among them."""
    yield from unique_names(f"{cpath}.log_types", [t.value for t in cluster.log_types])
    if LogType.AUDIT not in cluster.log_types:
        yield Issue(f"{cpath}.log_types", "the audit log is off (CIS EKS 2.1.1)",
                    [t.value for t in cluster.log_types], "keep `audit` in log_types")


def _check_system_nodes(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """The system node group: sane bounds, and a general-purpose x86_64 EC2 type Karpenter's table lists."""
    sn = cluster.system_nodes
    if sn.min_size > sn.max_size:
        yield Issue(f"{cpath}.system_nodes.min_size", "min_size is above max_size", sn.min_size,
                    f"max_size is {sn.max_size}")
    if not _INSTANCE_TYPE.match(sn.instance_type):
        yield Issue(f"{cpath}.system_nodes.instance_type", "not an EC2 instance type", sn.instance_type,
                    "<family>.<size>, e.g. m7i.xlarge")
    elif sn.instance_type not in aws_instance_types.instance_type_names():
        yield Issue(f"{cpath}.system_nodes.instance_type", "not an EC2 instance type Karpenter's table lists",
                    sn.instance_type, _instance_type_hint(sn.instance_type))
    elif sn.instance_type.split(".")[0] in aws_instance_types.ARM64_FAMILIES:
        yield Issue(f"{cpath}.system_nodes.instance_type", f"an arm64 (Graviton) type; the system node group runs "
                    f"the {SYSTEM_AMI_ARCH} AL2023 AMI", sn.instance_type,
                    "use an x86_64 type such as m7i.xlarge or m7a.xlarge")
    elif _GPU_FAMILY.match(sn.instance_type):
        yield Issue(f"{cpath}.system_nodes.instance_type", "an accelerated instance family; system nodes run "
                    "cluster services and the Karpenter controller", sn.instance_type,
                    "use a general-purpose type such as m7i.xlarge, and put GPUs in gpu_pools")


def _check_namespaces(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """Team namespaces once each, none a namespace Kubernetes or the add-ons own."""
    yield from unique_names(f"{cpath}.addons.namespaces", [n.name for n in cluster.addons.namespaces])
    for ns in cluster.addons.namespaces:
        if ns.name in RESERVED_NAMESPACES or ns.name.startswith(RESERVED_NAMESPACE_PREFIXES):
            yield Issue(f"{cpath}.addons.namespaces[{ns.name}].name", "is a namespace Kubernetes or gpu-fleet's "
                        "add-ons own", ns.name, "name team namespaces after the team, e.g. team-vision")


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


@dataclass(frozen=True)
class _Pool:
    """One Karpenter GPU pool as its rules read it: where it sits, and the catalog machines it lists."""

    path: str
    """The pool's key path, eks.regions[R].clusters[C].gpu_pools[P]."""
    region: str
    cluster: EksCluster
    pool: EksGpuPool
    machines: list[catalog.MachineType]
    """The listed instance types the catalog knows (refused and unknown ones are reported, not here)."""


def _check_pool(ppath: str, region: str, cluster: EksCluster, pool: EksGpuPool) -> Iterator[Issue]:
    machines = yield from _machines(ppath, pool)
    p = _Pool(ppath, region, cluster, pool, machines)
    for rule in _POOL_RULES:
        yield from rule(p)


def _machines(ppath: str, pool: EksGpuPool) -> Generator[Issue, None, list[catalog.MachineType]]:
    """The pool's instance types the catalog knows; an Issue for each one refused or unknown, or listed twice."""
    yield from unique_names(f"{ppath}.instance_types", pool.instance_types)
    machines: list[catalog.MachineType] = []
    for name in pool.instance_types:
        machine = catalog.find_machine_type(name)
        refused = catalog.refusal(name)
        if refused is not None and refused.cloud is catalog.Cloud.AWS:
            yield _refused(ppath, pool, refused)
        elif machine is None or machine.cloud is not catalog.Cloud.AWS:
            yield Issue(f"{ppath}.instance_types", f"{name} is not an EC2 GPU instance type in the catalog", name,
                        catalog.machine_hint(name, catalog.Cloud.AWS))
        else:
            machines.append(machine)
    return machines


def _one_gpu(p: _Pool) -> Iterator[Issue]:
    """A pool holds one GPU model, and the one its `gpu` names where it names one."""
    gpus = sorted({m.gpu for m in p.machines})
    if len(gpus) > 1:
        carried = "; ".join(f"{m.name} carries {catalog.gpu(m.gpu).model}" for m in p.machines)
        yield Issue(f"{p.path}.instance_types", "a pool holds one GPU model", p.pool.instance_types,
                    f"{carried}; split them into one pool per GPU")
    if p.pool.gpu is None:
        return
    try:
        wanted = catalog.gpu(p.pool.gpu)
    except KeyError:
        yield Issue(f"{p.path}.gpu", "unknown GPU id", p.pool.gpu,
                    "a catalog GPU id: " + ", ".join(g.id for g in catalog.GPUS if g.aws_gpu_name))
        return
    for m in p.machines:
        if m.gpu != wanted.id:
            right = [t.name for t in catalog.machine_types(catalog.Cloud.AWS) if t.gpu == wanted.id]
            yield Issue(f"{p.path}.instance_types", f"{m.name} carries {m.gpus} x {catalog.gpu(m.gpu).model}, "
                        f"not {wanted.model}", m.name,
                        f"{wanted.model} instance types: {', '.join(right)}" if right
                        else f"EC2 offers no {wanted.model} in the catalog")


def _capacity_types(p: _Pool) -> Iterator[Issue]:
    """Each capacity type once, and one every listed instance type is sold as."""
    yield from unique_names(f"{p.path}.capacity_types", [c.value for c in p.pool.capacity_types])
    for capacity in p.pool.capacity_types:
        for m in p.machines:
            if _PROVISIONING[capacity] not in m.provisioning:
                allowed = ", ".join(sorted(v.value for v in m.provisioning))
                yield Issue(f"{p.path}.capacity_types", f"{m.name} cannot be obtained as {capacity.value}",
                            capacity.value, f"{m.name} is available as: {allowed}")


def _reservations(p: _Pool) -> Iterator[Issue]:
    """`reserved` and capacity_reservations come together; each reservation by id or by tags."""
    pool, ppath = p.pool, p.path
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
        elif term.tags is not None:
            yield from _check_reservation_tags(f"{ppath}.capacity_reservations[{term.id or i}].tags", term)


def _critical_on_spot(p: _Pool) -> Iterator[Issue]:
    if CapacityType.SPOT in p.pool.capacity_types and p.pool.production_critical:
        yield Issue(f"{p.path}.capacity_types", "a production-critical pool cannot run on spot", "spot",
                    "remove spot from capacity_types, or set production_critical: false")


def _gpu_limit(p: _Pool) -> Iterator[Issue]:
    if not p.machines:
        return
    smallest = min(m.gpus for m in p.machines)
    if p.pool.gpu_limit < smallest:
        yield Issue(f"{p.path}.gpu_limit", f"below the {smallest} GPUs of the smallest instance type, so the pool "
                    "could never launch a node", p.pool.gpu_limit, f"raise gpu_limit to at least {smallest}")


def _zones(p: _Pool) -> Iterator[Issue]:
    if p.pool.zones is None:
        return
    yield from unique_names(f"{p.path}.zones", p.pool.zones)
    for zone in p.pool.zones:
        if zone not in p.cluster.zones:
            yield Issue(f"{p.path}.zones", "not one of the cluster's zones", zone,
                        f"the cluster's zones: {', '.join(p.cluster.zones)}")


def _placement(p: _Pool) -> Iterator[Issue]:
    """EFA and the placement group, judged only where every instance type is known."""
    if p.machines and len(p.machines) == len(p.pool.instance_types):
        yield from _check_efa(p.path, p.cluster, p.pool, p.machines)
        yield from _check_placement_group(p.path, p.pool)


def _disruption(p: _Pool) -> Iterator[Issue]:
    yield from _check_training_disruption(p.path, p.pool)


def _labels(p: _Pool) -> Iterator[Issue]:
    """Kubernetes label syntax, outside the domains Karpenter, Kubernetes, NVIDIA and gpu-fleet own."""
    for key, value in p.pool.labels.items():
        if not K8S_LABEL_KEY.match(key):
            yield Issue(f"{p.path}.labels", "not a Kubernetes label key", key,
                        "letters, digits, '-', '_' and '.', at most 63, optionally after a DNS prefix and '/'")
        elif key.startswith(RESERVED_LABEL_DOMAINS) or "kubernetes.io/" in key:
            yield Issue(f"{p.path}.labels", "a label domain Karpenter, Kubernetes, NVIDIA or gpu-fleet owns", key,
                        "use your own prefix, e.g. team.example.com/purpose")
        elif not K8S_LABEL_VALUE.match(value):
            yield Issue(f"{p.path}.labels.{key}", "not a Kubernetes label value", value,
                        "letters, digits, '-', '_' and '.', at most 63, starting and ending with a letter or digit")


_POOL_RULES: tuple[Callable[[_Pool], Iterator[Issue]], ...] = (
    _one_gpu, _capacity_types, _reservations, _critical_on_spot, _gpu_limit, _zones, _placement, _disruption,
    _labels,
)
"""An EKS GPU pool's rules, one concern each, in the order their Issues are reported."""


def _refused(ppath: str, pool: EksGpuPool, refused: catalog.Refusal) -> Issue:
    """A refused instance type; P6e-GB200 first says why it cannot be on-demand or spot at all."""
    if refused.name.startswith("p6e-gb200") and CapacityType.RESERVED not in pool.capacity_types:
        return Issue(f"{ppath}.instance_types", P6E_CAPACITY_BLOCKS_ONLY, refused.name,
                     f"capacity_types: [reserved] with its Capacity Block; and then: {refused.reason}")
    return Issue(f"{ppath}.instance_types", f"{refused.name} ({refused.carries}): {refused.reason}", refused.name,
                 refused.hint)


def _check_efa(ppath: str, cluster: EksCluster, pool: EksGpuPool,
               machines: list[catalog.MachineType]) -> Iterator[Issue]:
    """An EFA pool: instance types that all have EFA, in one count (one EC2NodeClass layout), in one zone."""
    on = pool.efa if pool.efa is not None else all(catalog.fabric.efa_by_default(m.name) for m in machines)
    if not on:
        return
    for m in machines:
        if m.name in catalog.fabric.EFA_LAYOUT_REFUSED:
            yield Issue(f"{ppath}.efa", f"{m.name}: {catalog.fabric.EFA_LAYOUT_REFUSED[m.name]}", True,
                        "remove `efa` (the pool runs without EFA), or use p6-b200.48xlarge or p5en.48xlarge for EFA")
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


def _check_flow_logs(days: int) -> Iterator[Issue]:
    if days not in aws_limits.LOG_RETENTION_DAYS:
        longer = [d for d in aws_limits.LOG_RETENTION_DAYS if d >= days][:1]
        yield Issue("eks.flow_logs.retention_days", "not a retention period CloudWatch Logs accepts", days,
                    f"one of {', '.join(map(str, aws_limits.LOG_RETENTION_DAYS))}"
                    + (f" (the next one up is {longer[0]})" if longer else ""))


def _check_ami_version(path: str, version: str, kubernetes: str) -> Iterator[Issue]:
    """A real day, an AL2023 release (known, or newer than the catalog and past), with images for the version.

    Karpenter's `al2023@<version>` alias resolves the image of that release for the cluster's version, so any other
    version resolves nothing and GPU pods stay pending.
    """
    releases = aws_limits.AL2023_RELEASES
    newest, oldest = max(releases), min(releases)
    if aws_limits.release_date(version) is None:
        yield Issue(path, "not a date: AMI versions are v<year><month><day>", version,
                    f"a release of awslabs/amazon-eks-ami, e.g. {newest}")
    elif version > newest:
        # Past the catalog's knowledge: amazon-eks-ami releases about weekly, so a newer tag is most likely real and
        # refusing it would make every AMI bump wait for a catalog edit. Only a day that has not come yet cannot be
        # a release (the plan's clock, in UTC, as the release tags are dated).
        if (day := aws_limits.release_date(version)) is not None and day > datetime.datetime.now(datetime.UTC).date():
            yield Issue(path, "a date in the future: no AMI can have been released that day", version,
                        f"a release of awslabs/amazon-eks-ami, e.g. {newest}")
    elif version < oldest:
        yield Issue(path, f"older than the first AL2023 EKS AMI ({oldest})", version, f"use a release such as {newest}")
    elif version not in releases:
        yield Issue(path, "no AL2023 EKS AMI was released that day", version,
                    "the nearest releases are " + " and ".join(aws_limits.nearest_releases(version)))
    elif version < (first := aws_limits.FIRST_RELEASE_FOR.get(kubernetes, oldest)):
        yield Issue(path, f"older than the first release with Kubernetes {kubernetes} images ({first})", version,
                    f"use {first} or later, e.g. {newest}")


def _instance_type_hint(name: str) -> str:
    close = difflib.get_close_matches(name, aws_instance_types.instance_type_names(), n=3, cutoff=0.8)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "an instance type of the system node group, e.g. m7i.xlarge (aws ec2 describe-instance-types lists them)"


def _check_reservation_tags(path: str, term: CapacityReservationTerm) -> Iterator[Issue]:
    """Tags Karpenter and EC2 accept: at least one (an empty map selects every reservation), none empty."""
    tags = term.tags or {}
    if not tags:
        yield Issue(path, "an empty tag selector matches every capacity reservation the account can use", None,
                    "name the reservation's tags, e.g. {purpose: training}, or give its id")
    elif len(tags) > MAX_RESERVATION_TAGS:
        yield Issue(path, f"{len(tags)} tags; Karpenter's selector takes at most {MAX_RESERVATION_TAGS}", None,
                    "select by fewer tags, or by id")
    for key, value in tags.items():
        problem = tag_problem(key, limit=TAG_KEY_MAX)
        if problem:
            yield Issue(path, f"tag key {problem}", key,
                        "EC2 tag keys: 1-128 letters, digits, spaces and + - = . _ : / @")
        elif value != "*" and (problem := tag_problem(value, limit=TAG_VALUE_MAX)):
            yield Issue(f"{path}.{key}", f"tag value {problem}", value,
                        "the reservation's tag value, or * for any value of the key")


def _check_placement_group(ppath: str, pool: EksGpuPool) -> Iterator[Issue]:
    """One way to place a pool; never a new group for reserved capacity (it cannot be inside one made later).

    AWS: "If you plan to launch instances into a cluster placement group, we recommend that you reserve capacity
    explicitly in the cluster placement group" (EC2 user guide, placement group limitations); a reservation bought
    before gpu-fleet created its group is outside it, so every reserved launch fails with
    InsufficientInstanceCapacity (terraform-aws-eks PR #3730, eksctl #7949).
    """
    ref = pool.placement_group
    if ref is None:
        return
    path = f"{ppath}.placement_group"
    given = [k for k in ("name", "id", "create") if getattr(ref, k) is not None]
    if len(given) != 1:
        yield Issue(path, "give exactly one of name, id and create", given or None,
                    "name: <existing group>, id: pg-..., or create: true|false")
        return
    if ref.create and CapacityType.RESERVED in pool.capacity_types:
        yield Issue(f"{path}.create", "a placement group gpu-fleet creates cannot hold a capacity reservation bought "
                    "before it, so reserved launches would fail", True,
                    "name the group the reservation was made in (placement_group: {name: ...} or {id: pg-...}), "
                    "or remove placement_group")
    elif ref.create and not efa_interfaces(pool):
        yield Issue(f"{path}.create", "gpu-fleet creates placement groups for EFA pools only", True,
                    "set efa: true, name an existing group, or remove placement_group")


def _check_training_disruption(ppath: str, pool: EksGpuPool) -> Iterator[Issue]:
    """Training pools are never expired and never force-terminated (Karpenter v1.14 concepts/disruption.md)."""
    if not is_training(pool):
        return
    d = pool.disruption
    why = "a training pool (reserved, production_critical or workload: training)"
    if d.expire_after is not None and d.expire_after != "Never":
        yield Issue(f"{ppath}.disruption.expire_after", f"{why} is never expired: expiry is forceful and ignores "
                    "karpenter.sh/do-not-disrupt", d.expire_after,
                    "remove expire_after (or set Never); AMI updates reach it as drift inside the maintenance window")
    if d.termination_grace_period is not None:
        yield Issue(f"{ppath}.disruption.termination_grace_period", f"{why} has no forced termination: with it, "
                    "drift may evict pods that carry karpenter.sh/do-not-disrupt", d.termination_grace_period,
                    "remove termination_grace_period; jobs end on their own or are drained in the maintenance window")


def _check_cpu_pool(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    cpu = cluster.cpu_pool
    path = f"{cpath}.cpu_pool"
    yield from unique_names(f"{path}.capacity_types", [c.value for c in cpu.capacity_types])
    yield from unique_names(f"{path}.categories", [c.value for c in cpu.categories])
    if CapacityType.RESERVED in cpu.capacity_types:
        yield Issue(f"{path}.capacity_types", "the CPU pool takes no capacity reservations", "reserved",
                    "use spot and/or on-demand")
    if cpu.enabled and any(p.name == CPU_POOL_NAME for p in cluster.gpu_pools):
        yield Issue(f"{cpath}.gpu_pools[{CPU_POOL_NAME}].name", "is the name of the cluster's CPU NodePool",
                    CPU_POOL_NAME, "name GPU pools after their GPU, e.g. l40s")


def _check_maintenance(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    """Karpenter budgets are cron + duration, and cron has no year: a dated exclusion cannot be expressed."""
    for e in cluster.maintenance.exclusions:
        yield Issue(f"{cpath}.maintenance.exclusions[{e.name}]", "Karpenter cannot express a dated exclusion: its "
                    "budget schedules are cron without a year, so it would recur every year", e.start,
                    "remove it; keep jobs running through the window with the pod annotation "
                    "karpenter.sh/do-not-disrupt: \"true\", or narrow maintenance.window.days")
