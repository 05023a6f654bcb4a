"""The review's quota headroom and budget burn: what the pack judges, shown on every pull request, not only on failure.

Quota use is the pack's own arithmetic (`policies.quota.quota_usage`, `check_networks`' network count) and the
budget ceiling the pack's (`policies.budget.ceiling_spend`), so the comment and the verdict cannot disagree. The
grants are the reconciled policy config the plan JSON carries (`policy.settings`, from `gpufleet/policy_gate.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components import catalog
from components.capacity import CapacityRow, PriceBook, ResourceView, capacity_rows, pool_path, stack_prices
from components.capacity.budget import StackBudget, stack_budget, stack_teams
from gpufleet.sections import Section
from policies.demand import GCP_NETWORK, NETWORKS, ceiling_spend, price_book, quota_usage

if TYPE_CHECKING:
    from gpufleet.report import Plan

NEAR = 0.9
"""A quota or budget used at this share or more is "nearly failing": the review looks for somewhere else to go."""
HOURS_PER_DAY = 24
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


def _views(plan: Plan) -> list[ResourceView]:
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
    views = _views(plan)
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


def base_rows(base: Mapping[str, Any]) -> list[CapacityRow] | None:
    """A plan JSON's capacity rows as `CapacityRow`s (tuples restored); None when they cannot be read."""
    known = set(CapacityRow.__dataclass_fields__)
    try:
        rows = []
        for r in base["capacity"]:
            fields = {k: v for k, v in r.items() if k in known}
            for key in ("machine_types", "capacity_types"):
                fields[key] = tuple(fields.get(key) or ())
            rows.append(CapacityRow(**fields))
        return rows
    except (KeyError, TypeError, AttributeError):
        return None


def _grant(q: Quota) -> str:
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
        grant_text = _grant(q)
        if grant_changed:
            grant_text = f"{_grant(old) if old else 'none'} → {_grant(q)} (changed in this PR)"
        rows.append((q.region, q.metric, _used(q), grant_text, _headroom(q), _status(q),
                     "" if base is None else f"{delta:+,}"))
        data.append({**q.to_dict(), "status": _status(q), "change": None if base is None else delta,
                     "granted_before": None if not base_known or old is None else old.granted,
                     "grant_changed": bool(grant_changed) if base_known else None})
    notes = []
    if plan.policy is None:
        notes.append("Planned without the policy pack: no grants are known, every quota reads as none granted.")
    elif base is not None and not base_known:
        notes.append("The base plan carries no policy settings (planned with --no-policy, or by an older gpu-fleet): "
                     "whether this PR changed a grant is unknown.")
    over = [q for q in now if _status(q) == "over"]
    near = [q for q in now if _status(q) == "near"]
    parts = [f"{q.region} {q.metric} {q.used:,} of {_grant(q)} granted ({-q.headroom:,} over)" for q in over]
    if near:
        parts.append(f"{len(near)} quota{'' if len(near) == 1 else 's'} at {NEAR:.0%} or more")
    headline = "; ".join(parts) or None
    return Section(key="quota", title="Quota headroom", headline=headline, changed=changed,
                   mandatory=any(_status(q) == "over" for q in now),
                   columns=("region", "metric", "used at ceiling", "granted", "headroom", "status", "change"),
                   rows=rows, notes=notes, data={"scopes": scopes(_views(plan)), "quotas": data})


@dataclass(frozen=True)
class Burn:
    """One budget at the ceiling: the fleet's daily or monthly budget, or a team's daily budget."""

    name: str
    """`fleet` or the team's name."""
    period: str
    """`daily` or `monthly`: the budget's own period."""
    ceiling: float
    """USD per period with every pool at its maximum (teams: their namespace GPU quota at the dearest pool)."""
    amount: float
    thresholds: tuple[float, ...]

    @property
    def share(self) -> float:
        return self.ceiling / self.amount if self.amount else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "period": self.period, "ceiling_usd": round(self.ceiling, 2),
                "amount_usd": self.amount, "share": round(self.share, 4), "thresholds": list(self.thresholds)}


def _priced_rows(plan: Plan) -> list[CapacityRow]:
    """Capacity priced as the budget policies price it: catalog, stack overrides, then gpu-budget.prices."""
    return capacity_rows(_views(plan), price_book(settings(plan.policy, "gpu-budget") or {}))


