"""Quotas shared across stacks: a quota belongs to the GCP project or AWS account, not to one stack.

Every stack planning into a project or account counts: `--with OTHER.json` sums their use for one stack's comment,
`plan --all` judges each stack's grant against all of them at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gpufleet.headroom.quota import NEAR, Quota, base_quotas, grant_text, stack_quotas
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report import Plan

Shared = list[tuple[Quota, list[tuple[str, Quota]]]]
"""Each of a stack's quotas that other stacks share, with (stack, its use of the quota) for each of them."""


def shared_quotas(plan: Plan, others: Sequence[Mapping[str, Any]]) -> Shared:
    """Each of this stack's quotas whose project or account other stacks share, with their use of it."""
    return _shared(stack_quotas(plan), plan.stack, others)


def _shared(mine: list[Quota], stack: str, others: Sequence[Mapping[str, Any]]) -> Shared:
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
        rows.append((q.scope, q.region, q.metric, " + ".join(stacks), f"{total:,}", grant_text(q), status))
        data.append({"scope": q.scope, "region": q.region, "metric": q.metric, "total": total,
                     "granted": q.granted, "status": status,
                     "stacks": {plan.stack: q.used, **{s: o.used for s, o in same}}})
        if status == "over":
            over.append(f"{q.scope} {q.region} {q.metric}: {total:,} {q.unit} across stacks "
                        f"({', '.join(stacks)}), granted {grant_text(q)}")
    return Section(key="shared_quota", title="Quotas shared with other stacks",
                   headline="; ".join(over) or None, changed=bool(over), mandatory=bool(over),
                   columns=("project or account", "region", "metric", "per stack", "total", "granted", "status"),
                   rows=rows, notes=["A quota belongs to the project or account, not to the stack: every stack "
                                     "planning into it counts."], data=data)


def shared_over(plan: Plan, others: Sequence[Mapping[str, Any]]) -> bool:
    """True when some quota shared with other stacks is exceeded by all of them together."""
    return bool(_over(shared_quotas(plan, others)))


def _over(found: Shared) -> list[str]:
    return [f"{q.scope} {q.region} {q.metric}: {q.used + sum(o.used for _, o in same):,} {q.unit} across stacks, "
            f"granted {grant_text(q)}"
            for q, same in found if q.used + sum(o.used for _, o in same) > int(q.granted or 0)]


def shared_findings(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Over plan JSONs of several stacks: each shared quota they exceed together, judged against each stack's grant."""
    out = []
    for doc in docs:
        mine = base_quotas(doc) or []
        others = [d for d in docs if d is not doc]
        out += [f"{doc.get('stack')}: {line}" for line in _over(_shared(mine, str(doc.get("stack")), others))]
    return out
