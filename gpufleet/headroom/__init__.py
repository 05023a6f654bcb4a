"""The review's quota headroom and budget burn: what the pack judges, shown on every pull request, not only on failure.

One module per concern: `quota` (every quota at the ceiling against its grant), `budget` (each budget's burn in its
own period), `where_else` (other regions and clouds with room for a tight pool), `shared` (quotas several stacks
plan into). Each uses the pack's own arithmetic, so the comment and the verdict cannot disagree; this package is
their one face, and every name below stays importable as `gpufleet.headroom.NAME`.
"""

from __future__ import annotations

from gpufleet.base_plan import base_rows
from gpufleet.headroom.budget import HOURS_PER_DAY, Burn, budget_section, burn_line, burns, team_ceiling
from gpufleet.headroom.quota import NEAR, Quota, base_quotas, quotas, scopes, section, settings, stack_quotas
from gpufleet.headroom.shared import shared_findings, shared_over, shared_quotas, shared_section
from gpufleet.headroom.where_else import Move, moves, where_else_section

__all__ = [
    "HOURS_PER_DAY",
    "NEAR",
    "Burn",
    "Move",
    "Quota",
    "base_quotas",
    "base_rows",
    "budget_section",
    "burn_line",
    "burns",
    "moves",
    "quotas",
    "scopes",
    "section",
    "settings",
    "shared_findings",
    "shared_over",
    "shared_quotas",
    "shared_section",
    "stack_quotas",
    "team_ceiling",
    "where_else_section",
]
