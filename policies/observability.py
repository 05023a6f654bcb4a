"""Alerts that reach nobody: a stack whose clusters evaluate alert rules but route them to no receiver.

Every cluster's monitoring component publishes, by name only, the alerts it evaluates and the receivers its
Alertmanager sends them to (`components.kubernetes.monitoring`). Without a receiver the alerts fire into an
Alertmanager that drops them: advisory by default, mandatory where a stack's policy config says so (prod).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.kubernetes.monitoring.types import MONITORING_TYPES
from policies.view import plain


def unrouted(monitoring: Iterable[Mapping[str, Any]]) -> list[str]:
    """One message naming the clusters with alerts and no receiver, if any."""
    silent = sorted(str(m.get("cluster")) for m in monitoring if m.get("alerts") and not m.get("receivers"))
    if not silent:
        return []
    return [f"{len(silent)} cluster{'' if len(silent) == 1 else 's'} evaluate GPU alert rules that reach no one: "
            f"{', '.join(silent)}. Add a receiver under gpu-fleet:observability.receivers (slack, pagerduty, email "
            "or webhook, its credential in a secret config key), or set observability.alerts.enabled: false."]


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    monitoring = [plain(r.props) for r in args.resources if r.resource_type in MONITORING_TYPES]
    for message in unrouted(monitoring):
        report(message, None)


alerts_have_receivers = StackValidationPolicy(
    name="alerts-have-receivers",
    description="A stack whose clusters evaluate alert rules routes them to at least one receiver.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(properties={}),
)
