"""`gpu-fleet plan STACK`: the offline plan of a stack, for reviewers without cloud credentials.

`gpu-fleet fabric-check STACK --pool KEY` prints a 2-node NCCL test of a GPU pool's fabric, ready to apply.

`gpu-fleet preview STACK` runs a real `pulumi preview` with the pack (Automation API) and summarises it for the comment.

`gpu-fleet ci runners STACK...` prints, as JSON, the `runs-on` labels of the job that previews and deploys each stack.

`gpu-fleet openshift discover --kubeconfig FILE` reads an OpenShift cluster and prints its `openshift` config block
(its own exit codes: `openshift discover --help`).

Exit codes: 0 the plan holds; 1 a mandatory policy fails; 2 the configuration (or the command line) is invalid;
3 no verdict: the policy pack could not run, or gpu-fleet itself failed unexpectedly.

This module is the command line only: each command's body is its own module in `gpufleet/commands/`, imported when
that command runs, so `--help` and the light commands never load Pulumi, the providers, the config model or the report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpufleet import prices_cli, usage
from gpufleet.commands.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PACK,
    EXIT_POLICY,
    find_stack_file,
    known_stacks,
    no_project,
    one_line,
    stderr,
    stdout,
)
from gpufleet.comment_size import COMMENT_BUDGET

if TYPE_CHECKING:
    from gpufleet import policy_gate, report

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_PACK", "EXIT_POLICY", "build_plan", "check_policies", "known_stacks", "main",
           "pack_dir", "project_root"]


def project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "Pulumi.yaml"
        if candidate.is_file():
            return folder
    return None


def build_plan(stack: str, stack_file: Path) -> report.Plan:
    """Validate the stack file, run the program under mocks and compute capacity and cost."""
    from gpufleet.commands import plan

    return plan.build(stack, stack_file)


def pack_dir(root: Path | None) -> Path:
    """The policy pack: the checkout's `policies/`, else the installed package's folder."""
    if root is not None and (root / "policies" / "PulumiPolicy.yaml").is_file():
        return root / "policies"
    import policies

    return Path(policies.__file__).parent


def check_policies(plan: report.Plan, pack: Path, config_file: Path | None) -> policy_gate.PolicyResult:
    """Run the pack on the plan's resources and record its verdict in the plan (gpufleet.commands.plan)."""
    from gpufleet.commands import plan as plan_command

    return plan_command.check_policies(plan, pack, config_file)


EXIT_CODES = """exit codes:
  0  the plan holds
  1  a mandatory policy fails (the only code that is a policy verdict)
  2  invalid input: stack file, configuration, policy config, --base, or the command line; one line per
     problem naming the key, the value and a hint
  3  no verdict: the policy pack could not run, or gpu-fleet failed unexpectedly (a bug; one line, and
     GPU_FLEET_DEBUG=1 shows the traceback)"""


def _stack_help(root: Path | None, text: str = "stack name: reads Pulumi.STACK.yaml at the project root") -> str:
    stacks = known_stacks(root)
    return f"{text}; here: {', '.join(stacks)}" if stacks else text


