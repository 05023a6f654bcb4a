"""IAM documents the AWS wing shares: service trust policies and AWS-managed policy ARNs."""

from __future__ import annotations

import json


def trust(service: str, *, tag_session: bool = False) -> str:
    """An assume-role policy letting `service` (e.g. eks.amazonaws.com) assume the role."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}]})


def managed(partition: str, policy: str) -> str:
    """The ARN of an AWS-managed policy, e.g. `AmazonEKSClusterPolicy` or `service-role/AmazonEBSCSIDriverPolicy`."""
    return f"arn:{partition}:iam::aws:policy/{policy}"


def partition_of(arn: str) -> str:
    """`aws`, `aws-cn` or `aws-us-gov`, read from any ARN of the same account (e.g. the admin principal's)."""
    return arn.split(":")[1]
