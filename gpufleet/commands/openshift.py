"""`gpu-fleet openshift discover`: read an OpenShift cluster and print its `openshift` config block.

The Kubernetes client loads here, for this command only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from components.config import ConfigError
from gpufleet import openshift_discover
from gpufleet.commands.common import EXIT_CONFIG, EXIT_OK

if TYPE_CHECKING:
    from rich.console import Console


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Print the block to `out`; a cluster or command line that cannot be used is exit 2, one line per issue."""
    try:
        out.print(openshift_discover.run(args.kubeconfig, args.context, args.name, timeout=args.timeout,
                                         chunk_size=args.chunk_size), markup=False, end="", soft_wrap=True)
    except ConfigError as exc:
        # Not "invalid configuration": the cluster or the command line is what could not be used.
        for issue in exc.issues:
            err.print(f"error: openshift discover: {issue}", markup=False, soft_wrap=True)
        return EXIT_CONFIG
    return EXIT_OK