def team_ceiling(team: str, resources: Iterable[ResourceView], rows: list[CapacityRow]) -> float:
    """A team's daily ceiling: each of its namespaces' GPU quota at the dearest GPU-hour of that cluster's pools.

    The namespace's ResourceQuota (`requests.nvidia.com/gpu`) caps what the team can hold, so that quota held for a
    day on the most expensive GPUs the cluster offers is the most the team's guard can ever see.
    """
    total = 0.0
    for r in resources:
        if r.type != "kubernetes:core/v1:ResourceQuota" or (r.inputs.get("metadata") or {}).get("namespace") != team:
            continue
        gpus = (r.inputs.get("spec") or {}).get("hard", {}).get("requests.nvidia.com/gpu")
        here = [row for row in rows if r.name.startswith(f"{row.region}-{row.cluster}-")
                and row.hourly_usd_per_node is not None and row.gpus_per_node]
        if gpus is None or not here:
            continue
        dearest = max((row.hourly_usd_per_node or 0.0) / row.gpus_per_node for row in here)
        total += int(str(gpus)) * dearest * HOURS_PER_DAY
    return total


def burns(plan: Plan) -> list[Burn]:
    """The fleet's budgets and each team's, at the ceiling, in their own period."""
    views = _views(plan)
    budget: StackBudget | None = stack_budget(views)
    if budget is None:
        return []
    rows = _priced_rows(plan)
    spend = ceiling_spend(rows)
    out = [Burn("fleet", period, spend[period], amount, tuple(budget.thresholds))
           for period, amount in sorted(budget.amounts.items())]
    out += [Burn(t.name, "daily", team_ceiling(t.name, views, rows), t.daily_usd, t.thresholds)
            for t in stack_teams(views)]
    return out


def _unit(period: str) -> str:
    return "USD/day" if period == "daily" else "USD/month"


def burn_line(b: Burn, before: Mapping[str, Any] | None) -> str:
    """One budget's burn, e.g. `ceiling 46,526 USD/day = 93% of 50,000 USD/day, was 89%, warning at 90% crossed`."""
    text = f"ceiling {b.ceiling:,.0f} {_unit(b.period)} = {_pct(b.share)} of {b.amount:,.0f} {_unit(b.period)}"
    if before is None:
        return text
    was = float(before.get("share") or 0.0)
    if abs(was - b.share) < 0.00005 and float(before.get("amount_usd") or 0) == b.amount:
        return text + ", unchanged"
    text += f", was {_pct(was)}"
    if float(before.get("amount_usd") or 0) != b.amount:
        text += f" of {float(before.get('amount_usd') or 0):,.0f} {_unit(b.period)}"
    up = [t for t in b.thresholds if was < t <= b.share]
    down = [t for t in b.thresholds if b.share < t <= was]
    if b.share > 1 >= was:
        text += ", budget exceeded"
    elif up:
        text += f", warning at {_pct(up[-1])} crossed"
    elif down:
        text += f", back under the {_pct(down[0])} warning"
    return text


def _pct(share: float) -> str:
    """A share as a percentage that never rounds a pass up to 100% (99.94% reads 99.9%)."""
    pct = share * 100
    return f"{pct:.1f}%" if 99 < pct < 100 or pct < 1 else f"{pct:.0f}%"


def _base_burns(base: Mapping[str, Any] | None) -> dict[tuple[str, str], Mapping[str, Any]]:
    block = base.get("budget") if base is not None else None
    items = block.get("budgets") if isinstance(block, Mapping) else None
    return {(str(b.get("name")), str(b.get("period"))): b for b in items or [] if isinstance(b, Mapping)}


def budget_section(plan: Plan, base: Mapping[str, Any] | None) -> Section | None:
    """Each budget at the ceiling in its own period, against the base plan's."""
    found = burns(plan)
    if not found:
        return None
    before = _base_burns(base)
    rows: list[tuple[str, ...]] = []
    lines: list[str] = []
    changed = False
    for b in found:
        old = before.get((b.name, b.period))
        line = burn_line(b, old if base is not None else None)
        changed = changed or (base is not None and not line.endswith("unchanged"))
        key = f"budgets.{b.period}_usd" if b.name == "fleet" else f"budgets.teams[{b.name}]"
        rows.append((b.name, key, line))
        lines.append(f"{b.name}: {line}")
    notes = []
    if base is not None and not before:
        notes.append("The base plan carries no budget section (planned by an older gpu-fleet): no 'was' figures.")
    if any(b.name != "fleet" for b in found):
        notes.append("A team's ceiling is its namespaces' GPU quota held all day on the dearest GPUs of each cluster.")
    fleet = next((line for line in lines if line.startswith("fleet:")), None)
    return Section(key="budget", title="Budget at the ceiling", headline=fleet, changed=changed,
                   mandatory=any(b.share > 1 for b in found if b.name == "fleet"),
                   columns=("budget", "stack-config key", "at the ceiling"), rows=rows, notes=notes,
                   data={"budgets": [b.to_dict() for b in found]})


