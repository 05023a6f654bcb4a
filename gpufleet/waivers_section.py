"""The report's "Waivers" section: violations a waiver accepts until its expiry, and waivers that match nothing.

The pack decides (policies/waivers.py); this only presents what its `policy-waivers` policy reported, which the
policy gate keeps apart from the violations (`PolicyResult.waivers`, the plan JSON's `policy.waivers`).
"""

from __future__ import annotations

from typing import Any

from gpufleet.sections import Section


def section(policy: dict[str, Any] | None, base_policy: dict[str, Any] | None = None) -> Section | None:
    """None when the plan ran without the pack or no stack waiver exists."""
    records = list((policy or {}).get("waivers") or [])
    if not records:
        return None
    old = {r.get("message") for r in (base_policy or {}).get("waivers") or []}
    waived = [r for r in records if r["state"] == "waived"]
    unused = [r for r in records if r["state"] == "unused"]
    parts = [f"{len(waived)} violation{'s' if len(waived) != 1 else ''} waived"] if waived else []
    if unused:
        parts.append(f"{len(unused)} waiver{'s' if len(unused) != 1 else ''} matching nothing")
    return Section(
        key="waivers", title="Waivers",
        headline=", ".join(parts),
        changed=any(r["message"] not in old for r in records) or base_policy is None,
        columns=("state", "what"),
        rows=[(r["state"], r["message"]) for r in waived + unused],
        data=records,
    )
