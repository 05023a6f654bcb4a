"""Command-line usage errors as one line, like every other input error: what is wrong, the likely fix, the --help.

argparse prints a usage block and `prog: error: message` and exits 2 through SystemExit. gpu-fleet's parser, and
every subparser (argparse builds them from the parser's own class), raises UsageError instead: one `Issue` naming the
command, the argument and a hint (the nearest flag or command by `difflib`, and which `--help` to read). The CLI
prints it as `error: ...` and exits 2 before anything is read or any connection is made.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from components.config.errors import Issue

# argparse's messages (CPython 3.11 to 3.13 Lib/argparse.py, the `_()` strings): the error text is all `error()`
# receives, so the kind of mistake is read back from it.
_REQUIRED = re.compile(r"^the following arguments are required: (?P<names>.+)$")
_CHOICE = re.compile(r"^argument (?P<arg>.+?): invalid choice: (?P<value>.+?) \(choose from .*\)$")
_AMBIGUOUS = re.compile(r"^ambiguous option: (?P<option>[^=\s]+)(=\S*)? could match (?P<matches>.+)$")
_NEEDS_VALUE = re.compile(r"^argument (?P<arg>.+?): expected (one|at least one|at most one) argument$")
_ARGUMENT = re.compile(r"^argument (?P<arg>.+?): (?P<what>.+)$")


def _issue(path: str, message: str, value: Any = None, hint: str = "") -> Issue:
    """The config layer's Issue, imported only when there is one: the config model is not for `--help`."""
    from components.config.errors import Issue

    return Issue(path, message, value, hint)


class UsageError(Exception):
    """The command line cannot run; `issue` is the one line to print."""

    def __init__(self, issue: Issue, *, parser: argparse.ArgumentParser | None = None,
                 missing: Sequence[str] = ()) -> None:
        self.issue = issue
        self.parser = parser
        """The (sub)command's parser that refused the command line."""
        self.missing = list(missing)
        """The required options that were not given."""
        super().__init__(str(issue))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are UsageErrors (one line with a hint), never a usage block and SystemExit."""

    def error(self, message: str) -> NoReturn:
        found = _REQUIRED.match(message)
        missing = [n.strip() for n in found["names"].split(", ")] if found else []
        raise UsageError(explain(self, message), parser=self, missing=[n for n in missing if n.startswith("-")])


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse `argv`; an argument no parser knows is blamed on the (sub)command it was given to."""
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extras = parser.parse_known_args(given)
    except UsageError as exc:
        # argparse checks required options before it reports unknown ones: `--pol` for `--pool` is the typo,
        # not a missing --pool.
        raise _misspelt(exc, given) or exc from None
    if extras:
        raise UsageError(unrecognized(leaf(parser, args), extras, parser))
    return args


def _misspelt(exc: UsageError, given: list[str]) -> UsageError | None:
    """A missing required option given under a misspelt name, as that misspelling."""
    if exc.parser is None or not exc.missing:
        return None
    for arg in given:
        option = arg.partition("=")[0]
        if not option.startswith("--") or option in exc.parser._option_string_actions:
            continue
        close = _nearest(option, exc.missing)
        if close:
            return UsageError(_issue(exc.parser.prog, "no such option", option,
                                    _hint(exc.parser, f"did you mean {close}?")), parser=exc.parser)
    return None


def _nearest(option: str, options: Sequence[str]) -> str | None:
    """The flag `option` likely meant; compared without the dashes, which every flag shares."""
    bare = {o.lstrip("-"): o for o in options}
    close = difflib.get_close_matches(option.lstrip("-"), list(bare), n=1, cutoff=0.6)
    return bare[close[0]] if close else None


