"""Quota headroom: every quota the stack uses or is granted, at maximum scale, with the pack's own arithmetic.

Use is `policies.demand.quota_usage`, the arithmetic the pack's quota policy runs (and `check_networks`' network
count), so the comment and the verdict cannot disagree; grants are the reconciled policy config the plan JSON
carries (`policy.settings`, from `gpufleet/policy_gate.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.capacity import CapacityRow, ResourceView, pool_path
from gpufleet.base_plan import base_rows
from gpufleet.sections import Section
from policies.demand import GCP_NETWORK, NETWORKS, quota_usage

if TYPE_CHECKING:
    from gpufleet.report import Plan

NEAR = 0.9
"""A quota or budget used at this share or more is "nearly failing": the review looks for somewhere else to go."""
_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):")


@dataclass(frozen=True)
class Quota:
    """One quota of the stack at maximum scale: where, what, how much is used and granted."""

    scope: str
    """What holds the quota: `gcp:PROJECT` or `aws:ACCOUNT` (stacks sharing it share the quota)."""
    region: str
    """Cloud region, or `global` for GCP's project-wide quotas."""
    metric: str
    """GCP quota metric or AWS Service Quotas code."""
    unit: str
    """`GPUs`, `networks`, or `vCPUs (quota name)`."""
    used: int
    """Requested at maximum scale."""
    granted: int | None
    """Granted in the policy config; None where nothing is granted (the pack then allows 0)."""
    gpus: int
    """The GPUs the use means (for AWS vCPU quotas, the GPUs of the pools counted)."""
    pools: tuple[str, ...]
    """Stack-config keys of the pools counted."""

    @property
    def headroom(self) -> int:
        return int(self.granted or 0) - self.used

    @property
    def share(self) -> float:
        limit = int(self.granted or 0)
        return self.used / limit if limit else (math.inf if self.used else 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "region": self.region, "metric": self.metric, "unit": self.unit,
                "used": self.used, "granted": self.granted, "headroom": self.headroom, "gpus": self.gpus,
                "pools": list(self.pools)}


def plan_views(plan: Plan) -> list[ResourceView]:
    """The plan's resources as the policies see them."""
    return [r.view() for r in plan.resources]


