"""Policy waivers as data: an accepted violation with a subject, an owner, a reason and an expiry.

A waiver lives in the stack's policy config under the policy it waives (`"gpu-quota": {"waivers": [...]}`), so
the pack that `pulumi preview` and `pulumi up` load honours it exactly as the offline plan does: one place decides.
`waivable` wraps every policy of the pack. A violation whose subject a waiver covers is not reported by its own
policy while the waiver holds; the `policy-waivers` policy (advisory, evaluated last) reports it instead as
"waived until ... by ...", and reports waivers that matched nothing. Once a waiver has expired, the violation is
reported by its own policy at its own level again, saying that the waiver expired, so it fails as it did before.

A violation's subjects: for a resource policy, the resource's URN, logical name and cloud name; for a stack policy,
the stack-config key path its message starts with (`gke.regions[us-central1].clusters[ml-1].gpu_pools[h100]`; a
waiver may cover a key's prefix, e.g. a whole cluster), or the `<region> <quota metric>` it starts with
(`us-east-1 L-417A185B`), or else `stack`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

NAME = "policy-waivers"
MAX_AHEAD = timedelta(days=366)
"""A waiver is re-reviewed at least yearly; a later expiry is refused (2207 for 2027 is a typo, not a decision)."""
MAX_PAST = timedelta(days=90)
"""An expiry this far in the past is a typo or a forgotten waiver: refused as input, not applied as expired."""

WAIVERS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "default": [],
    "description": "Accepted violations of this policy: [{covers, owner, reason or ticket, expires: YYYY-MM-DD}]",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["covers", "owner", "expires"],
        "properties": {
            "covers": {"type": "string", "minLength": 1,
                       "description": "A stack-config key path (or its prefix), a `<region> <quota metric>`, a "
                                      "resource's URN or name, or `stack`"},
            "owner": {"type": "string", "minLength": 1, "description": "Who answers for it (a person or team)"},
            "reason": {"type": "string", "minLength": 1, "description": "Why it is accepted"},
            "ticket": {"type": "string", "minLength": 1, "description": "The ticket that tracks it"},
            "expires": {"type": "string", "description": "Last day it holds, YYYY-MM-DD (UTC), at most a year out"},
        },
    },
}


@dataclass(frozen=True)
class Waiver:
    policy: str
    covers: str
    owner: str
    why: str
    expires: date

    def covers_any(self, subjects: Iterable[str]) -> bool:
        return any(_covers(self.covers, s) for s in subjects)


def today() -> date:
    return datetime.now(UTC).date()


def _covers(cover: str, subject: str) -> bool:
    """Equal, or a stack-config key prefix ending at a key boundary."""
    return subject == cover or (subject.startswith(cover) and subject[len(cover)] in ".[")


def problems(policy: str, items: Any, now: date) -> list[tuple[str, str, Any, str]]:
    """(key path under the policy, message, value, hint) for each waiver that cannot be applied."""
    out: list[tuple[str, str, Any, str]] = []
    seen: set[str] = set()
    for n, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, Mapping):
            continue  # the JSON schema names it
        where = f"{policy}.waivers.{n}"
        if not (item.get("reason") or item.get("ticket")):
            out.append((where, "has no reason or ticket", None, 'say why: "reason": "..." or "ticket": "OPS-123"'))
        expires = _date(item.get("expires"))
        if "expires" not in item:
            pass  # the JSON schema names a missing expiry
        elif expires is None:
            out.append((f"{where}.expires", "is not a date", item.get("expires"), "write YYYY-MM-DD, e.g. 2027-01-31"))
        elif expires > now + MAX_AHEAD:
            out.append((f"{where}.expires", f"is more than a year after today ({now})", item.get("expires"),
                        "waivers are re-reviewed at least yearly; a typo for a nearer year?"))
        elif expires < now - MAX_PAST:
            out.append((f"{where}.expires", f"is over {MAX_PAST.days} days before today ({now})", item.get("expires"),
                        "a typo for a later year? Otherwise fix the finding and remove the waiver"))
        cover = str(item.get("covers"))
        if cover in seen:
            out.append((f"{where}.covers", "is waived twice for this policy", cover, "keep one waiver per subject"))
        seen.add(cover)
    return out


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse(policy: str, config: Mapping[str, Any]) -> list[Waiver]:
    """The applicable waivers of one policy's config (those `problems` refuses are skipped)."""
    out = []
    for item in config.get("waivers") or []:
        expires = _date(item.get("expires")) if isinstance(item, Mapping) else None
        if expires is None or not item.get("covers") or not item.get("owner"):
            continue
        out.append(Waiver(policy, str(item["covers"]), str(item["owner"]),
                          str(item.get("reason") or item.get("ticket")), expires))
    return out


