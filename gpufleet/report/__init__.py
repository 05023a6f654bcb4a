"""The offline plan as data (`Plan`, its JSON document) and its report: one function per section, two layouts.

One module per concern, from the bottom up: `formatting` (`$`, %, "new" on every delta); the sections, each a
function of the plan and the target branch's plan JSON returning a `Section` (gpufleet/sections.py): `capacity`
(regions, pools, cost, fabric), `limits` (budget, quota, where else, shared quotas, over gpufleet/headroom/),
`monitoring` (alerts and receivers per cluster, EKS pins), `verdict` (live preview, violations, waivers, the pack),
`inventory` (resource changes, prices, images, dashboards and budgets); `comment` (the verdict header, `SECTIONS`
in their one order, the pull-request comment); `terminal` (the same header and sections as tables); `plan` (the
`Plan` and its JSON, which stores each section's data). `markdown` and `render` lay out the same `sections()` with
gpufleet/layout.py and compute nothing a section does not. This package is their one face: every name below is
importable as `gpufleet.report.NAME`, as it was from the single module.
"""

from __future__ import annotations

from gpufleet.base_plan import base_rows, resource_counts
from gpufleet.report.capacity import (
    RegionGpu,
    by_region,
    cost_section,
    fabric_section,
    pool_changes,
    pool_changes_section,
    pools_section,
    region_changes_section,
    regions_section,
    subscription_note,
)
from gpufleet.report.comment import SECTIONS, SectionFn, header, markdown, sections
from gpufleet.report.formatting import Row, delta_count, delta_usd, inline
from gpufleet.report.inventory import changes_of, images_of, prices_of, resource_dicts, watches_section
from gpufleet.report.limits import budget_of, quota_of, quota_table_of, shared_of, where_else_of
from gpufleet.report.monitoring import (
    EKS_VERSIONED,
    eks_versions,
    eks_versions_section,
    monitoring,
    monitoring_section,
    monitoring_warnings,
)
from gpufleet.report.plan import Plan
from gpufleet.report.terminal import render, resources_table
from gpufleet.report.verdict import (
    ROOT,
    existing_violations_section,
    live_of,
    policy_section,
    relative,
    violations_section,
    waivers_of,
)

_resource_dicts = resource_dicts
"""The name tests/capacity/test_budgets.py imports (it was private in the single module)."""

__all__ = [
    "EKS_VERSIONED",
    "ROOT",
    "SECTIONS",
    "Plan",
    "RegionGpu",
    "Row",
    "SectionFn",
    "base_rows",
    "budget_of",
    "by_region",
    "changes_of",
    "cost_section",
    "delta_count",
    "delta_usd",
    "eks_versions",
    "eks_versions_section",
    "existing_violations_section",
    "fabric_section",
    "header",
    "images_of",
    "inline",
    "live_of",
    "markdown",
    "monitoring",
    "monitoring_section",
    "monitoring_warnings",
    "policy_section",
    "pool_changes",
    "pool_changes_section",
    "pools_section",
    "prices_of",
    "quota_of",
    "quota_table_of",
    "region_changes_section",
    "regions_section",
    "relative",
    "render",
    "resource_counts",
    "resource_dicts",
    "resources_table",
    "sections",
    "shared_of",
    "subscription_note",
    "violations_section",
    "waivers_of",
    "watches_section",
    "where_else_of",
]
