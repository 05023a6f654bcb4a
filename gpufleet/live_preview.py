"""`gpu-fleet preview STACK`: a real `pulumi preview` with the policy pack, through the Automation API, summarised.

The offline plan sees only what the program asks for; a live preview sees the state and the clouds: which
resources it would create, update, replace or delete, and the pack's verdict on the real inputs. This module runs
that preview through `pulumi.automation` (the CLI's engine events, not its text output), counts the steps per type,
calls out GPU pools that would be replaced or deleted with the GPUs they drain (URNs joined to the offline plan's
capacity rows), lists the live policy violations and says whether the live and offline verdicts agree. The result
is a `Section` for the review comment and a JSON document for CI.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from pulumi.automation.events import EngineEvent, OpType

from gpufleet.sections import Section

COUNTED_OPS = (OpType.CREATE, OpType.UPDATE, OpType.REPLACE, OpType.DELETE)
"""The logical steps a reviewer counts. A replacement also emits `create-replacement` and `delete-replaced` steps
for the same URN (pulumi/pulumi pkg/engine/lifecycletest/testdata/output/TestAliasURNs/urn-force-new-0-0-preview/
eventstream.json); counting those too would report one replace three times."""
CLUSTER_TYPES = frozenset({"gcp:container/cluster:Cluster", "aws:eks/cluster:Cluster"})
"""Replacing or deleting a cluster drains every pool in it."""
_COLOR_TAG = re.compile(r"<\{%[^%]*%\}>")
"""The engine's color directives (`<{%reset%}>`, pulumi/pulumi sdk/go/common/util/colors), left in a message unless
the CLI ran with `--color never`."""
_MAX_ERRORS = 3


@dataclass(frozen=True)
class DrainedPool:
    """A GPU pool the live preview would replace or delete (or whose cluster it would)."""

    op: str
    """`replace` or `delete`."""
    urn: str
    """The URN of the step: the pool's own resource, or its cluster's."""
    platform: str
    cluster: str
    region: str
    pool: str
    gpu: str
    """GPU model, as the capacity rows name it (`h100-80gb`)."""
    min_gpus: int
    """GPUs the pool always runs (its floor), all drained."""
    max_gpus: int
    """GPUs at its maximum scale: at most this many are drained."""
    with_cluster: bool = False
    """True when the step is the pool's cluster's, not the pool's own."""


@dataclass
class LivePreview:
    """What a live preview found, as the JSON document `gpu-fleet preview --json` writes."""

    stack: str
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Resource type -> step (create, update, replace, delete) -> count."""
    drained: list[DrainedPool] = field(default_factory=list)
    violations: list[dict[str, str]] = field(default_factory=list)
    """{policy, level, urn, message} per live policy event, as the offline plan's `policy.violations`."""
    errors: list[str] = field(default_factory=list)
    """Error diagnostics of the preview (first few), and the CLI's own failure when it had no policy cause."""
    offline_verdict: int | None = None
    """The offline plan's verdict (0 holds, 1 a mandatory policy fails), None when it ran without the pack."""
    offline_violations: list[dict[str, str]] = field(default_factory=list)
    """The offline plan's `policy.violations`, to name what only one side reports."""
    summary: dict[str, int] = field(default_factory=dict)
    """The engine's own summary event counts (`resourceChanges`), for cross-checking."""

    @property
    def verdict(self) -> int:
        """0 the live preview holds, 1 a mandatory policy fails live, 3 no verdict (the preview itself failed)."""
        if any(v["level"] == "mandatory" for v in self.violations):
            return 1
        return 3 if self.errors else 0

    @property
    def agrees(self) -> bool | None:
        """Whether the live verdict is the offline one; None when either has none."""
        if self.offline_verdict is None or self.verdict == 3:
            return None
        return self.verdict == self.offline_verdict

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "verdict": self.verdict, "offline_verdict": self.offline_verdict,
                "agrees": self.agrees, "changes": self.changes, "summary": self.summary,
                "drained_pools": [asdict(p) for p in self.drained], "violations": self.violations,
                "offline_violations": self.offline_violations, "errors": self.errors}


def load(doc: Mapping[str, Any]) -> LivePreview:
    """A `LivePreview` back from the JSON `to_json` wrote (`gpu-fleet preview --json`).

    The comment's layout takes the live section this way: `section(load(json.loads(path.read_text())))`.
    """
    return LivePreview(stack=str(doc["stack"]), changes={t: dict(ops) for t, ops in doc.get("changes", {}).items()},
                       drained=[DrainedPool(**p) for p in doc.get("drained_pools", [])],
                       violations=list(doc.get("violations", [])), errors=list(doc.get("errors", [])),
                       offline_verdict=doc.get("offline_verdict"),
                       offline_violations=list(doc.get("offline_violations", [])),
                       summary=dict(doc.get("summary", {})))