_KEY_PATH = re.compile(r"^((?:gke|eks|openshift|gpu-fleet:)[\w.:-]*(?:\[[^\]\s]+\][\w.-]*)*)")
_QUOTA = re.compile(r"^((?:all regions|[a-z]+(?:-[a-z]+)+-?\d*) [A-Za-z0-9_-]+): ")


def stack_subjects(message: str) -> list[str]:
    """What a stack policy's message is about: its leading key path or quota, else the stack."""
    for pattern in (_KEY_PATH, _QUOTA):
        match = pattern.match(message)
        if match:
            return [match.group(1).rstrip(".:")]
    return ["stack"]


class Ledger:
    """What the wrapped policies waived, and every waiver they were configured with, for `policy-waivers`."""

    def __init__(self) -> None:
        self.known: dict[str, list[Waiver]] = {}
        self.waived: list[tuple[Waiver, str]] = []
        self.matched: set[Waiver] = set()

    def configured(self, policy: str, config: Mapping[str, Any]) -> list[Waiver]:
        waivers = parse(policy, config)
        self.known[policy] = waivers
        return waivers

    def record(self, waiver: Waiver, message: str) -> None:
        if (waiver, message) not in self.waived:
            self.waived.append((waiver, message))


LEDGER = Ledger()


def _filter(policy: str, config: Mapping[str, Any], subjects: Callable[[str], list[str]],
            report: ReportViolation) -> ReportViolation:
    waivers = LEDGER.configured(policy, config)
    now = today()

    def filtered(message: str, urn: str | None = None) -> None:
        for waiver in waivers:
            if not waiver.covers_any(subjects(message)):
                continue
            LEDGER.matched.add(waiver)
            if waiver.expires >= now:
                LEDGER.record(waiver, message)
                return
            report(f"waiver expired on {waiver.expires} ({waiver.owner}: {waiver.why}); renew it or fix this: "
                   f"{message}", urn)
            return
        report(message, urn)

    return filtered


def waivable(policy: Policy) -> Policy:
    """`policy` with a `waivers` setting, its violations filtered through its waivers."""
    schema = policy.config_schema
    properties = {**(schema.properties if schema else {}), "waivers": WAIVERS_SCHEMA}
    config_schema = PolicyConfigSchema(properties=properties, required=schema.required if schema else None)
    common: dict[str, Any] = {
        "name": policy.name, "description": policy.description, "enforcement_level": policy.enforcement_level,
        "config_schema": config_schema, "framework": policy.framework, "severity": policy.severity,
        "tags": policy.tags, "remediation_steps": policy.remediation_steps, "url": policy.url,
        "display_name": policy.display_name,
    }
    if isinstance(policy, ResourceValidationPolicy):
        def validate_resource(args: ResourceValidationArgs, report: ReportViolation) -> Any:
            names = [args.urn, args.name, str((args.props or {}).get("name") or "")]
            return policy.validate(args, _filter(policy.name, args.get_config(),
                                                 lambda _message: [n for n in names if n], report))
        return ResourceValidationPolicy(validate=validate_resource, **common)
    assert isinstance(policy, StackValidationPolicy), policy

    def validate_stack(args: StackValidationArgs, report: ReportViolation) -> Any:
        return policy.validate(args, _filter(policy.name, args.get_config(), stack_subjects, report))
    return StackValidationPolicy(validate=validate_stack, **common)


WAIVED_PREFIX = "waived until "
UNUSED_PREFIX = "unused waiver: "


def _report_waivers(_args: StackValidationArgs, report: ReportViolation) -> None:
    for waiver, message in LEDGER.waived:
        report(f"{WAIVED_PREFIX}{waiver.expires} by {waiver.owner}: {waiver.why} [{waiver.policy} on "
               f"{waiver.covers}] {message}", None)
    for policy, waivers in sorted(LEDGER.known.items()):
        for waiver in waivers:
            if waiver not in LEDGER.matched:
                report(f"{UNUSED_PREFIX}{policy} on {waiver.covers} (by {waiver.owner}, until {waiver.expires}) "
                       f"matches no violation: remove it from the stack's policy config", None)


policy_waivers = StackValidationPolicy(
    name=NAME,
    description="Reports the violations that waivers accept (until their expiry) and waivers that match nothing.",
    validate=_report_waivers,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={}),
)
