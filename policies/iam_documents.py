"""AWS IAM policy documents as the engine hands them over, and the wildcard rules gpu-fleet's documents must meet.

A document arrives as a JSON string (what pulumi_aws sends) or an object; an unknown one (a preview, before the ARNs
it names exist) passes with no finding: the next preview, or `pulumi up`'s own run of the pack, sees it known.
Only `Allow` statements grant anything, so `Deny` statements are never findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from policies.view import Unknown

READ_VERBS = ("describe", "list", "get")
"""Read-only action verbs. AWS requires `Resource: "*"` for actions with no resource-level permissions, which are
reads like these: Karpenter v1.14's reference CloudFormation policy grants `ec2:Describe*`, `pricing:GetProducts`,
`iam:ListInstanceProfiles` and `arc-zonal-shift:GetManagedResource` on `*` (aws/karpenter-provider-aws @1d92708,
website/content/en/v1.14/getting-started/getting-started-with-karpenter/cloudformation.yaml, Sids
AllowRegionalReadActions, AllowPricingReadActions, AllowUnscopedInstanceProfileListAction,
AllowZonalShiftStatusReadOnly), as does terraform-aws-eks (@bef29c4 modules/karpenter/policy.tf, same Sids)."""
TAG_KEYS = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys", ":resourcetag/", ":requesttag/")
"""Condition keys that scope a statement to tagged resources: how Karpenter's policy bounds EC2 create and delete
actions to what it launched (`aws:RequestTag/kubernetes.io/cluster/<name>: owned`, same file)."""


@dataclass(frozen=True)
class Statement:
    label: str
    """The statement's Sid, or its 0-based position (`Statement[2]`) when it has none."""
    body: Mapping[str, Any]

    @property
    def allows(self) -> bool:
        return self.body.get("Effect") == "Allow"

    def field(self, key: str) -> list[Any]:
        value = self.body.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


class Unreadable(ValueError):
    """A known document that is not an IAM policy (AWS would refuse it; the pack cannot vouch for it)."""


def statements(document: Any) -> list[Statement] | None:
    """The document's statements; None while the document (or any part of it) is unknown."""
    if document is None:
        return []
    if isinstance(document, Unknown):
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise Unreadable(f"is not JSON ({exc})") from None
    if not isinstance(document, Mapping):
        raise Unreadable("is not a JSON object")
    raw = document.get("Statement")
    if isinstance(raw, Unknown):
        return None
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    if _has_unknown(items):
        return None
    return [Statement(str(s.get("Sid") or f"Statement[{i}]"), s) for i, s in enumerate(items) if isinstance(s, Mapping)]


def _has_unknown(value: Any) -> bool:
    """Anywhere in a document given as an object (a string document is known or unknown as a whole)."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    return isinstance(value, list) and any(_has_unknown(v) for v in value)


def is_read_only(action: str) -> bool:
    verb = action.split(":", 1)[-1].lower()
    return verb.startswith(READ_VERBS)


def _wild_resource(resource: Any) -> bool:
    """`*`, or an ARN whose resource part is `*` (`arn:aws:s3:::*`): every resource of its kind."""
    text = str(resource)
    return text == "*" or (text.startswith("arn:") and text.count(":") >= 5 and text.split(":", 5)[5] == "*")


def _tag_scoped(condition: Any) -> bool:
    """A Condition on a resource or request tag with a concrete value (a bare `*` only asks that the tag exist)."""
    if not isinstance(condition, Mapping):
        return False
    for clauses in condition.values():
        for key, value in (clauses.items() if isinstance(clauses, Mapping) else []):
            values = value if isinstance(value, list) else [value]
            if any(t in str(key).lower() for t in TAG_KEYS) and any(str(v) not in ("*", "") for v in values):
                return True
    return False


def wildcard_findings(stmt: Statement) -> Iterator[str]:
    """What in one statement of an identity (or trust) policy grants more than it names."""
    if not stmt.allows:
        return
    if stmt.field("NotAction"):
        yield (f"{stmt.label} allows every action except {stmt.field('NotAction')} (NotAction with Allow): "
               "list the actions it needs")
    wild = [a for a in stmt.field("Action") if str(a) == "*" or str(a).endswith(":*")]
    if wild:
        yield (f"{stmt.label} allows {', '.join(map(str, wild))} (rule: no `*` or `service:*` action): list the "
               "actions it needs")
    if stmt.field("NotResource"):
        yield (f"{stmt.label} applies to every resource except {stmt.field('NotResource')} (NotResource with "
               "Allow): name the resources")
    resources = [r for r in stmt.field("Resource") if _wild_resource(r)]
    writes = [str(a) for a in stmt.field("Action") if not is_read_only(str(a)) and str(a) not in wild]
    if resources and writes and not _tag_scoped(stmt.body.get("Condition")):
        yield (f"{stmt.label} allows {', '.join(writes)} on {resources[0]} (rule: `Resource: \"*\"` only for "
               "read-only Describe/List/Get statements or with a tag-scoping Condition, as Karpenter's reference "
               "policy does): name the resources' ARNs or add an aws:ResourceTag/aws:RequestTag condition")


def trust_findings(stmt: Statement) -> Iterator[str]:
    """What in one statement of a role's trust policy lets anyone assume it."""
    if not stmt.allows:
        return
    principal = stmt.body.get("Principal")
    aws_principals = principal.get("AWS") if isinstance(principal, Mapping) else None
    anyone = principal == "*" or aws_principals == "*" or (isinstance(aws_principals, list) and "*" in aws_principals)
    if (anyone or stmt.field("NotPrincipal")) and not stmt.body.get("Condition"):
        yield (f"{stmt.label} lets any AWS principal assume the role (Principal `*` with no Condition): name the "
               "service or account that assumes it")
    yield from wildcard_findings(stmt)
