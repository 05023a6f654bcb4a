"""Lays out report sections: the pull-request comment (GitHub markdown, under its size limit) and the terminal view.

Both take the same `Section`s (gpufleet/sections.py) in the same order; neither computes anything about the plan.
The comment opens what the pull request changes and collapses the rest in `<details>`; when it would pass GitHub's
limit it gives up whole sections' tables, least important first, and says so, so the verdict, the totals and every
mandatory violation always survive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gpufleet.comment_size import COMMENT_BUDGET, COMMENT_LIMIT
from gpufleet.links import StackLinks
from gpufleet.sections import Section

SHORT_MESSAGE = 400
"""A mandatory violation's message is shortened to this many characters only when nothing else is left to cut."""


@dataclass(frozen=True)
class Links:
    """Where the comment's links point: repository-relative, or a commit's files on GitHub."""

    base: str = ""
    """Prefix of repository paths: "" (relative), or `https://github.com/OWNER/REPO/blob/SHA/`."""
    full_report: str | None = None
    """Where the whole report is when the comment is cut (the workflow run), or None."""
    config: StackLinks | None = None
    """The pull request's stack file, whose lines each stack-config key in the comment links to, or None (plain)."""

    def path(self, path: str, anchor: str | None = None) -> str:
        return f"{self.base}{path}" + (f"#{anchor}" if anchor else "")

    def policy(self, name: str) -> str:
        """The policy's entry in the generated policy reference (docs/policies.md, by gpufleet/docs.py)."""
        return self.path("docs/policies.md", name)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Links:
        """Links for the commit GitHub Actions plans (`GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_SHA`).

        Relative links in a comment resolve against the pull request's page, not the repository, so on GitHub
        they must be absolute; outside Actions they stay relative (readable in an editor, or a checkout).
        """
        env = os.environ if env is None else env
        server, repo, sha = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_SHA")
        if not (server and repo and sha):
            return cls()
        run = env.get("GITHUB_RUN_ID")
        return cls(base=f"{server}/{repo}/blob/{sha}/",
                   full_report=f"{server}/{repo}/actions/runs/{run}" if run else None)

    def for_stack(self, stack_file: Path, *, root: Path | None, link_base: str | None = None) -> Links:
        """These links, under `link_base` when one is given (`--link-base`), with `stack_file`'s keys linked."""
        base = f"{link_base.rstrip('/')}/" if link_base else self.base
        return replace(self, base=base, config=StackLinks.read(stack_file, root=root, base=base))


@dataclass(frozen=True)
class Header:
    """The verdict: the comment's first line, the terminal's first and last line, and the summary under it."""

    markdown: str
    """Line 1 of the comment (a heading, already markdown)."""
    text: str
    """The same verdict as plain text, for the terminal."""
    failed: bool
    """True when a mandatory policy fails (styles the terminal line)."""
    summary: list[str] = field(default_factory=list)
    """Plain sentences under the verdict, before any section's (`nothing changes ...`)."""
    footer: list[str] = field(default_factory=list)
    """Plain sentences closing the comment (how to reproduce it)."""


# --- markdown ------------------------------------------------------------------------------------------------------

