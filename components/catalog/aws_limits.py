"""AWS facts a stack must respect: regions and the zone letters each has, and the AL2023 EKS AMI releases.

Config validation asks these so a stack that EC2, EKS or Karpenter would refuse fails at plan time with the likely
fix, instead of half-way through `pulumi up` (or, for an AMI, with GPU pods pending forever because Karpenter's
`al2023@<version>` alias resolves to no image). Each fact cites where it was read.
"""

from __future__ import annotations

import datetime
import difflib

from components.catalog.types import Source

AWS_ZONES_SOURCE = Source("https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html",
                          "2026-12-01")
"""AWS "Availability Zones" (the AZ IDs of every commercial region, e.g. usw2-az1 ... usw2-az4) with
"AZ IDs" (az-ids.html): a zone is the region code plus a letter. Which physical zone a letter names is mapped per
account in the oldest regions (so `us-east-1a` differs between accounts), but which letters exist is the same for
everyone; that is all the check relies on. GovCloud and China from their partitions' own pages, same day."""

AWS_REGIONS: dict[str, str] = {
    # North America
    "us-east-1": "abcdef", "us-east-2": "abc", "us-west-2": "abcd",
    "us-west-1": "abc",  # three zones exist; each account sees two of them (a+b, a+c or b+c)
    "ca-central-1": "abd",  # cac1-az1, az2, az4: the letters are a, b and d
    "ca-west-1": "abc", "mx-central-1": "abc",
    "us-gov-west-1": "abc", "us-gov-east-1": "abc",
    # South America, Europe, Middle East, Africa
    "sa-east-1": "abc",
    "eu-west-1": "abc", "eu-west-2": "abc", "eu-west-3": "abc", "eu-central-1": "abc", "eu-central-2": "abc",
    "eu-north-1": "abc", "eu-south-1": "abc", "eu-south-2": "abc",
    "il-central-1": "abc", "me-south-1": "abc", "me-central-1": "abc", "af-south-1": "abc",
    # Asia Pacific, China
    "ap-northeast-1": "abcd",  # apne1-az3 (an older account's b) takes no new capacity, but the letter exists
    "ap-northeast-2": "abcd", "ap-northeast-3": "abc",
    "ap-southeast-1": "abc", "ap-southeast-2": "abc", "ap-southeast-3": "abc", "ap-southeast-4": "abc",
    "ap-southeast-5": "abc", "ap-southeast-6": "abc", "ap-southeast-7": "abc",
    "ap-south-1": "abc", "ap-south-2": "abc", "ap-east-1": "abc", "ap-east-2": "abc",
    "cn-north-1": "abd", "cn-northwest-1": "abc",
}
"""Region -> the letters of its Availability Zones (AWS_ZONES_SOURCE)."""


def aws_zones(region: str) -> tuple[str, ...]:
    """The zone names of `region` (`us-west-2` -> us-west-2a ... us-west-2d); empty for an unknown region."""
    return tuple(region + letter for letter in AWS_REGIONS.get(region, ""))


def aws_region_hint(region: str) -> str:
    """A hint for a region AWS does not have: the likely region, else how to list them."""
    close = difflib.get_close_matches(region, AWS_REGIONS, n=2, cutoff=0.75)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    return "AWS regions look like us-east-1 or eu-west-1; `aws ec2 describe-regions` lists the account's"


AL2023_RELEASES_SOURCE = Source(
    "https://github.com/awslabs/amazon-eks-ami/tags (HEAD 81fec2e895854f599974fe4d3d72f61c0a9aaffa, 2026-07-23)",
    "2026-12-01")
"""The release tags of awslabs/amazon-eks-ami from v20240213, the first whose tree builds AL2023 (templates/al2023),
to the newest in the mirror read on the day given. Karpenter's `al2023@<version>` alias resolves these tags."""

_RELEASE_DAYS = """
    20240213 20240220 20240227 20240307 20240315 20240329 20240409 20240415 20240424 20240506 20240514
    20240522 20240531 20240605 20240615 20240625 20240703 20240729 20240807 20240817 20240828 20240904
    20240910 20240917 20240924 20240928 20241011 20241016 20241024 20241106 20241109 20241115 20241121
    20241205 20241213 20241225 20250103 20250116 20250123 20250203 20250212 20250224 20250228 20250304
    20250317 20250403 20250410 20250419 20250501 20250505 20250514 20250519 20250610 20250620 20250627
    20250704 20250715 20250801 20250804 20250807 20250813 20250819 20250821 20250829 20250904 20250915
    20250920 20251002 20251007 20251016 20251023 20251029 20251103 20251108 20251112 20251120 20251209
    20251217 20260107 20260114 20260116 20260120 20260128 20260129 20260209 20260224 20260304 20260310
    20260311 20260318 20260403 20260409 20260415 20260423 20260505 20260512 20260520 20260523 20260527
    20260529 20260610 20260618 20260625 20260707 20260709 20260714 20260724
"""
AL2023_RELEASES: frozenset[str] = frozenset(f"v{day}" for day in _RELEASE_DAYS.split())
"""Every AL2023 EKS AMI release the catalog knows (AL2023_RELEASES_SOURCE), as `v<YYYYMMDD>`."""


def release_date(version: str) -> datetime.date | None:
    """The calendar date of an AMI version `v<YYYYMMDD>`; None where no such day exists (month 13, 30 February)."""
    try:
        return datetime.datetime.strptime(version[1:], "%Y%m%d").date()
    except ValueError:
        return None


def nearest_releases(version: str) -> tuple[str, ...]:
    """The known releases just before and just after `version` (one of them at either end)."""
    ordered = sorted(AL2023_RELEASES)
    before = [r for r in ordered if r < version][-1:]
    after = [r for r in ordered if r > version][:1]
    return tuple(before + after)


LOG_RETENTION_SOURCE = Source(
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html", "2026-12-01")
"""CloudWatch Logs PutRetentionPolicy: `retentionInDays` takes only the values listed there."""
LOG_RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                       2192, 2557, 2922, 3288, 3653)
"""Retention periods CloudWatch Logs accepts, in days (LOG_RETENTION_SOURCE)."""

AL2023_KUBERNETES_SOURCE = Source(
    "https://github.com/awslabs/amazon-eks-ami/blob/81fec2e895854f599974fe4d3d72f61c0a9aaffa/CHANGELOG.md",
    "2026-12-01")
"""The release notes: each release's "Kubernetes 1.xx" sections list the versions it built images for."""
FIRST_RELEASE_FOR: dict[str, str] = {
    "1.30": "v20240514", "1.31": "v20240917", "1.32": "v20241225", "1.33": "v20250519", "1.34": "v20250915",
    "1.35": "v20260114", "1.36": "v20260610",
}
"""Kubernetes minor -> the first release with images for it (AL2023_KUBERNETES_SOURCE); every later release in
AL2023_RELEASES up to v20260714, the newest with notes, still builds 1.30 to 1.36 (and v20260724 too, as the
EKS review read in the notes at that tag)."""