@dataclass(frozen=True)
class Move:
    """Somewhere else a tight pool's GPUs could go: a region (or the other cloud) with headroom for all of them."""

    pool: str
    """The pool's stack-config key."""
    why: str
    """What is tight: a quota (`us-central1 NVIDIA_H100_MEGA_GPUS 100%`) or the budget."""
    region: str
    machine: str
    headroom_gpus: int
    """GPUs of this model the quota there still allows."""
    usd_per_gpu_hour: float | None
    delta_usd_per_gpu_hour: float | None
    """Price there minus price now, per GPU-hour (negative: cheaper)."""

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "why": self.why, "region": self.region, "machine": self.machine,
                "headroom_gpus": self.headroom_gpus, "usd_per_gpu_hour": self.usd_per_gpu_hour,
                "delta_usd_per_gpu_hour": self.delta_usd_per_gpu_hour}


def _room(by_key: Mapping[tuple[str, str], Quota], region: str, metric: str) -> int:
    q = by_key.get((region, metric))
    return q.headroom if q is not None else 0


def _candidates(row: CapacityRow, by_key: Mapping[tuple[str, str], Quota],
                regions: Mapping[str, set[str]], book: PriceBook) -> Iterable[tuple[str, str, int, float]]:
    """(region, machine, GPUs of headroom, USD per GPU-hour) for the same GPU model elsewhere in the stack.

    In the pool's own cloud, its own machine types in the other regions; in the other cloud, every machine type of
    the same GPU model (an H100 pool on GKE could be a p5 NodePool on EKS).
    """
    preemptible = row.spot or row.capacity in {"spot", "flex-start", "queued"}
    own = set(row.machine_types or (row.machine_type,))
    own_cloud = {m.cloud for n in own if (m := catalog.find_machine_type(n)) is not None}
    for machine in catalog.MACHINE_TYPES:
        if machine.gpu != row.gpu or not machine.gpus or (machine.cloud in own_cloud and machine.name not in own):
            continue
        aws = machine.cloud is catalog.Cloud.AWS
        for region in sorted(regions["aws" if aws else "gcp"] - {row.region}):
            if aws:
                code = catalog.aws_quota(machine, spot=preemptible).code
                room = max(_room(by_key, region, code), 0) // machine.vcpus * machine.gpus
            else:
                metric = catalog.gcp_quota_metric(machine, spot=preemptible)
                if by_key.get((region, metric)) is None:
                    # As quota_usage counts it: where no PREEMPTIBLE_ metric is granted, spot uses the standard one.
                    metric = metric.removeprefix("PREEMPTIBLE_")
                room = _room(by_key, region, metric)
            hourly = book.hourly(machine.name, region, spot=preemptible)
            if room >= row.max_gpus and hourly is not None:
                yield region, machine.name, room, hourly / machine.gpus


def _tight(row: CapacityRow, now: list[Quota], fleet_share: float | None) -> str | None:
    key = pool_path(row)
    for q in now:
        if key in q.pools and q.share >= NEAR:
            return f"{q.region} {q.metric} {_pct(q.share) if math.isfinite(q.share) else 'none granted'}"
    if fleet_share is not None and fleet_share >= NEAR:
        return f"budget {_pct(fleet_share)}"
    return None


def moves(plan: Plan) -> tuple[list[Move], list[str]]:
    """For each pool that fails or nearly fails a quota or the budget: the stack's other regions with headroom.

    Also the keys of the tight pools that have nowhere to go.
    """
    now = stack_quotas(plan)
    by_key = {(q.region, q.metric): q for q in now}
    regions: dict[str, set[str]] = {"gcp": set(), "aws": set()}
    for q in now:
        if q.region != "global":
            regions["aws" if q.metric.startswith("L-") else "gcp"].add(q.region)
    views = _views(plan)
    book = PriceBook({**stack_prices(views).overrides,
                      **price_book(settings(plan.policy, "gpu-budget") or {}).overrides})
    fleet = [b.share for b in burns(plan) if b.name == "fleet"]
    out: list[Move] = []
    stuck: list[str] = []
    for row in _priced_rows(plan):
        why = _tight(row, now, max(fleet) if fleet else None)
        if why is None or not row.gpus_per_node:
            continue
        here = row.hourly_usd_per_node / row.gpus_per_node if row.hourly_usd_per_node is not None else None
        found = sorted(_candidates(row, by_key, regions, book), key=lambda c: (c[3], c[0]))
        if why.startswith("budget") and here is not None:
            found = [c for c in found if c[3] < here]
        if not found:
            stuck.append(pool_path(row))
        for region, machine, room, price in found[:3]:
            delta = None if here is None else round(price - here, 4)
            out.append(Move(pool_path(row), why, region, machine, room, price, delta))
    return out, stuck