def settings(policy: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """A policy's reconciled properties from a plan's policy block; None when the plan ran without the pack."""
    if not isinstance(policy, Mapping) or not isinstance(policy.get("settings"), Mapping):
        return None
    found = policy["settings"].get(name)
    return found if isinstance(found, Mapping) else {}


def scopes(resources: Iterable[ResourceView | Mapping[str, Any]]) -> dict[str, str | None]:
    """The GCP project and AWS account the stack's quotas belong to.

    GCP: the `project` of its GKE clusters. AWS: the account of the EKS deploy role's access entry (the role
    `pulumi up` runs as creates the instances, so their quotas are that account's).
    """
    project = account = None
    for r in resources:
        typ = r.type if isinstance(r, ResourceView) else r.get("type")
        inputs = r.inputs if isinstance(r, ResourceView) else r.get("inputs") or {}
        name = r.name if isinstance(r, ResourceView) else str(r.get("name"))
        if typ == "gcp:container/cluster:Cluster" and project is None and isinstance(inputs.get("project"), str):
            project = inputs["project"]
        if typ == "aws:eks/accessEntry:AccessEntry" and account is None and name.endswith("-deploy"):
            m = _ACCOUNT.match(str(inputs.get("principalArn", "")))
            account = m.group(1) if m else None
    return {"gcp": project, "aws": account}


def _scope(region: str, metric: str, where: Mapping[str, str | None], stack: str) -> str:
    aws = metric.startswith("L-")
    owner = where["aws" if aws else "gcp"]
    return f"{'aws' if aws else 'gcp'}:{owner or f'(stack {stack})'}"


def quotas(capacity: list[CapacityRow], networks: int, quota_config: Mapping[str, Any] | None,
           where: Mapping[str, str | None], stack: str) -> list[Quota]:
    """Every quota the stack uses or is granted, with the pack's own usage arithmetic."""
    regional: Mapping[str, Mapping[str, int]] = (quota_config or {}).get("quotas") or {}
    global_: Mapping[str, int] = (quota_config or {}).get("global_quotas") or {}
    usage = quota_usage(capacity, regional)
    keys = set(usage) | {(r, m) for r, ms in regional.items() for m in ms} | {("global", m) for m in global_}
    # The pack checks NETWORKS only where it is granted (policies/quota.py check_networks): so does the review.
    if NETWORKS in global_:
        keys.add(("global", NETWORKS))
    out = []
    for region, metric in sorted(keys):
        granted = (global_ if region == "global" else regional.get(region, {})).get(metric)
        if metric == NETWORKS:
            out.append(Quota(_scope(region, metric, where, stack), region, metric, "networks", networks,
                             granted, 0, ()))
            continue
        u = usage.get((region, metric))
        rows = u.rows if u is not None else []
        unit = u.unit if u is not None else ("vCPUs" if metric.startswith("L-") else "GPUs")
        out.append(Quota(_scope(region, metric, where, stack), region, metric, unit,
                         u.requested if u is not None else 0, None if granted is None else int(granted),
                         sum(r.max_gpus for r in rows), tuple(pool_path(r) for r in rows)))
    return out


def stack_quotas(plan: Plan) -> list[Quota]:
    """The plan's quotas; grants from its policy block (none without the pack)."""
    views = plan_views(plan)
    networks = sum(1 for v in views if v.type == GCP_NETWORK)
    return quotas(plan.capacity, networks, settings(plan.policy, "gpu-quota"), scopes(views), plan.stack)


def base_quotas(base: Mapping[str, Any], grants_if_unknown: Mapping[str, Any] | None = None) -> list[Quota] | None:
    """The base plan's quotas, recomputed from its capacity rows and grants; None if it is no readable plan.

    A base planned without the pack carries no grants: `grants_if_unknown` (this plan's) then decide where its spot
    pools count, so that an unchanged pool never reads as moved between metrics.
    """
    rows = base_rows(base)
    if rows is None:
        return None
    resources = [r for r in base.get("resources") or [] if isinstance(r, Mapping)]
    networks = sum(1 for r in resources if r.get("type") == GCP_NETWORK)
    grants = settings(base.get("policy"), "gpu-quota")
    return quotas(rows, networks, grants if grants is not None else grants_if_unknown, scopes(resources),
                  str(base.get("stack")))


def grant_text(q: Quota) -> str:
    """The grant as the tables show it: `1,024`, or `none`."""
    return "none" if q.granted is None else f"{q.granted:,}"


def _used(q: Quota) -> str:
    if q.unit.startswith("vCPUs"):
        return f"{q.used:,} vCPUs ({q.gpus} GPUs)"
    return f"{q.used:,} {q.unit}"


def _headroom(q: Quota) -> str:
    text = f"{q.headroom:,}" if q.headroom >= 0 else f"{q.headroom:,} (over)"
    if q.unit.startswith("vCPUs") and q.used and q.headroom > 0:
        # The GPUs the headroom means at this stack's instance mix (vCPUs per GPU of the pools counted).
        text += f" (~{q.headroom * q.gpus // q.used} GPUs)"
    return text


def _status(q: Quota) -> str:
    if q.used > int(q.granted or 0):
        return "over"
    return "near" if q.share >= NEAR else "ok"


def _notes(plan: Plan, base: Mapping[str, Any] | None, *, base_known: bool) -> list[str]:
    """Why a grant reads as none, or its change as unknown."""
    if plan.policy is None:
        return ["Planned without the policy pack: no grants are known, every quota reads as none granted."]
    if base is not None and not base_known:
        return ["The base plan carries no policy settings (planned with --no-policy, or by an older gpu-fleet): "
                "whether this PR changed a grant is unknown."]
    return []


def _headline(now: list[Quota]) -> str | None:
    """The quotas over their grant, by name, then how many are near it."""
    over = [q for q in now if _status(q) == "over"]
    near = [q for q in now if _status(q) == "near"]
    parts = [f"{q.region} {q.metric} {q.used:,} of {grant_text(q)} granted ({-q.headroom:,} over)" for q in over]
    if near:
        parts.append(f"{len(near)} quota{'' if len(near) == 1 else 's'} at {NEAR:.0%} or more")
    return "; ".join(parts) or None


def section(plan: Plan, base: Mapping[str, Any] | None) -> Section:
    """Quota headroom per region and metric, its change in this PR, and whether this PR changed the grant."""
    now = stack_quotas(plan)
    grants = settings(plan.policy, "gpu-quota")
    before = {(q.region, q.metric): q for q in (base_quotas(base, grants) or [])} if base is not None else {}
    base_known = base is not None and settings(base.get("policy"), "gpu-quota") is not None
    rows: list[tuple[str, ...]] = []
    data: list[dict[str, Any]] = []
    changed = False
    for q in now:
        old = before.get((q.region, q.metric))
        delta = q.used - (old.used if old is not None else 0)
        grant_changed = base_known and (old.granted != q.granted if old is not None else q.granted is not None)
        changed = changed or bool(delta) or bool(grant_changed)
        granted = grant_text(q)
        if grant_changed:
            granted = f"{grant_text(old) if old else 'none'} → {grant_text(q)} (changed in this PR)"
        rows.append((q.region, q.metric, _used(q), granted, _headroom(q), _status(q),
                     "" if base is None else f"{delta:+,}"))
        data.append({**q.to_dict(), "status": _status(q), "change": None if base is None else delta,
                     "granted_before": None if not base_known or old is None else old.granted,
                     "grant_changed": bool(grant_changed) if base_known else None})
    return Section(key="quota", title="Quota headroom", headline=_headline(now), changed=changed,
                   mandatory=any(_status(q) == "over" for q in now),
                   columns=("region", "metric", "used at ceiling", "granted", "headroom", "status", "change"),
                   rows=rows, notes=_notes(plan, base, base_known=base_known),
                   data={"scopes": scopes(plan_views(plan)), "quotas": data})
