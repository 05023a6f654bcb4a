"""`gpu-fleet ci runners STACK...`: the `runs-on` labels of the jobs that preview and deploy each stack, as JSON.

Reads and validates each stack's configuration as a plan does, and runs no program: no provider loads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from components.config import ConfigError
from gpufleet import runners
from gpufleet.commands.common import EXIT_CONFIG, EXIT_OK, config_errors, find_stack_file, read_config

if TYPE_CHECKING:
    from rich.console import Console


def run(args: argparse.Namespace, root: Path | None, err: Console) -> int:
    """Print `{stack: labels}`; any invalid stack is exit 2, as a plan of it would be."""
    found: dict[str, list[str]] = {}
    for stack in args.stacks:
        path = find_stack_file(argparse.Namespace(stack=stack, config=None), root, err)
        if path is None:
            return EXIT_CONFIG
        try:
            parsed = read_config(path, stack)
        except ConfigError as exc:
            return config_errors(err, path, exc)
        found[stack] = runners.labels(parsed.fleet, run_id=args.run_id, run_attempt=args.run_attempt)
    sys.stdout.write(json.dumps(found, separators=(",", ":")) + "\n")
    return EXIT_OK
