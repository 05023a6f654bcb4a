"""Checks any section that names AWS places and tags uses (EKS, OpenShift on AWS): regions, zones, tag syntax.

Regions and zone letters come from the catalog (`components.catalog.aws_limits`), so `us-west-2e` (us-west-2 has
a to d) and a region AWS does not have fail at plan time with the likely region as hint, not as a quota of zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from components.catalog import aws_limits
from components.config.errors import Issue

TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
"""EC2 tag limits: "Tag restrictions", docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html (2026-12-01)."""
_TAG_PUNCTUATION = set("_.:/=+-@")
"""Besides letters, digits and spaces, the characters EC2 tags may hold (the same page: `+ - = . _ : / @`)."""


def check_aws_location(region_path: str, region: str, zones: Iterable[tuple[str, str]]) -> Iterator[Issue]:
    """The region exists, and each (path, zone) in it names a letter the region has.

    Zones named for another region are left to the caller's own rule (its hint names the region); a zone of an
    unknown region is not reported again, as the region's hint already is the fix.
    """
    if region not in aws_limits.AWS_REGIONS:
        yield Issue(region_path, "not an AWS region", region, aws_limits.aws_region_hint(region))
        return
    have = aws_limits.aws_zones(region)
    for path, zone in zones:
        if zone[:-1] == region and zone not in have:
            yield Issue(path, f"{region} has no zone {zone[-1]}", zone,
                        f"{region}'s zones are {', '.join(have)} (which of them your account may use: "
                        f"aws ec2 describe-availability-zones --region {region})")


def tag_problem(text: str, *, limit: int) -> str | None:
    """Why EC2 would refuse `text` as a tag key or value, or None: empty, too long, or a character it refuses."""
    if not text:
        return "is empty"
    if len(text) > limit:
        return f"is {len(text)} characters long; EC2 allows {limit}"
    bad = sorted({c for c in text if not (c.isalnum() or c.isspace() or c in _TAG_PUNCTUATION)})
    if bad:
        return f"holds {' '.join(repr(c) for c in bad)}, which EC2 tags cannot"
    return None