def where_else_section(plan: Plan, base: Mapping[str, Any] | None) -> Section | None:
    """Where else a pool that fails or nearly fails a quota or the budget could go, with the price difference.

    None without the pack: with no grants known, every pool would read as failing and nowhere as having room.
    """
    if plan.policy is None:
        return None
    found, stuck = moves(plan)
    if not found and not stuck:
        return None
    rows: list[tuple[str, ...]] = [(m.pool, m.why, f"{m.region} ({m.machine})", f"{m.headroom_gpus:,}",
             "n/a" if m.usd_per_gpu_hour is None else f"${m.usd_per_gpu_hour:,.2f}",
             "n/a" if m.delta_usd_per_gpu_hour is None else f"{m.delta_usd_per_gpu_hour:+,.2f} $/GPU-hour")
            for m in found]
    notes = ["Prices: the catalog, the stack's gpu-fleet:prices, then gpu-budget.prices."]
    if stuck:
        notes.append(f"{len(stuck)} tight pool{'' if len(stuck) == 1 else 's'} with no other region or cloud of "
                     f"the stack that has headroom for all their GPUs: {', '.join(stuck)}.")
    return Section(key="where_else", title="Where else it could go", changed=False,
                   columns=("pool", "tight", "elsewhere", "GPUs of headroom", "$/GPU-hour there", "difference"),
                   rows=rows, notes=notes, data={"moves": [m.to_dict() for m in found], "nowhere": stuck})


def shared_quotas(plan: Plan, others: Sequence[Mapping[str, Any]]) -> list[tuple[Quota, list[tuple[str, Quota]]]]:
    """Each of this stack's quotas whose project or account other stacks share, with their use of it."""
    return _shared(stack_quotas(plan), plan.stack, others)


def _shared(mine: list[Quota], stack: str,
            others: Sequence[Mapping[str, Any]]) -> list[tuple[Quota, list[tuple[str, Quota]]]]:
    theirs: list[tuple[str, Quota]] = []
    for doc in others:
        found = base_quotas(doc)
        if found is not None and str(doc.get("stack")) != stack:
            theirs += [(str(doc.get("stack")), q) for q in found]
    out = []
    for q in mine:
        if q.scope.endswith(")"):  # "(stack x)": no known project or account, so nothing to share
            continue
        same = [(s, o) for s, o in theirs if (o.scope, o.region, o.metric) == (q.scope, q.region, q.metric)]
        if same:
            out.append((q, same))
    return out


def shared_section(plan: Plan, others: Sequence[Mapping[str, Any]]) -> Section | None:
    """Quotas of a GCP project or AWS account several stacks use, summed over all of them against this grant."""
    found = shared_quotas(plan, others)
    if not found:
        return None
    rows: list[tuple[str, ...]] = []
    data, over = [], []
    for q, same in found:
        total = q.used + sum(o.used for _, o in same)
        limit = int(q.granted or 0)
        status = "over" if total > limit else ("near" if limit and total / limit >= NEAR else "ok")
        stacks = [f"{plan.stack} {q.used:,}", *(f"{s} {o.used:,}" for s, o in same)]
        rows.append((q.scope, q.region, q.metric, " + ".join(stacks), f"{total:,}", _grant(q), status))
        data.append({"scope": q.scope, "region": q.region, "metric": q.metric, "total": total,
                     "granted": q.granted, "status": status,
                     "stacks": {plan.stack: q.used, **{s: o.used for s, o in same}}})
        if status == "over":
            over.append(f"{q.scope} {q.region} {q.metric}: {total:,} {q.unit} across stacks "
                        f"({', '.join(stacks)}), granted {_grant(q)}")
    return Section(key="shared_quota", title="Quotas shared with other stacks",
                   headline="; ".join(over) or None, changed=bool(over), mandatory=bool(over),
                   columns=("project or account", "region", "metric", "per stack", "total", "granted", "status"),
                   rows=rows, notes=["A quota belongs to the project or account, not to the stack: every stack "
                                     "planning into it counts."], data=data)


def shared_over(plan: Plan, others: Sequence[Mapping[str, Any]]) -> bool:
    """True when some quota shared with other stacks is exceeded by all of them together."""
    return bool(_over(shared_quotas(plan, others)))


def _over(found: list[tuple[Quota, list[tuple[str, Quota]]]]) -> list[str]:
    return [f"{q.scope} {q.region} {q.metric}: {q.used + sum(o.used for _, o in same):,} {q.unit} across stacks, "
            f"granted {_grant(q)}" for q, same in found if q.used + sum(o.used for _, o in same) > int(q.granted or 0)]


def shared_findings(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Over plan JSONs of several stacks: each shared quota they exceed together, judged against each stack's grant."""
    out = []
    for doc in docs:
        mine = base_quotas(doc) or []
        others = [d for d in docs if d is not doc]
        out += [f"{doc.get('stack')}: {line}" for line in _over(_shared(mine, str(doc.get("stack")), others))]
    return out
