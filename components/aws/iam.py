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


def cluster_access_policy(partition: str, policy: str) -> str:
    """The ARN of an EKS access policy, e.g. `AmazonEKSClusterAdminPolicy`.

    EKS user guide, "Review access policy permissions": `arn:aws:eks::aws:cluster-access-policy/<name>`.
    """
    return f"arn:{partition}:eks::aws:cluster-access-policy/{policy}"


KEY_ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                     "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                     "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                     "kms:RotateKeyOnDemand"]
"""Administer, never use: the key administrators statement of KMS's default key policy (KMS developer guide,
"Default key policy" > "Allows key administrators to administer the KMS key"), with no Encrypt or Decrypt."""
KEY_USER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
"""The key users statement of the same default policy ("Allows key users to use the KMS key")."""
KEY_GRANT_ACTIONS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
"""Grants, only for AWS services acting for the user (the default policy's "use the KMS key with AWS services",
condition kms:GrantIsForAWSResource): EKS encrypts secrets through a grant."""


def _root(partition: str, account: str) -> str:
    return f"arn:{partition}:iam::{account}:root"


def key_policy(partition: str, account: str, *, users: list[str]) -> str:
    """A least-privilege key policy: the account administers the key, only `users` use it.

    The account (through its IAM policies) may administer the key but not encrypt or decrypt with it; only
    `users` may, and grant it to AWS services acting for them.
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": _root(partition, account)},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "KeyUse", "Effect": "Allow", "Principal": {"AWS": users}, "Action": KEY_USER_ACTIONS,
         "Resource": "*"},
        {"Sid": "GrantsForAwsServices", "Effect": "Allow", "Principal": {"AWS": users},
         "Action": KEY_GRANT_ACTIONS, "Resource": "*",
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
    ]})


def logs_key_policy(partition: str, account: str, region: str, log_group: str) -> str:
    """The key policy of one CloudWatch log group's key.

    Administered by the account, used only by CloudWatch Logs of the region and only for that group
    (CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS": the `logs.<region>.amazonaws.com`
    principal with the `kms:EncryptionContext:aws:logs:arn` condition).
    """
    group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": _root(partition, account)},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        {"Sid": "CloudWatchLogsUse", "Effect": "Allow", "Principal": {"Service": f"logs.{region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*", "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}},
    ]})