def run(stack: str, *, work_dir: Path, pack: Path, pack_config: Path | None,
        env: Mapping[str, str] | None = None) -> tuple[list[EngineEvent], str | None]:
    """Run `pulumi preview` of `stack` with the pack in `work_dir`; returns its engine events and the CLI's failure.

    A preview that a mandatory policy fails exits non-zero after reporting every event, so a failure is returned,
    not raised: the events are the verdict. Selecting a stack that does not exist raises `CommandError`.
    """
    workspace = auto.LocalWorkspace(work_dir=str(work_dir), env_vars=dict(env or {}))
    live = auto.Stack.select(stack, workspace)
    events: list[EngineEvent] = []
    try:
        live.preview(on_event=events.append, policy_packs=[str(pack)],
                     policy_pack_configs=[str(pack_config)] if pack_config is not None else None, color="never")
    except auto.CommandError as exc:
        return events, _cli_failure(exc)
    return events, None


def _cli_failure(exc: auto.CommandError) -> str:
    """The CLI's last `error:` line from its stderr (CommandResult's text: code, stdout, then ` stderr: ...`)."""
    stderr = str(exc).partition("\n stderr: ")[2]
    lines = [line[line.index("error:"):].strip() for line in stderr.splitlines() if "error:" in line]
    return _relative(lines[-1]) if lines else "pulumi preview failed"


def summarise(stack: str, events: Iterable[EngineEvent], failure: str | None, plan: Mapping[str, Any] | None,
              base: Mapping[str, Any] | None = None) -> LivePreview:
    """Fold the engine events into a `LivePreview`, joining GPU pools to the plans' capacity rows."""
    events = list(events)
    policy = (plan or {}).get("policy")
    preview = LivePreview(stack=stack, offline_verdict=_offline_verdict(plan),
                          offline_violations=list(policy.get("violations", [])) if isinstance(policy, Mapping) else [])
    steps = _steps(events)
    preview.changes = _changes(steps)
    preview.drained = _drained(steps, plan, base)
    preview.violations = _violations(events)
    preview.errors = _errors(events)
    summary = next((e.summary_event.resource_changes for e in events if e.summary_event), {})
    preview.summary = {str(getattr(op, "value", op)): int(n) for op, n in summary.items()}
    if failure is not None and not preview.errors and not any(v["level"] == "mandatory" for v in preview.violations):
        preview.errors.append(failure)
    return preview


def _steps(events: list[EngineEvent]) -> list[tuple[str, str, str]]:
    """(op, type, urn) of every counted step, once per URN and op."""
    seen: dict[tuple[str, str], str] = {}
    for event in events:
        pre = event.resource_pre_event
        if pre is None or pre.metadata.op not in COUNTED_OPS:
            continue
        seen.setdefault((pre.metadata.op.value, pre.metadata.urn), pre.metadata.type)
    return [(op, typ, urn) for (op, urn), typ in seen.items()]


