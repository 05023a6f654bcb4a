"""What every command body shares: exit codes, the error console, and the one-line messages for bad input.

Light on purpose (rich, pydantic and the config model load inside the functions that print or raise), so the
command line is parsed, and `--help` answered, before anything heavy is imported.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from components.config import ConfigError
    from infra.config import StackConfig

EXIT_OK, EXIT_POLICY, EXIT_CONFIG, EXIT_PACK = 0, 1, 2, 3


def stderr() -> Console:
    """The console every error and warning goes to."""
    from rich.console import Console

    # Config keys and values are printed as they are: no markup, no emoji codes (`gpufleet:x:` is not an emoji),
    # and never wrapped: rich wraps at 80 columns when stderr is not a terminal, and CI reads one error a line.
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def stdout() -> Console:
    """The console a command's report goes to."""
    from rich.console import Console

    out = Console(highlight=False, emoji=False)
    if not out.is_terminal:
        out.width = max(out.width, 150)  # tables stay readable when piped (rich assumes 80 columns)
    return out


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def shown(path: Path) -> str:
    """A path under the working folder relative to it, so a CI log never shows the runner's folders."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def config_errors(err: Console, source: Path, exc: ConfigError) -> int:
    err.print(f"error: invalid configuration in {shown(source)} ({exc.count}):", markup=False, soft_wrap=True)
    for issue in exc.issues:
        err.print(f"  {issue}", markup=False, soft_wrap=True)
    return EXIT_CONFIG


def usage_error(err: Console, message: str) -> int:
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return EXIT_CONFIG


def no_project(err: Console) -> int:
    err.print("error: no Pulumi.yaml here or above; run from the gpu-fleet checkout", markup=False)
    return EXIT_CONFIG


def known_stacks(root: Path | None) -> list[str]:
    """The stacks with a Pulumi.STACK.yaml at the project root."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml")) if root else []


def find_stack_file(args: argparse.Namespace, root: Path | None, err: Console) -> Path | None:
    """The stack file to read (`--config`, else Pulumi.STACK.yaml at the project root); None, reported, if missing."""
    if args.config is not None:
        return Path(args.config)
    if root is None:
        err.print("error: no Pulumi.yaml here or above; run from the gpu-fleet checkout, or pass --config FILE")
        return None
    path = root / f"Pulumi.{args.stack}.yaml"
    if not path.is_file():
        stacks = known_stacks(root)
        err.print(f"error: stack {args.stack!r}: {path.name} does not exist; "
                  f"hint: known stacks: {', '.join(stacks) or 'none'}")
        return None
    return path


def read_base(path: Path, stack: str, *, flag: str = "--base") -> dict[str, Any]:
    """The target branch's plan JSON: a plan (stack, capacity) of this same stack, or a ConfigError."""
    from components.config import ConfigError, Issue

    source = f"{flag} {path}"
    try:
        base = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([Issue(source, "not a readable plan JSON", None, one_line(str(exc)))]) from None
    missing = [k for k in ("stack", "capacity") if not isinstance(base, dict) or k not in base]
    if missing or not isinstance(base["capacity"], list):
        what = f"no {', '.join(missing)}" if missing else "capacity is not a list"
        raise ConfigError([Issue(source, f"not a gpu-fleet plan ({what})", None,
                                 "pass the file `gpu-fleet plan STACK --json FILE` wrote on the target branch")])
    if base["stack"] != stack:
        raise ConfigError([Issue(source, f"holds a plan of stack {base['stack']!r}, not {stack!r}", None,
                                 f"pass the target branch's plan of {stack}; a delta across stacks means nothing")])
    return base


def read_config(path: Path, stack: str) -> StackConfig:
    """The stack file's validated configuration (`infra.config.StackConfig`), or a ConfigError."""
    from gpufleet.stack_file import read_stack_file
    from infra import config as infra_config

    sf = read_stack_file(path, stack)
    return infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"), keys=sf.config,
                              secret_keys=sf.secret_keys)