def _parser(root: Path | None = None) -> argparse.ArgumentParser:
    """The whole command line, one helper per command (in `--help`'s order); nothing heavy is imported for it."""
    parser = usage.Parser(prog="gpu-fleet", description="GPU platforms on Pulumi: the offline plan of a stack, and "
                          "the helpers around it (each command's --help has its own exit codes).", epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _plan_parser(sub, root)
    _discover_parser(sub)
    prices_cli.add_parser(sub)
    _fabric_check_parser(sub, root)
    _ci_parser(sub, root)
    _preview_parser(sub)
    return parser


def _plan_parser(sub: Any, root: Path | None) -> None:
    """`plan STACK` and its options."""
    plan = sub.add_parser("plan", help="plan a stack offline: resources, GPUs, cost", epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    plan.add_argument("stack", nargs="?", metavar="STACK", help=_stack_help(root))
    plan.add_argument("--config", type=_existing_file, metavar="FILE",
                      help="plan this stack file instead of Pulumi.STACK.yaml")
    plan.add_argument("--json", type=Path, dest="json_out", metavar="FILE", help="write the plan as JSON to this file")
    plan.add_argument("--markdown", type=Path, metavar="FILE", help="write a review comment (markdown) to this file")
    plan.add_argument("--base", type=_existing_file, metavar="FILE",
                      help="a plan JSON of the target branch: the terminal and the comment show the change against it")
    plan.add_argument("--resources", action="store_true",
                      help="also print the registered resources per type (the terminal view)")
    plan.add_argument("--markdown-limit", type=_at_least_zero, default=COMMENT_BUDGET, metavar="CHARS",
                      help="fit the comment in CHARS characters, cutting whole tables, never a mandatory violation "
                           "(default: %(default)s, room under GitHub's 65,536; 0: no limit)")
    plan.add_argument("--with", type=_existing_file, action="append", default=[], dest="with_plans", metavar="FILE",
                      help="another stack's plan JSON: quotas of a GCP project or AWS account both use are summed")
    plan.add_argument("--all", action="store_true",
                      help="plan every Pulumi.*.yaml of the project, each with the others' shared quotas summed")
    plan.add_argument("--link-base", default=os.environ.get("GPU_FLEET_LINK_BASE"), metavar="URL",
                      help="URL prefix of the comment's links to stack-file lines, e.g. "
                           "https://github.com/OWNER/REPO/blob/SHA (default: $GPU_FLEET_LINK_BASE; unset: "
                           "paths relative to the repository)")
    plan.add_argument("--live", type=_existing_file, metavar="FILE",
                      help="the live preview's JSON (`gpu-fleet preview STACK --json FILE`): the comment shows it "
                           "right after the verdict")
    plan.add_argument("--live-skipped", metavar="WHY",
                      help="no live preview ran (a fork, no credentials): the comment says so in one line")
    plan.add_argument("--policy-config", type=_existing_file, metavar="FILE",
                      help="policy pack config (default: policies/config/STACK.json when it exists)")
    plan.add_argument("--no-policy", action="store_true", help="skip the policy pack")


def _fabric_check_parser(sub: Any, root: Path | None) -> None:
    """`fabric-check STACK --pool KEY`."""
    check = sub.add_parser("fabric-check", help="print a 2-node NCCL test of a GPU pool's fabric (GPUDirect, EFA)",
                           epilog="exit codes: 0 printed; 2 invalid input (the stack, or a --pool that names no GPU "
                                  "pool with a fabric); 3 a gpu-fleet bug")
    check.add_argument("stack", metavar="STACK", help=_stack_help(root))
    check.add_argument("--pool", required=True, metavar="KEY",
                       help="the pool's config key, e.g. gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]")
    check.add_argument("--config", type=_existing_file, metavar="FILE",
                       help="read this stack file instead of Pulumi.STACK.yaml")


def _ci_parser(sub: Any, root: Path | None) -> None:
    """`ci runners STACK...`."""
    ci = sub.add_parser("ci", help="helpers for the CI workflows").add_subparsers(dest="action", required=True)
    runners = ci.add_parser(
        "runners", help="print {stack: [runs-on labels]} for the jobs that preview and deploy the stacks",
        description="Reads each stack's eks deploy_from.runner (validated like a plan; a stack without EKS "
                    "clusters runs on ubuntu-latest) and prints one JSON object for a job output.",
        epilog="exit codes: 0 printed; 2 invalid input (a stack file or its configuration); 3 a gpu-fleet bug",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    runners.add_argument("stacks", nargs="+", metavar="STACK",
                         help=_stack_help(root, "stack names: reads Pulumi.STACK.yaml at the project root"))
    runners.add_argument("--run-id", metavar="ID", default=os.environ.get("GITHUB_RUN_ID", ""),
                         help="fills ${{ github.run_id }} in a label (default: $GITHUB_RUN_ID)")
    runners.add_argument("--run-attempt", metavar="N", default=os.environ.get("GITHUB_RUN_ATTEMPT", ""),
                         help="fills ${{ github.run_attempt }} in a label (default: $GITHUB_RUN_ATTEMPT)")


DISCOVER_EXIT_CODES = """exit codes:
  0  the config block is printed
  2  the input or the cluster cannot be used, one line naming what and a hint: a --name that is no gpu-fleet
     name (refused before connecting), a kubeconfig that cannot be read, a cluster that cannot be reached
     (connection refused, DNS, TLS, timeout), a permission the kubeconfig's user lacks (the verb and resource),
     or a cluster that is not self-managed OpenShift on AWS with worker MachineSets
  3  gpu-fleet failed unexpectedly (a bug; GPU_FLEET_DEBUG=1 shows the traceback)"""


def _discover_parser(sub: Any) -> None:
    """`openshift discover` and its options.

    Its defaults are gpufleet.openshift_discover's, not imported here: the Kubernetes client loads only for it.
    """
    openshift = sub.add_parser("openshift", help="OpenShift helpers").add_subparsers(dest="action", required=True)
    discover = openshift.add_parser(
        "discover", help="read a cluster's infrastructure facts and print its openshift config block",
        description="Reads (read-only) the Infrastructure, ClusterVersion, worker MachineSets, the coreos-bootimages "
                    "ConfigMap, ClusterAutoscaler default, the operators' Subscriptions and PackageManifests, and "
                    "prints the `gpu-fleet:openshift` block to paste into a stack file.",
        epilog=DISCOVER_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    discover.add_argument("--kubeconfig", required=True, metavar="FILE",
                          help="the cluster's kubeconfig, of a user who may read the cluster")
    discover.add_argument("--context", metavar="NAME", help="kubeconfig context (default: its current context)")
    discover.add_argument("--name", metavar="NAME",
                          help="the cluster's key in the stack (default: from its infrastructure id)")
    discover.add_argument("--timeout", type=_positive(float), default=30.0, metavar="SECONDS",
                          help="seconds to wait for each API request (default: %(default)s)")
    discover.add_argument("--chunk-size", type=_positive(int), default=500, metavar="N",
                          help="items per list request, as kubectl's --chunk-size (default: %(default)s)")


PREVIEW_EXIT_CODES = """exit codes:
  0  the live preview holds
  1  a mandatory policy fails in the live preview
  2  invalid input: an unknown stack (not initialised in the backend), a --plan/--base that is not a plan of STACK
  3  no live verdict: the Pulumi CLI is missing or the preview failed for another reason (its error is reported)"""


def _preview_parser(sub: Any) -> None:
    """`preview STACK`: the live preview, the review comment's live section."""
    preview = sub.add_parser(
        "preview", help="run `pulumi preview` with the pack and summarise it (needs the CLI and credentials)",
        description="Runs `pulumi preview` of STACK with the policy pack through the Automation API, even when the "
                    "offline plan fails, and summarises its engine events: steps per resource type, GPU pools "
                    "replaced or deleted with the GPUs they drain, the live policy violations, and whether the "
                    "live verdict is the offline plan's.",
        epilog=PREVIEW_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    preview.add_argument("stack", metavar="STACK", help="stack name, as `pulumi stack select` knows it")
    preview.add_argument("--plan", type=_existing_file, metavar="FILE",
                         help="the offline plan JSON of this commit (capacity rows, verdict)")
    preview.add_argument("--base", type=_existing_file, metavar="FILE",
                         help="the target branch's plan JSON (the pools running today)")
    preview.add_argument("--policy-config", type=_existing_file, metavar="FILE",
                         help="policy pack config (default: policies/config/STACK.json when it exists)")
    preview.add_argument("--json", type=Path, dest="json_out", metavar="FILE",
                         help="write the summary as JSON to this file")
    preview.add_argument("--markdown", type=Path, metavar="FILE",
                         help="write the summary as a comment block to this file")


def _existing_file(text: str) -> Path:
    """An input file flag's value: refused at parse time, before the program runs for seconds and then fails."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file (got {text!r})")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"is not a file (got {text!r})")
    return path


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number (got {text!r})") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above 0 (got {text!r})")
        return value

    return parse


def _at_least_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command; an exception no check foresaw is exit 3 (no verdict), never 1 (a policy verdict)."""
    try:
        return _main(argv)
    except usage.UsageError as exc:  # the command line, refused before anything is read or connected to
        stderr().print(f"error: {exc.issue}", markup=False)
        return EXIT_CONFIG
    except Exception as exc:  # the last line of defence: CI must never read a crash as 1
        if os.environ.get("GPU_FLEET_DEBUG"):
            raise
        stderr().print(f"error: unexpected {type(exc).__name__}: {one_line(str(exc))}; hint: this is a gpu-fleet "
                       "bug, not your configuration; rerun with GPU_FLEET_DEBUG=1 for the traceback and report it",
                       markup=False)
        return EXIT_PACK


def _main(argv: list[str] | None) -> int:
    """Parse the command line, then hand it to its command's module (imported only now)."""
    root = project_root(Path.cwd())
    parser = _parser(root)
    args = usage.parse(parser, argv)
    if args.command == "plan" and args.stack is None and not args.all:  # optional only for --all
        usage.leaf(parser, args).error("the following arguments are required: STACK")
    err = stderr()
    if args.command == "openshift":
        from gpufleet.commands import openshift  # the Kubernetes client is only needed here

        return openshift.run(args, stdout(), err)
    if args.command == "ci":
        from gpufleet.commands import ci

        return ci.run(args, root, err)
    if args.command == "preview":
        from gpufleet.commands import preview

        return preview.run(args, root, err, pack_dir=pack_dir)
    if args.command == "prices":
        return prices_cli.run(args, root, err, build_plan) if root is not None else no_project(err)
    if args.command == "fabric-check":
        from gpufleet.commands import fabric

        path = find_stack_file(args, root, err)
        return fabric.run(args.stack, path, args.pool, err) if path is not None else EXIT_CONFIG
    from gpufleet.commands import plan

    if args.all:
        return plan.run_all(args, root, err, plan_one=_main)
    return plan.run(args, root, err, build_plan=build_plan, pack_dir=pack_dir)


if __name__ == "__main__":
    sys.exit(main())