_CODE = re.compile(r"(`[^`\n]+`)")
_SPECIAL = re.compile(r"([\\*\[\]~|])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def escape(text: str, links: Links | None = None) -> str:
    """Text for a GFM table cell or paragraph: HTML and markdown inert, code spans kept as code, config keys linked.

    `<reservation>` would otherwise be read as an HTML tag and vanish (GFM passes raw HTML through, and GitHub's
    sanitizer drops unknown tags); `|` would end the table cell; `*`, `[`, `~` would start emphasis, links or
    strikethrough. Underscores inside words (`gpu_pools`) cannot start emphasis in GFM and stay as they are. With
    `links.config`, each stack-config key (bare or as a code span) becomes `[`key`](Pulumi.dev.yaml#L12)`: the
    code span keeps its brackets literal, so the link text needs no escaping.
    """
    config = links.config if links is not None else None
    parts = []
    for n, part in enumerate(_CODE.split(" ".join(str(text).split()))):
        if n % 2:
            href = config.whole(part[1:-1]) if config is not None else None
            parts.append(f"[{part}]({href})" if href else part.replace("|", "\\|"))
            continue
        for piece, href in (config.split(part) if config is not None else [(part, None)]):
            parts.append(f"[`{piece}`]({href})" if href else _inert(piece))
    return "".join(parts)


def _inert(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _UNDERSCORE.sub(r"\\_", _SPECIAL.sub(r"\\\1", text))


def _html(text: str) -> str:
    """Text inside raw HTML (`<summary>`), where GFM reads no markdown: entities, and code spans as `<code>`."""
    out = []
    for n, part in enumerate(_CODE.split(" ".join(str(text).split()))):
        part = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out.append(f"<code>{part[1:-1]}</code>" if n % 2 else part)
    return "".join(out)


_NUMERIC = re.compile(r"^(?:[+\-]?\$?[\d,.]+(?: \+ n/a)?(?: \([^)]*\))?(?: nodes| GPUs)?|n/a|new|\d+ → \d+"
                      r"|\d+-\d+ (?:nodes|GPUs))$")
"""A cell that reads as a figure (`$1,234.00`, `+4 (new)`, `0-4 nodes`): its column is right-aligned."""


def _cell(column: str, value: str, links: Links) -> str:
    if column == "policy" and value and not value.startswith("`"):
        return f"[`{value}`]({links.policy(value)})"
    return escape(value, links)


def _table(section: Section, links: Links) -> list[str]:
    if not section.rows:
        return []
    columns = section.columns
    right = [bool(cells) and all(_NUMERIC.match(c) for c in cells if c)
             for cells in ([row[i] for row in section.rows] for i in range(len(columns)))]
    return ["| " + " | ".join(escape(c) or " " for c in columns) + " |",
            "|" + "|".join("---:" if r else "---" for r in right) + "|",
            *("| " + " | ".join(_cell(c, v, links) for c, v in zip(columns, row, strict=False)) + " |"
              for row in section.rows)]


def _body(section: Section, links: Links) -> list[str]:
    lines = _table(section, links)
    notes = [f"- {escape(n, links)}" for n in section.notes]
    return lines + ([""] if lines and notes else []) + notes


def _is_open(section: Section) -> bool:
    return section.changed


def _open(section: Section, links: Links) -> list[str]:
    body = _body(section, links)
    if not body:
        return []
    title = f"**{escape(section.title)}**" + (f" — {escape(section.headline, links)}" if section.headline else "")
    return [title, "", *body, ""]


def _collapsed(section: Section, links: Links) -> list[str]:
    body = _body(section, links)
    summary = _html(section.title) + (f": {_html(section.headline)}" if section.headline else "")
    if not body:  # "none" sections say nothing worth a click; the terminal still prints their headline
        return []
    return [f"<details><summary>{summary}</summary>", "", *body, "", "</details>", ""]


def _grouped(section: Section) -> Section:
    """Advisory rows folded to one row per policy (mandatory rows stay whole): the first cut for violations."""
    if "level" not in section.columns or "policy" not in section.columns:
        return section
    level, policy = section.columns.index("level"), section.columns.index("policy")
    message = section.columns.index("message") if "message" in section.columns else len(section.columns) - 1
    kept: list[tuple[str, ...]] = []
    groups: dict[str, list[tuple[str, ...]]] = {}
    for row in section.rows:
        if row[level] == "advisory":
            groups.setdefault(row[policy], []).append(row)
        else:
            kept.append(row)
    for rows in groups.values():
        first = rows[0][message]
        cells = list(rows[0])
        cells[message] = (f"{len(rows)} violations; the first: " if len(rows) > 1 else "") + _shorten(first, 300)
        kept.append(tuple(cells))
    return replace(section, rows=kept)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _short_messages(section: Section) -> Section:
    if "message" not in section.columns:
        return section
    m = section.columns.index("message")
    return replace(section, rows=[(*r[:m], _shorten(r[m], SHORT_MESSAGE), *r[m + 1:]) for r in section.rows])


def _compose(header: Header, sections: list[Section], notice: str | None, links: Links) -> str:
    lines = [header.markdown, ""]
    summary = [*header.summary,
               *(f"{s.title}: {s.headline}" for s in sections
                 if s.headline and (s.changed or s.mandatory) and s.key != "violations")]
    lines += [f"- {escape(s, links)}" for s in summary] + ([""] if summary else [])
    if notice:
        lines += [f"> [!WARNING]\n> {notice}", ""]
    for s in sections:
        if _is_open(s):
            lines += _open(s, links)
    for s in sections:
        if not _is_open(s):
            lines += _collapsed(s, links)
    lines += [escape(f, links) for f in header.footer]
    return "\n".join(lines).rstrip("\n") + "\n"


def _notice(cut: list[str], links: Links) -> str:
    where = (f"the whole report is in [the workflow run]({links.full_report}) (job summary)"
             if links.full_report else "`gpu-fleet plan STACK --markdown FILE --markdown-limit 0` writes it whole")
    return (f"Cut to fit GitHub's {COMMENT_LIMIT:,}-character comment limit: {'; '.join(cut)}. Nothing mandatory "
            f"was cut; {where}.")


def markdown(header: Header, sections: list[Section], *, links: Links | None = None,
             limit: int | None = COMMENT_BUDGET) -> str:
    """The comment: verdict, summary, open sections, collapsed sections, footer; fitted to `limit` characters."""
    links = links or Links()
    text = _compose(header, sections, None, links)
    if limit is None or len(text) <= limit:
        return text
    current = list(sections)
    cut: list[str] = []

    def attempt(label: str) -> str | None:
        cut.append(label)
        out = _compose(header, current, _notice(cut, links), links)
        return out if len(out) <= limit else None

    for n in reversed(range(len(current))):  # collapsed tables first, from the last
        s = current[n]
        if not _is_open(s) and not s.mandatory and (s.rows or s.notes):
            current[n] = replace(s, rows=[], notes=[], headline=(s.headline or "") + " (table cut)")
            if (done := attempt(f"the {s.title} table")) is not None:
                return done
    for n, s in enumerate(current):  # advisories one row per policy
        grouped = _grouped(s)
        if grouped.rows != s.rows:
            current[n] = grouped
            if (done := attempt(f"{s.title}: advisories grouped by policy")) is not None:
                return done
    for n in reversed(range(len(current))):  # open tables that hold nothing mandatory
        s = current[n]
        if _is_open(s) and not s.mandatory and s.rows:
            current[n] = replace(s, rows=[], notes=[])
            if (done := attempt(f"the {s.title} table (its summary line stays)")) is not None:
                return done
    current = [_short_messages(s) for s in current]
    done = attempt(f"violation messages shortened to {SHORT_MESSAGE} characters")
    return done if done is not None else _compose(header, current, _notice(cut, links), links)


# --- terminal ------------------------------------------------------------------------------------------------------


def _plain(value: str) -> str:
    return value[1:-1] if len(value) > 1 and value.startswith("`") and value.endswith("`") else value


def terminal(header: Header, sections: list[Section], console: Console, *, extra: list[Table] | None = None) -> None:
    """The terminal view: the verdict, every section as a table sized to the console, the verdict again."""
    style = "bold red" if header.failed else "bold green"
    console.print(Text(header.text, style=style))
    for line in header.summary:
        console.print(Text(f"  {line}"))
    for s in sections:
        if s.rows:
            table = Table(title=s.title + (f"\n{s.headline}" if s.headline else ""))
            for column in s.columns:
                numeric = all(_NUMERIC.match(r[len(table.columns)]) for r in s.rows if r[len(table.columns)])
                table.add_column(column, justify="right" if numeric else "left", overflow="fold")
            for row in s.rows:
                table.add_row(*(Text(_plain(c)) for c in row))
            console.print(table)
        elif s.headline:
            console.print(Text(f"{s.title}: {s.headline}"))
        for note in s.notes:
            console.print(Text(note, style="yellow" if note.startswith("warning") else ""))
    for table in extra or []:
        console.print(table)
    console.print(Text(header.text, style=style))