def _changes(steps: list[tuple[str, str, str]]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for op, typ, _ in steps:
        counts[typ][op] += 1
    return {typ: {op.value: counts[typ][op.value] for op in COUNTED_OPS if counts[typ][op.value]}
            for typ in sorted(counts)}


def _drained(steps: list[tuple[str, str, str]], plan: Mapping[str, Any] | None,
             base: Mapping[str, Any] | None) -> list[DrainedPool]:
    """GPU pools a replace or delete takes down: the base's rows first (what runs today), then the plan's."""
    rows: dict[str, Mapping[str, Any]] = {}
    owners: dict[str, set[str]] = defaultdict(set)
    for doc in (plan, base):  # base last: its rows win
        rows.update({row["source_urn"]: row for row in (doc or {}).get("capacity", [])})
        for resource in (doc or {}).get("resources", []):
            owners[resource["urn"]].update(resource.get("dependencies", []))
            owners[resource["urn"]].add(resource.get("parent", ""))
    found: dict[str, DrainedPool] = {}
    for op, typ, urn in steps:
        if op not in (OpType.REPLACE.value, OpType.DELETE.value):
            continue
        hit = [urn] if urn in rows else [u for u in rows if typ in CLUSTER_TYPES and urn in owners.get(u, ())]
        for source in hit:
            row = rows[source]
            found.setdefault(source, DrainedPool(op=op, urn=urn, platform=row["platform"], cluster=row["cluster"],
                                                 region=row["region"], pool=row["pool"], gpu=row["gpu"],
                                                 min_gpus=int(row["min_gpus"]), max_gpus=int(row["max_gpus"]),
                                                 with_cluster=source != urn))
    return sorted(found.values(), key=lambda p: (p.platform, p.region, p.cluster, p.pool))


def _violations(events: list[EngineEvent]) -> list[dict[str, str]]:
    found = []
    for event in events:
        policy = event.policy_event
        if policy is None:
            continue
        found.append({"policy": policy.policy_name, "level": policy.enforcement_level,
                      "urn": policy.resource_urn or "", "message": _plain(policy.message)})
    return found


def _errors(events: list[EngineEvent]) -> list[str]:
    errors = [_plain(e.diagnostic_event.message) for e in events
              if e.diagnostic_event is not None and e.diagnostic_event.severity == "error"]
    # "preview failed" is the CLI's own closing line after policy failures, not a cause.
    errors = [e for e in errors if e and e != "preview failed"]
    return errors[:_MAX_ERRORS]


def _plain(message: str) -> str:
    return _relative(" ".join(_COLOR_TAG.sub("", message).split()))


def _relative(message: str) -> str:
    """Paths under the checkout (the folder the preview runs from) relative, the home folder as `~`.

    The errors are quoted into the job summary and the PR comment, whose readers need not see the runner's folders
    (a program's traceback names `/home/runner/work/<repo>/<repo>/infra/...`, the CLI its plugin folder).
    """
    for folder, shown in ((Path.cwd(), ""), (Path.home(), "~/")):
        message = message.replace(f"{folder}{os.sep}", shown)
    return message


def _offline_verdict(plan: Mapping[str, Any] | None) -> int | None:
    policy = (plan or {}).get("policy")
    if not isinstance(policy, Mapping):
        return None
    return 1 if any(v.get("level") == "mandatory" for v in policy.get("violations", [])) else 0


def _totals(preview: LivePreview) -> Counter[str]:
    totals: Counter[str] = Counter()
    for ops in preview.changes.values():
        totals.update(ops)
    return totals


VERDICT_WORDS = {0: "holds", 1: "fails (mandatory policy)", 3: "no verdict (the preview failed)"}


def headline(preview: LivePreview) -> str:
    totals = _totals(preview)
    counts = ", ".join(f"{totals[op.value]} to {op.value}" for op in COUNTED_OPS)
    gpus = sum(p.max_gpus for p in preview.drained)
    drained = f"; {len(preview.drained)} GPU pool(s) replaced or deleted, up to {gpus} GPUs drained" \
        if preview.drained else ""
    agreement = {True: "agrees with the offline plan", False: "DISAGREES with the offline plan",
                 None: "no comparison with the offline plan"}[preview.agrees]
    return f"Live preview {VERDICT_WORDS[preview.verdict]}: {counts}{drained}; {agreement}."


def section(preview: LivePreview) -> Section:
    """The live preview as a report section: steps per type, drained pools, violations, agreement."""
    rows = [(typ, *(str(ops.get(op.value, 0)) for op in COUNTED_OPS)) for typ, ops in preview.changes.items()]
    return Section(key="live_preview", title="Live preview (pulumi preview)", headline=headline(preview),
                   changed=bool(preview.changes), mandatory=preview.verdict != 0 or bool(preview.drained),
                   columns=("type", *(op.value for op in COUNTED_OPS)), rows=rows, notes=_notes(preview),
                   data=preview.to_json())


def _notes(preview: LivePreview) -> list[str]:
    notes = [f"GPU pool {p.platform} {p.region}/{p.cluster}/{p.pool} is {p.op}d"
             f"{' with its cluster' if p.with_cluster else ''}: drains {p.min_gpus} to {p.max_gpus} {p.gpu} GPUs "
             "(its floor to its ceiling)" for p in preview.drained]
    notes += [f"{v['level']} {v['policy']}: {v['message']}" for v in preview.violations]
    notes += [f"error: {e}" for e in preview.errors]
    words = {None: "not checked (planned without the pack)", 0: "holds", 1: "fails (mandatory policy)"}
    notes.append(f"Verdicts: live {VERDICT_WORDS[preview.verdict]}, offline {words[preview.offline_verdict]}.")
    live, offline = _policy_names(preview.violations), _policy_names(preview.offline_violations)
    if preview.offline_verdict is not None and live != offline:
        for side, names in (("live preview", live - offline), ("offline plan", offline - live)):
            if names:
                notes.append(f"Only the {side} reports: {', '.join(sorted(names))}.")
    return notes


def _policy_names(violations: Iterable[Mapping[str, str]]) -> set[str]:
    return {f"{v['level']} {v['policy']}" for v in violations}


def markdown(sec: Section) -> str:
    """The section as a comment block (a heading, its headline, the table, its notes), escaped for GitHub."""
    lines = [f"#### {_md(sec.title)}", "", f"**{_md(sec.headline or '')}**", ""]
    if sec.rows:
        lines += ["| " + " | ".join(sec.columns) + " |", "|" + "---|" * len(sec.columns)]
        lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in sec.rows]
        lines.append("")
    lines += [f"- {_md(note)}" for note in sec.notes]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Plain text in GitHub markdown: `<x>` would be swallowed as HTML, `|` would split a table cell."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
