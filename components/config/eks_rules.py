"""Rules of the `eks:` section that span fields or need the catalog: the cluster, its network, logs and add-ons.

The deploy path's rules are in `eks_deploy_rules`, the GPU pools' in `eks_pool_rules`.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import re
from collections.abc import Iterator

from components import versions
from components.catalog import aws_instance_types, aws_limits
from components.config.addons import RESERVED_NAMESPACE_PREFIXES, RESERVED_NAMESPACES
from components.config.aws_checks import check_aws_location
from components.config.checks import MIN_AUTHORIZED_PREFIX, overlaps, parse_cidr, unique_names
from components.config.eks import (
    CPU_POOL_NAME,
    LOG_RETENTION_DAYS,
    MAX_ZONE_INDEX,
    VPC_PREFIXES,
    CapacityType,
    Eks,
    EksCluster,
    LogType,
)
from components.config.eks_deploy_rules import check_deploy_path, check_one_runner
from components.config.eks_pool_rules import check_pool
from components.config.errors import Issue
from components.config.model import Fleet

KUBERNETES_VERSIONS = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
"""Kubernetes versions Karpenter 1.14 supports (its compatibility matrix: 1.30 needs >= 0.37, 1.36 >= 1.13)."""
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
_GPU_FAMILY = re.compile(r"^(p[0-9]|g[0-9]|gr[0-9]|dl[0-9]|inf[0-9]|trn[0-9])")


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
    yield from check_one_runner(eks)
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


def _check_cluster(cpath: str, region: str, cluster: EksCluster) -> Iterator[Issue]:
    yield from _check_zones(cpath, region, cluster)
    yield from _check_public_access(cpath, cluster)
    yield from check_deploy_path(cpath, cluster)
    yield from _check_log_retention(cpath, cluster)
    yield from _check_log_types(cpath, cluster)
    yield from _check_system_nodes(cpath, cluster)
    yield from unique_names(f"{cpath}.gpu_pools", [p.name for p in cluster.gpu_pools])
    yield from _check_namespaces(cpath, cluster)
    yield from _check_cpu_pool(cpath, cluster)
    yield from _check_maintenance(cpath, cluster)
    for pool in cluster.gpu_pools:
        yield from check_pool(f"{cpath}.gpu_pools[{pool.name}]", region, cluster, pool)


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


def _check_log_retention(cpath: str, cluster: EksCluster) -> Iterator[Issue]:
    if cluster.log_retention_days not in LOG_RETENTION_DAYS:
        shown = ", ".join(map(str, LOG_RETENTION_DAYS))
        yield Issue(f"{cpath}.log_retention_days", "not a retention period CloudWatch Logs accepts",
                    cluster.log_retention_days, f"one of {shown}")


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
