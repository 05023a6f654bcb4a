"""How the report writes numbers: `$` and % on every delta, "new" instead of a % from zero, counts with their noun.

Every section formats through these, so the terminal, the comment and the headlines read the same figures alike.
"""

from __future__ import annotations

Row = tuple[str, ...]
"""A section's table row, as display strings."""


def plural(n: int, noun: str) -> str:
    """`1 pool`, `3 pools`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def usd(value: float | None) -> str:
    """`$1,234.50`, or `n/a` for no price."""
    return "n/a" if value is None else f"${value:,.2f}"


def usd0(value: float) -> str:
    """`$1,235`, `-$12`: whole dollars, for headlines."""
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def _pct(new: float, old: float) -> str:
    if old == 0:
        return "new" if new else "no change"
    return f"{(new - old) / abs(old) * 100:+.1f}%"


def delta_usd(new: float, old: float, *, cents: bool = True) -> str:
    """`+$67,846.20 (+5.0%)`, `+$12.00 (new)`, `$0.00`: a change of a cost, with its share of the old one."""
    d = new - old
    if abs(d) < 0.005:
        return "$0.00" if cents else "$0"
    money = f"{abs(d):,.2f}" if cents else f"{abs(d):,.0f}"
    return f"{'+' if d > 0 else '-'}${money} ({_pct(new, old)})"


def inline(delta: str) -> str:
    """A delta for running text: `+4, +100.0%` rather than `+4 (+100.0%)`; `no change` rather than `0`."""
    if delta in ("0", "$0", "$0.00"):
        return "no change"
    return delta.replace(" (", ", ").rstrip(")") if delta.endswith(")") else delta


def delta_count(new: int, old: int) -> str:
    """`+16 (+25.0%)`, `+8 (new)`, `0`: a change of a count, with its share of the old one."""
    if new == old:
        return "0"
    return f"{new - old:+d} ({_pct(new, old)})"
