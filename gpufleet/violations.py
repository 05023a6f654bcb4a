"""Which policy violations a pull request introduces, fixes or leaves, against the target branch's plan.

A violation is matched on its policy and its subject, never on its message: the message carries figures (GPUs
requested, dollars per day, the largest pools) that any capacity change moves, so a violation whose numbers moved
is still the same violation. The subject is the resource's URN where the pack reports one, else the key the
message is about (its quota, its budget period, the stack-config key it names first).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Violation = Mapping[str, Any]

_QUOTA = re.compile(r"^(all regions|[a-z]+-[a-z]+(?:\d+|-\d+)) ([A-Z][A-Z0-9_-]+):")
"""gpu-quota's subject: `us-east-1 L-417A185B:`, `all regions GPUS_ALL_REGIONS:` (policies/quota.py `check`)."""
_BUDGET = re.compile(r"\b(?:of|over) the (daily|monthly) budget\b")
"""gpu-budget and gpu-budget-warning: one violation per budget period (policies/budget.py)."""
_CONFIG_KEY = re.compile(r"\b(?:gke|eks|openshift|budgets|observability)(?:\.[\w-]+|\[[^\]\s]+\])+")
"""The first stack-config key a message names (`gke.regions[us-central1].clusters[ml-1].gpu_pools[h100]`)."""
_NAMED = re.compile(r"^(\w+ '[^']+')")
"""Kubernetes objects named first (`Subscription 'gpu-operator-certified'`, policies/openshift.py)."""
_FIGURES = re.compile(r"\$?\b\d[\d,.]*%?")


def subject(violation: Violation) -> str:
    """What the violation is about, stable across changes to its figures."""
    urn = str(violation.get("urn") or "")
    if urn:
        return urn
    message = str(violation.get("message") or "")
    for pattern in (_QUOTA, _BUDGET, _NAMED):
        found = pattern.search(message)
        if found:
            return " ".join(found.groups())
    key = _CONFIG_KEY.search(message)
    if key:
        return key.group(0)
    return _FIGURES.sub("#", message.split(". ", 1)[0])


def identity(violation: Violation) -> tuple[str, str]:
    """(policy, subject): how a violation of the pull request is matched with one of the target branch."""
    return str(violation.get("policy")), subject(violation)


@dataclass
class Classified:
    """The pull request's violations against the target branch's."""

    new: list[Violation] = field(default_factory=list)
    """In this plan, not in the base: the pull request introduces them."""
    existing: list[Violation] = field(default_factory=list)
    """In both (this plan's wording)."""
    fixed: list[Violation] = field(default_factory=list)
    """In the base, gone from this plan (the base's wording)."""
    unknown: str | None = None
    """Why new and existing cannot be told apart (no base, or a base planned without the pack), else None."""


def classify(policy: Mapping[str, Any] | None, base: Mapping[str, Any] | None) -> Classified | None:
    """The plan's violations as new, existing or fixed; None when this plan ran no policy pack."""
    if policy is None:
        return None
    current = list(policy.get("violations") or [])
    if base is None:
        return Classified(new=current, unknown="no target-branch plan (--base): new and existing unknown")
    before = base.get("policy")
    if not isinstance(before, Mapping) or not isinstance(before.get("violations"), list):
        return Classified(new=current, unknown="base planned without the pack: new/existing unknown")
    pool: dict[tuple[str, str], list[Violation]] = defaultdict(list)
    for v in before["violations"]:
        if isinstance(v, Mapping):
            pool[identity(v)].append(v)
    out = Classified()
    for v in current:
        matches = pool.get(identity(v))
        (out.existing if matches else out.new).append(v)
        if matches:
            matches.pop(0)
    out.fixed = [v for left in pool.values() for v in left]
    return out


def counts(violations: list[Violation]) -> Counter[str]:
    """Violations per level (`mandatory`, `advisory`)."""
    return Counter(str(v.get("level")) for v in violations)
