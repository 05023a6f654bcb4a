"""`gpu-fleet preview STACK`: a real `pulumi preview` with the pack (Automation API), summarised for the comment.

The Automation API loads here, for this command only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pulumi import automation as auto

from components.config import ConfigError
from gpufleet import live_preview
from gpufleet.commands.common import EXIT_CONFIG, EXIT_PACK, config_errors, no_project, read_base

if TYPE_CHECKING:
    from rich.console import Console


def run(args: argparse.Namespace, root: Path | None, err: Console, *, pack_dir: Callable[[Path | None], Path]) -> int:
    """Run the live preview and write its summary; the exit code is its verdict (0, 1) or 3 without one."""
    if root is None:
        return no_project(err)
    try:
        plan = read_base(args.plan, args.stack, flag="--plan") if args.plan is not None else None
        base = read_base(args.base, args.stack) if args.base is not None else None
    except ConfigError as exc:
        return config_errors(err, args.plan or args.base, exc)
    pack = pack_dir(root)
    config = args.policy_config or (pack / "config" / f"{args.stack}.json")
    try:
        events, failure = live_preview.run(args.stack, work_dir=root, pack=pack,
                                           pack_config=config if config.is_file() else None)
    except FileNotFoundError:
        err.print("error: the Pulumi CLI is not on PATH; hint: install it (CI: pulumi/actions), then rerun",
                  markup=False)
        return EXIT_PACK
    except auto.CommandError as exc:
        err.print(f"error: stack {args.stack!r}: {live_preview._cli_failure(exc)}; hint: pulumi login <backend>, "
                  f"then pulumi stack init {args.stack} --secrets-provider <gcpkms://...> (README, Pipelines)",
                  markup=False, soft_wrap=True)
        return EXIT_CONFIG
    preview = live_preview.summarise(args.stack, events, failure, plan, base)
    section = live_preview.section(preview)
    sys.stdout.write(live_preview.markdown(section))
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(preview.to_json(), indent=2) + "\n")
    if args.markdown is not None:
        args.markdown.write_text(live_preview.markdown(section))
    return preview.verdict
