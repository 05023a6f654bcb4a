"""The verdict's sections: the live preview, new, fixed and existing violations, waivers, and the pack that judged.

Violations are classified against the target branch's plan by gpufleet/violations.py; these only say what it found.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpufleet import violations, waivers_section
from gpufleet.report.formatting import Row, plural
from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
"""The repository: paths in the report are relative to it."""


def live_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """The live preview (`gpu-fleet preview --json`, given to the plan by `--live`), open right after the verdict.

    Its agreement with the offline verdict, steps per type, drained GPU pools and live violations come from
    gpufleet/live_preview.py's own section; without a preview (`--live-skipped WHY`: a fork, no credentials) one
    line says why, so a reviewer never reads a missing live preview as a clean one.
    """
    doc, skipped = plan.extra.get("live"), plan.extra.get("live_skipped")
    if isinstance(doc, dict):
        from gpufleet import live_preview  # the Automation API loads only for a comment that has a live preview

        return replace(live_preview.section(live_preview.load(doc)), changed=True)
    if skipped:
        return Section(key="live-skipped", title="Live preview skipped", headline=str(skipped), changed=True)
    return None


def violations_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """New and fixed violations (all of them without a base): open; mandatory first."""
    found = violations.classify(plan.policy, base)
    if found is None:
        return None
    rank = {"mandatory": 0, "advisory": 1}
    status = "" if found.unknown else "new"
    rows: list[Row] = [(status, str(v["level"]), str(v["policy"]), str(v["message"]))
            for v in sorted(found.new, key=lambda v: rank.get(str(v.get("level")), 2))]
    rows += [("fixed", str(v["level"]), str(v["policy"]), str(v["message"])) for v in found.fixed]
    current = [*found.new, *found.existing]
    return Section(key="violations", title="Violations" if found.unknown else "New and fixed violations",
                   headline=None, changed=bool(rows), columns=("", "level", "policy", "message"), rows=rows,
                   mandatory=any(v.get("level") == "mandatory" for v in current),
                   notes=[found.unknown] if found.unknown and base is not None else [])


def existing_violations_section(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Violations the target branch already has: collapsed, but never cut when mandatory."""
    found = violations.classify(plan.policy, base)
    if found is None or not found.existing:
        return None
    n = violations.counts(found.existing)
    return Section(key="violations-existing", title="Existing violations (unchanged by this pull request)",
                   headline=", ".join(f"{n[k]} {k}" for k in ("mandatory", "advisory") if n[k]),
                   mandatory=bool(n["mandatory"]), columns=("level", "policy", "message"),
                   rows=[(str(v["level"]), str(v["policy"]), str(v["message"])) for v in found.existing])


def waivers_of(plan: Plan, base: dict[str, Any] | None) -> Section | None:
    """Violations waived until their expiry, and waivers that match nothing (gpufleet/waivers_section.py)."""
    return waivers_section.section(plan.policy, (base or {}).get("policy") if base is not None else None)


def relative(path: str | None) -> str | None:
    """A path as the repository names it; a file outside the repository by its name alone."""
    if not path:
        return None
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return f"{p.name} (outside the repository)"


def policy_section(plan: Plan, base: dict[str, Any] | None) -> Section:
    """The pack that gave the verdict, its config file (repository-relative) and each policy's level."""
    if plan.policy is None:
        return Section(key="policy-pack", title="Policy pack",
                       headline="not run (--no-policy): this plan has no verdict")
    config = relative(plan.policy.get("config"))
    policies = plan.policy.get("policies") or []
    headline = (f"`{plan.policy.get('pack')}`, {plural(len(policies), 'policy').replace('policys', 'policies')}, "
                + (f"config {config}" if config else "no policy config for this stack: no GPU quota is granted"))
    return Section(key="policy-pack", title="Policy pack", headline=headline, columns=("policy", "level"),
                   rows=[(str(p.get("name")), str(p.get("enforcement"))) for p in policies],
                   mandatory=not config)
