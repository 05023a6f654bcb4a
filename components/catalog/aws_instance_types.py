"""Every EC2 instance type Karpenter knows, by family, vendored so config validation can refuse a typo offline.

Generated from Karpenter's instance-type reference (INSTANCE_TYPES_SOURCE), which Karpenter builds from EC2
DescribeInstanceTypes; tests/aws/test_eks_hardening.py holds this table against ../shared/reference/aws, so a refreshed
reference fails the test until this module is regenerated from it. Sizes are in the reference's order.
"""

from __future__ import annotations

from components.catalog.types import Source

INSTANCE_TYPES_SOURCE = Source(
    "https://github.com/aws/karpenter-provider-aws/blob/1d927085dd81a9df9301e613f371dac5b4d16bfe"
    "/website/content/en/docs/reference/instance-types.md", "2026-12-01")
"""Karpenter's generated table (main 1d92708, 2026-08-21; file last changed 692ccdd): 1363 types in 177 families."""

INSTANCE_FAMILIES: dict[str, str] = {
    "a1": "medium large xlarge 2xlarge 4xlarge metal",
    "c1": "medium xlarge",
    "c3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "c4": "large xlarge 2xlarge 4xlarge 8xlarge",
    "c5": "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal",
    "c5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "c5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "c5d": "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge metal",
    "c5n": "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge metal",
    "c6a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal",
    "c6g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "c6gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "c6gn": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "c6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "c6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "c7a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl",
    "c7g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "c7gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "c7gn": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "c7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c8g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c8gb": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c8gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c8gn": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "c8i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "c8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "c8ib": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "c8id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "c8in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "c8ine": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge",
    "c9g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-48xl",
    "c9gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-48xl",
    "d2": "xlarge 2xlarge 4xlarge 8xlarge",
    "d3": "xlarge 2xlarge 4xlarge 8xlarge",
    "d3en": "xlarge 2xlarge 4xlarge 6xlarge 8xlarge 12xlarge",
    "dl2q": "24xlarge",
    "f2": "6xlarge 12xlarge 48xlarge",
    "g4ad": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "g4dn": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "g5": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g5g": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge metal",
    "g6": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g6e": "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge",
    "g6f": "large xlarge 2xlarge 4xlarge",
    "g7": "2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge",
    "g7e": "2xlarge 4xlarge 8xlarge 12xlarge 24xlarge 48xlarge",
    "gr6": "4xlarge 8xlarge",
    "gr6f": "4xlarge",
    "h1": "2xlarge 4xlarge 8xlarge 16xlarge",
    "hpc6a": "48xlarge",
    "hpc6id": "32xlarge",
    "hpc7a": "12xlarge 24xlarge 48xlarge 96xlarge",
    "hpc7g": "4xlarge 8xlarge 16xlarge",
    "hpc8a": "96xlarge",
    "i2": "xlarge 2xlarge 4xlarge 8xlarge",
    "i3": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "i3en": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge metal",
    "i4g": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "i4i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "i7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "i7ie": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "i8g": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "i8ge": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 18xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "im4gn": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "inf1": "xlarge 2xlarge 6xlarge 24xlarge",
    "inf2": "xlarge 8xlarge 24xlarge 48xlarge",
    "is4gen": "medium large xlarge 2xlarge 4xlarge 8xlarge",
    "m1": "small medium large xlarge",
    "m2": "xlarge 2xlarge 4xlarge",
    "m3": "medium large xlarge 2xlarge",
    "m4": "large xlarge 2xlarge 4xlarge 10xlarge 16xlarge",
    "m5": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "m5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "m5d": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "m5dn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "m5n": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "m5zn": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal",
    "m6a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal",
    "m6g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "m6gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "m6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "m6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "m6idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "m6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "m7a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl",
    "m7g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "m7gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "m7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m7i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m8azn": "medium large xlarge 3xlarge 6xlarge 12xlarge metal-12xl 24xlarge metal-24xl",
    "m8g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m8gb": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m8gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m8gn": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "m8i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "m8ib": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8idb": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "m8ine": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge",
    "m9g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-48xl",
    "m9gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge metal-48xl",
    "p3dn": "24xlarge",
    "p4d": "24xlarge",
    "p4de": "24xlarge",
    "p5": "4xlarge 48xlarge",
    "p5e": "48xlarge",
    "p5en": "48xlarge",
    "p6-b200": "48xlarge",
    "p6-b300": "48xlarge",
    "r3": "large xlarge 2xlarge 4xlarge 8xlarge",
    "r4": "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
    "r5": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "r5a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5ad": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
    "r5b": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "r5d": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "r5dn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "r5n": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal",
    "r6a": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal",
    "r6g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "r6gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "r6i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "r6id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "r6idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "r6in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge metal",
    "r7a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge metal-48xl",
    "r7g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "r7gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "r7i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r7iz": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal-16xl 32xlarge metal-32xl",
    "r8a": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r8g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r8gb": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r8gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r8gn": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "r8i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "r8i-flex": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
    "r8ib": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "r8id": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "r8idb": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "r8idn": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "r8in": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge "
           "16xlarge 24xlarge 32xlarge 48xlarge metal-48xl 96xlarge metal-96xl",
    "t1": "micro",
    "t2": "nano micro small medium large xlarge 2xlarge",
    "t3": "nano micro small medium large xlarge 2xlarge",
    "t3a": "nano micro small medium large xlarge 2xlarge",
    "t4g": "nano micro small medium large xlarge 2xlarge",
    "trn1": "2xlarge 32xlarge",
    "trn1n": "32xlarge",
    "trn2": "48xlarge",
    "u-3tb1": "56xlarge",
    "u-6tb1": "56xlarge 112xlarge",
    "u7i-12tb": "224xlarge",
    "u7i-6tb": "112xlarge",
    "u7i-8tb": "112xlarge",
    "u7in-16tb": "224xlarge",
    "u7in-24tb": "224xlarge",
    "u7in-32tb": "224xlarge",
    "vt1": "3xlarge 6xlarge 24xlarge",
    "x1": "16xlarge 32xlarge",
    "x1e": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 32xlarge",
    "x2gd": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge metal",
    "x2idn": "16xlarge 24xlarge 32xlarge metal",
    "x2iedn": "xlarge 2xlarge 4xlarge 8xlarge 16xlarge 24xlarge 32xlarge metal",
    "x2iezn": "2xlarge 4xlarge 6xlarge 8xlarge 12xlarge metal",
    "x8aedz": "large xlarge 3xlarge 6xlarge 12xlarge metal-12xl 24xlarge metal-24xl",
    "x8g": "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge metal-24xl 48xlarge metal-48xl",
    "x8i": "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge "
           "24xlarge 32xlarge 48xlarge metal-48xl 64xlarge 96xlarge metal-96xl",
    "z1d": "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge metal",
}
"""Family -> its sizes, space-separated (`m7i` -> `large xlarge ... metal-48xl`)."""

_ARM64 = """
    a1 c6g c6gd c6gn c7g c7gd c7gn c8g c8gb c8gd c8gn c9g c9gd g5g hpc7g i4g i8g i8ge im4gn is4gen m6g m6gd
    m7g m7gd m8g m8gb m8gd m8gn m9g m9gd r6g r6gd r7g r7gd r8g r8gb r8gd r8gn t4g x2gd x8g
"""
ARM64_FAMILIES: frozenset[str] = frozenset(_ARM64.split())
"""Families whose `kubernetes.io/arch` is arm64 (Graviton); every other family is amd64."""


def instance_type_names() -> frozenset[str]:
    """Every `<family>.<size>` in the table."""
    return frozenset(f"{family}.{size}" for family, sizes in INSTANCE_FAMILIES.items() for size in sizes.split())