def leaf(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The subcommand's parser that `args` was parsed by (`gpu-fleet openshift discover`'s, not `gpu-fleet`'s)."""
    while (sub := _subcommands(parser)) is not None:
        chosen = getattr(args, sub.dest, None)
        if chosen not in sub.choices:
            break
        parser = sub.choices[chosen]
    return parser


def explain(parser: argparse.ArgumentParser, message: str) -> Issue:
    """The error message argparse gives, as an Issue with a hint."""
    if found := _REQUIRED.match(message):
        return _missing(parser, [n.strip() for n in found["names"].split(", ")])
    if found := _CHOICE.match(message):
        return _unknown_command(parser, _unquote(found["value"]))
    if found := _AMBIGUOUS.match(message):
        matches = [m.strip() for m in found["matches"].split(",")]
        return _issue(parser.prog, "ambiguous option", found["option"],
                     _hint(parser, f"spell it out: {' or '.join(matches)}"))
    if found := _NEEDS_VALUE.match(message):
        action = _action(parser, found["arg"])
        return _issue(parser.prog, f"{found['arg']} needs a value", None, _hint(parser, _usage(parser, action)))
    if found := _ARGUMENT.match(message):
        action = _action(parser, found["arg"])
        return _issue(parser.prog, f"{found['arg']}: {found['what']}", None, _hint(parser, _help(parser, action)))
    return _issue(parser.prog, " ".join(message.split()), None, _hint(parser, ""))


def unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str],
                 root: argparse.ArgumentParser) -> Issue:
    """The first argument `parser` does not take: the flag it likely meant, or whose flag it is."""
    options = [e for e in extras if e.startswith("-") and e != "-"]
    if not options:
        positionals = [str(a.metavar or a.dest).upper() for a in parser._actions if not a.option_strings]
        takes = f"one {positionals[0]}" if len(positionals) == 1 else \
            (" and ".join(positionals) or "no positional argument")
        return _issue(parser.prog, "unexpected argument", extras[0], _hint(parser, f"`{parser.prog}` takes {takes}"))
    option = options[0].partition("=")[0]
    own = [o for o in parser._option_string_actions if o.startswith("--") and o != "--help"]
    close = _nearest(option, own)
    if close:
        hint = f"did you mean {close}?"
    else:
        elsewhere = [p.prog for _, p in commands(root) if option in p._option_string_actions and p is not parser]
        hint = f"{option} is an option of `{'`, `'.join(elsewhere)}`" if elsewhere else \
            f"its options: {', '.join(own)}"
    return _issue(parser.prog, "no such option", option, _hint(parser, hint))


def commands(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every runnable command under `parser` as ("openshift discover", its parser)."""
    sub = _subcommands(parser)
    if sub is None:
        yield path, parser
        return
    for name, child in sub.choices.items():
        yield from commands(child, f"{path} {name}".strip())


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The parser's subcommands action (argparse keeps it private), or None for a command that runs."""
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return found[0] if found else None


def _missing(parser: argparse.ArgumentParser, names: list[str]) -> Issue:
    """`the following arguments are required`: what each missing argument is, from its own help."""
    sub = _subcommands(parser)
    if sub is not None and sub.dest in names:
        choices = ", ".join(f"`{parser.prog} {c}`" for c in sub.choices)
        return _issue(parser.prog, "a command is missing", None, _hint(parser, f"one of {choices}"))
    said = " and ".join(n if n.startswith("-") else f"the {n.lower()} argument" for n in names)
    hints = "; ".join(_usage(parser, _action(parser, n)) for n in names)
    return _issue(parser.prog, f"{said} {'is' if len(names) == 1 else 'are'} missing", None, _hint(parser, hints))


def _unknown_command(parser: argparse.ArgumentParser, value: str) -> Issue:
    """A misspelt subcommand: the nearest one by name, whether it is right here or one level down."""
    sub = _subcommands(parser)
    here = list(sub.choices) if sub is not None else []
    nested = {path: path for path, _ in commands(parser) if " " in path}
    nested.update({path.rsplit(" ", 1)[1]: path for path in list(nested)})
    close = difflib.get_close_matches(value, here, n=1, cutoff=0.6) or \
        [nested[m] for m in difflib.get_close_matches(value, list(nested), n=1, cutoff=0.6)]
    hint = f"did you mean `{parser.prog} {close[0]}`?" if close else f"the commands: {', '.join(here)}"
    return _issue(parser.prog, "no such command", value, _hint(parser, hint))


def _action(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    """The argument argparse calls `name` in its messages: `--pool`, `--timeout`, `stack`, `STACK`."""
    for action in parser._actions:
        if name in ("/".join(action.option_strings), action.metavar, action.dest) or name in action.option_strings:
            return action
    return None


def _usage(parser: argparse.ArgumentParser, action: argparse.Action | None) -> str:
    """`pass --pool POOL (its help)`: how to give the argument, and what it is."""
    if action is None:
        return ""
    if not action.option_strings:
        return f"pass {str(action.metavar or action.dest).upper()} ({_help(parser, action)})"
    return f"pass {action.option_strings[-1]} {action.metavar or str(action.dest).upper()} ({_help(parser, action)})"


def _help(parser: argparse.ArgumentParser, action: argparse.Action | None) -> str:
    """The argument's help with `%(default)s` filled in, as `--help` shows it."""
    if action is None or not action.help:
        return "see its help"
    try:
        return str(action.help) % {**vars(action), "prog": parser.prog}
    except (KeyError, TypeError, ValueError):
        return str(action.help)


def _hint(parser: argparse.ArgumentParser, text: str) -> str:
    """The hint, then the `--help` to read."""
    see = f"see `{parser.prog} --help`"
    if not text:
        return see
    return f"{text} {see}" if text.endswith("?") else f"{text}; {see}"


def _unquote(text: str) -> str:
    """The value as typed: argparse quotes it with repr()."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text
