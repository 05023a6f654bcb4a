"""`gpu-fleet fabric-check STACK --pool KEY`: print a 2-node NCCL test of a GPU pool's fabric, ready to apply.

Reads and validates the stack's configuration and builds the manifests from it: no program runs, no provider loads.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from components.config import ConfigError
from gpufleet import fabric_check
from gpufleet.commands.common import EXIT_CONFIG, EXIT_OK, config_errors, read_config

if TYPE_CHECKING:
    from rich.console import Console


def run(stack: str, path: Path, pool: str, err: Console) -> int:
    """Print the pool's fabric check (manifests and steps) to stdout; a bad stack or pool key is exit 2."""
    try:
        parsed = read_config(path, stack)
    except ConfigError as exc:
        return config_errors(err, path, exc)
    try:
        check = fabric_check.build(parsed.fleet, pool, gcp_project=parsed.gcp_project)
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False, soft_wrap=True)
        return EXIT_CONFIG
    sys.stdout.write(check.render())
    return EXIT_OK
