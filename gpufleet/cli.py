"""`gpu-fleet plan STACK`: the offline plan of a stack, for reviewers without cloud credentials.

`gpu-fleet fabric-check STACK --pool KEY` prints a 2-node NCCL test of a GPU pool's fabric, ready to apply.

`gpu-fleet preview STACK` runs a real `pulumi preview` with the pack (Automation API) and summarises it for the comment.

`gpu-fleet ci runners STACK...` prints, as JSON, the `runs-on` labels of the job that previews and deploys each stack.

`gpu-fleet openshift discover --kubeconfig FILE` reads an OpenShift cluster and prints its `openshift` config block
(its own exit codes: `openshift discover --help`).

Exit codes: 0 the plan holds; 1 a mandatory policy fails; 2 the configuration (or the command line) is invalid;
3 no verdict: the policy pack could not run, or gpu-fleet itself failed unexpectedly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from components.capacity import capacity_rows, cost
from components.config import ConfigError, Issue
from gpufleet import fabric_check, headroom, layout, offline, prices_cli, report, usage
from infra import config as infra_config

if TYPE_CHECKING:
    from gpufleet import policy_gate

EXIT_OK, EXIT_POLICY, EXIT_CONFIG, EXIT_PACK = 0, 1, 2, 3


def project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "Pulumi.yaml"
        if candidate.is_file():
            return folder
    return None


def build_plan(stack: str, stack_file: Path) -> report.Plan:
    """Validate the stack file, run the program under mocks and compute capacity and cost."""
    sf = offline.read_stack_file(stack_file, stack)
    unset = offline.unset_secrets(sf)
    parsed = infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"), keys=sf.config,
                                secret_keys=sf.secret_keys, placeholders=unset)
    recorded = offline.run_program(stack, sf.config, sf.secret_keys)
    rows = capacity_rows(r.view() for r in recorded)
    return report.Plan(stack=stack, resources=recorded, capacity=rows, cost=cost(rows),
                       extra={"unset_secrets": unset, "unused_secrets": list(parsed.unused_secrets),
                              "today": dt.datetime.now(dt.UTC).date().isoformat()})


def pack_dir(root: Path | None) -> Path:
    """The policy pack: the checkout's `policies/`, else the installed package's folder."""
    if root is not None and (root / "policies" / "PulumiPolicy.yaml").is_file():
        return root / "policies"
    import policies

    return Path(policies.__file__).parent


def check_policies(plan: report.Plan, pack: Path, config_file: Path | None) -> policy_gate.PolicyResult:
    from gpufleet import policy_gate  # jsonschema and the analyzer client load only when the pack runs

    result = policy_gate.run_pack(pack, config_file, plan.resources, stack=plan.stack,
                                  project=infra_config.PROJECT)
    plan.policy = {**result.to_json(), "config": str(config_file) if config_file is not None else None}
    return result


def _shown(path: Path) -> str:
    """A path under the working folder relative to it, so a CI log never shows the runner's folders."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _config_errors(err: Console, source: Path, exc: ConfigError) -> int:
    err.print(f"error: invalid configuration in {_shown(source)} ({exc.count}):", markup=False, soft_wrap=True)
    for issue in exc.issues:
        err.print(f"  {issue}", markup=False, soft_wrap=True)
    return EXIT_CONFIG


EXIT_CODES = """exit codes:
  0  the plan holds
  1  a mandatory policy fails (the only code that is a policy verdict)
  2  invalid input: stack file, configuration, policy config, --base, or the command line; one line per
     problem naming the key, the value and a hint
  3  no verdict: the policy pack could not run, or gpu-fleet failed unexpectedly (a bug; one line, and
     GPU_FLEET_DEBUG=1 shows the traceback)"""


def known_stacks(root: Path | None) -> list[str]:
    """The stacks with a Pulumi.STACK.yaml at the project root."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml")) if root else []


def _stack_help(root: Path | None, text: str = "stack name: reads Pulumi.STACK.yaml at the project root") -> str:
    stacks = known_stacks(root)
    return f"{text}; here: {', '.join(stacks)}" if stacks else text


def _parser(root: Path | None = None) -> argparse.ArgumentParser:
    parser = usage.Parser(prog="gpu-fleet", description="GPU platforms on Pulumi: the offline plan of a stack, and "
                          "the helpers around it (each command's --help has its own exit codes).", epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
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
    plan.add_argument("--markdown-limit", type=_at_least_zero, default=layout.COMMENT_BUDGET, metavar="CHARS",
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
    _discover_parser(sub)
    prices_cli.add_parser(sub)
    check = sub.add_parser("fabric-check", help="print a 2-node NCCL test of a GPU pool's fabric (GPUDirect, EFA)",
                           epilog="exit codes: 0 printed; 2 invalid input (the stack, or a --pool that names no GPU "
                                  "pool with a fabric); 3 a gpu-fleet bug")
    check.add_argument("stack", metavar="STACK", help=_stack_help(root))
    check.add_argument("--pool", required=True, metavar="KEY",
                       help="the pool's config key, e.g. gke.regions[us-central1].clusters[ml-1].gpu_pools[h100-prod]")
    check.add_argument("--config", type=_existing_file, metavar="FILE",
                       help="read this stack file instead of Pulumi.STACK.yaml")
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
    _preview_parser(sub)
    return parser


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


def _stderr() -> Console:
    # Config keys and values are printed as they are: no markup, no emoji codes (`gpufleet:x:` is not an emoji),
    # and never wrapped: rich wraps at 80 columns when stderr is not a terminal, and CI reads one error a line.
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Run the command; an exception no check foresaw is exit 3 (no verdict), never 1 (a policy verdict)."""
    try:
        return _main(argv)
    except usage.UsageError as exc:  # the command line, refused before anything is read or connected to
        _stderr().print(f"error: {exc.issue}", markup=False)
        return EXIT_CONFIG
    except Exception as exc:  # the last line of defence: CI must never read a crash as 1
        if os.environ.get("GPU_FLEET_DEBUG"):
            raise
        _stderr().print(f"error: unexpected {type(exc).__name__}: {_one_line(str(exc))}; hint: this is a gpu-fleet "
                        "bug, not your configuration; rerun with GPU_FLEET_DEBUG=1 for the traceback and report it",
                        markup=False)
        return EXIT_PACK


def _read_base(path: Path, stack: str, *, flag: str = "--base") -> dict[str, Any]:
    """The target branch's plan JSON: a plan (stack, capacity) of this same stack, or a ConfigError."""
    source = f"{flag} {path}"
    try:
        base = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError([Issue(source, "not a readable plan JSON", None, _one_line(str(exc)))]) from None
    missing = [k for k in ("stack", "capacity") if not isinstance(base, dict) or k not in base]
    if missing or not isinstance(base["capacity"], list):
        what = f"no {', '.join(missing)}" if missing else "capacity is not a list"
        raise ConfigError([Issue(source, f"not a gpu-fleet plan ({what})", None,
                                 "pass the file `gpu-fleet plan STACK --json FILE` wrote on the target branch")])
    if base["stack"] != stack:
        raise ConfigError([Issue(source, f"holds a plan of stack {base['stack']!r}, not {stack!r}", None,
                                 f"pass the target branch's plan of {stack}; a delta across stacks means nothing")])
    return base


def _main(argv: list[str] | None) -> int:
    root = project_root(Path.cwd())
    parser = _parser(root)
    args = usage.parse(parser, argv)
    if args.command == "plan" and args.stack is None and not args.all:  # optional only for --all
        usage.leaf(parser, args).error("the following arguments are required: STACK")
    err = _stderr()
    out = Console(highlight=False, emoji=False)
    if not out.is_terminal:
        out.width = max(out.width, 150)  # tables stay readable when piped (rich assumes 80 columns)

    if args.command == "openshift":
        from gpufleet import openshift_discover  # the Kubernetes client is only needed here

        try:
            out.print(openshift_discover.run(args.kubeconfig, args.context, args.name, timeout=args.timeout,
                                             chunk_size=args.chunk_size), markup=False, end="", soft_wrap=True)
        except ConfigError as exc:
            # Not "invalid configuration": the cluster or the command line is what could not be used.
            for issue in exc.issues:
                err.print(f"error: openshift discover: {issue}", markup=False, soft_wrap=True)
            return EXIT_CONFIG
        return EXIT_OK

    if args.command == "ci":
        return _ci_runners(args, root, err)
    if args.command == "preview":
        return _live_preview(args, root, err)
    if args.command == "prices":
        if root is None:
            err.print("error: no Pulumi.yaml here or above; run from the gpu-fleet checkout", markup=False)
            return EXIT_CONFIG
        return prices_cli.run(args, root, err, build_plan)
    if args.command == "plan" and args.all:
        return _plan_all(args, root, err)
    found = _stack_file(args, root, err)
    if found is None:
        return EXIT_CONFIG
    stack_file = found
    if args.command == "fabric-check":
        return _fabric_check(args.stack, stack_file, args.pool, err)
    base = None
    others, status = _read_others(args, err)
    if status:
        return status
    if args.base is not None:
        try:
            base = _read_base(args.base, args.stack)
        except ConfigError as exc:
            return _config_errors(err, args.base, exc)

    live, status = _read_live(args.live, err) if args.live is not None else (None, EXIT_OK)
    if status:
        return status

    for flag, path in (("--json", args.json_out), ("--markdown", args.markdown)):
        if path is not None and not path.parent.is_dir():
            err.print(f"error: {flag} {path}: the folder {path.parent} does not exist; hint: create it first, "
                      "or write the file elsewhere", markup=False, soft_wrap=True)
            return EXIT_CONFIG
        if path is not None and path.is_dir():
            err.print(f"error: {flag} {path}: is a folder; hint: name a file in it", markup=False, soft_wrap=True)
            return EXIT_CONFIG

    pack = pack_dir(root)
    policy_config = args.policy_config
    if policy_config is None and (pack / "config" / f"{args.stack}.json").is_file():
        policy_config = pack / "config" / f"{args.stack}.json"

    try:
        plan = build_plan(args.stack, stack_file)
    except ConfigError as exc:
        return _config_errors(err, stack_file, exc)
    for key in plan.extra.get("unset_secrets", []):
        err.print(f"warning: {key} is not set: the offline plan plans it as a masked secret, as it does a `secure:` "
                  f"value it cannot decrypt; `pulumi preview` and `pulumi up` refuse until it is set: pulumi config "
                  f"set --secret {key.partition(':')[2]} < <file>", style="bold yellow", markup=False)
    for key in plan.extra.get("unused_secrets", []):
        err.print(f"warning: {infra_config.unused_secret_warning(key)}", style="bold yellow", markup=False)
    result = None
    if not args.no_policy:
        from gpufleet import policy_gate  # not for --no-policy: its imports cost a third of a second

        if policy_config is None:
            missing = _shown(pack / "config" / f"{args.stack}.json")
            err.print(f"warning: stack {args.stack!r} has no policy config ({missing} "
                      "does not exist): the pack runs on its schema defaults, with no GPU quota granted and "
                      "default budgets; hint: create that file (policies/config/dev.json shows the shape), or pass "
                      "--policy-config FILE", style="bold yellow", markup=False)
        try:
            result = check_policies(plan, pack, policy_config)
        except ConfigError as exc:
            return _config_errors(err, policy_config or pack, exc)
        except policy_gate.PackError as exc:
            err.print(f"error: {_one_line(str(exc))}; hint: the plan has no policy verdict; fix the pack (run "
                      "./dev test), or plan with --no-policy", markup=False)
            return EXIT_PACK

    plan.extra.update({"others": others, "stack_file": stack_file, "link_base": args.link_base, "root": root})
    plan.extra.update({"live": live, "live_skipped": args.live_skipped})
    report.render(plan, out, base, resources=args.resources)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n")
    if args.markdown is not None:
        comment_links = layout.Links.from_env().for_stack(stack_file, root=root, link_base=args.link_base)
        args.markdown.write_text(report.markdown(plan, base, links=comment_links, limit=args.markdown_limit or None))
    if result is not None and result.mandatory_failed:
        return EXIT_POLICY
    if others and headroom.shared_over(plan, others):
        return EXIT_POLICY  # a project-wide quota the stacks exceed together is a finding, as one stack's would be
    return EXIT_OK


def _read_live(path: Path, err: Console) -> tuple[dict[str, Any] | None, int]:
    """The `--live` preview JSON, or an exit code (2) for a file `gpu-fleet preview --json` did not write."""
    from gpufleet import live_preview

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        live_preview.load(doc)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        return None, _usage(err, f"--live {path}: not a live preview JSON ({_one_line(str(exc)) or type(exc).__name__})"
                                 "; hint: pass the file `gpu-fleet preview STACK --json FILE` wrote")
    return doc, EXIT_OK


def _usage(err: Console, message: str) -> int:
    err.print(f"error: {message}", markup=False, soft_wrap=True)
    return EXIT_CONFIG


def _read_others(args: argparse.Namespace, err: Console) -> tuple[list[dict[str, Any]], int]:
    """The `--with` plan JSONs (other stacks'), or an exit code for one that is not a plan."""
    others = []
    for path in args.with_plans:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [], _usage(err, f"--with {path}: not a readable plan JSON; hint: {_one_line(str(exc))}")
        if not isinstance(doc, dict) or not isinstance(doc.get("capacity"), list) or "stack" not in doc:
            return [], _usage(err, f"--with {path}: not a gpu-fleet plan; hint: pass the file `gpu-fleet plan "
                                   "STACK --json FILE` wrote for the other stack")
        others.append(doc)
    return others, EXIT_OK


def _plan_all(args: argparse.Namespace, root: Path | None, err: Console) -> int:
    """Plan every stack file once, then judge the quotas their projects and accounts share: the worst code wins."""
    import tempfile

    if root is None:
        return _usage(err, "plan --all: no Pulumi.yaml here or above; hint: run from the gpu-fleet checkout")
    if args.config is not None or args.json_out is not None or args.markdown is not None or args.base is not None:
        return _usage(err, "plan --all: --config, --json, --markdown and --base name one stack; hint: plan that "
                           "stack alone with --with the others' plan JSONs")
    stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
    worst = EXIT_OK
    with tempfile.TemporaryDirectory() as tmp:
        for stack in stacks:
            flags = ["--json", str(Path(tmp) / f"{stack}.json"), *(["--no-policy"] if args.no_policy else [])]
            worst = max(worst, _main(["plan", stack, *flags]))
        if worst >= EXIT_CONFIG:
            return worst
        docs = [json.loads((Path(tmp) / f"{s}.json").read_text(encoding="utf-8")) for s in stacks]
    findings = headroom.shared_findings(docs)
    for line in findings:
        err.print(f"shared quota exceeded: {line}", style="bold red", markup=False, soft_wrap=True)
    return max(worst, EXIT_POLICY if findings else EXIT_OK)


def _stack_file(args: argparse.Namespace, root: Path | None, err: Console) -> Path | None:
    """The stack file to read (`--config`, else Pulumi.STACK.yaml at the project root); None, reported, if missing."""
    if args.config is not None:
        return Path(args.config)
    if root is None:
        err.print("error: no Pulumi.yaml here or above; run from the gpu-fleet checkout, or pass --config FILE")
        return None
    stack_file = root / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        stacks = known_stacks(root)
        err.print(f"error: stack {args.stack!r}: {stack_file.name} does not exist; "
                  f"hint: known stacks: {', '.join(stacks) or 'none'}")
        return None
    return stack_file


def _ci_runners(args: argparse.Namespace, root: Path | None, err: Console) -> int:
    """Print `{stack: labels}`; any invalid stack is exit 2, as a plan of it would be."""
    from gpufleet import runners

    found: dict[str, list[str]] = {}
    for stack in args.stacks:
        stack_file = _stack_file(argparse.Namespace(stack=stack, config=None), root, err)
        if stack_file is None:
            return EXIT_CONFIG
        try:
            sf = offline.read_stack_file(stack_file, stack)
            parsed = infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"),
                                        keys=sf.config, secret_keys=sf.secret_keys)
        except ConfigError as exc:
            return _config_errors(err, stack_file, exc)
        found[stack] = runners.labels(parsed.fleet, run_id=args.run_id, run_attempt=args.run_attempt)
    sys.stdout.write(json.dumps(found, separators=(",", ":")) + "\n")
    return EXIT_OK


def _live_preview(args: argparse.Namespace, root: Path | None, err: Console) -> int:
    """Run the live preview and write its summary; the exit code is its verdict (0, 1) or 3 without one."""
    from pulumi import automation as auto

    from gpufleet import live_preview

    if root is None:
        err.print("error: no Pulumi.yaml here or above; run from the gpu-fleet checkout", markup=False)
        return EXIT_CONFIG
    try:
        plan = _read_base(args.plan, args.stack, flag="--plan") if args.plan is not None else None
        base = _read_base(args.base, args.stack) if args.base is not None else None
    except ConfigError as exc:
        return _config_errors(err, args.plan or args.base, exc)
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


def _fabric_check(stack: str, stack_file: Path, pool: str, err: Console) -> int:
    """Print the pool's fabric check (manifests and steps) to stdout; a bad stack or pool key is exit 2."""
    try:
        sf = offline.read_stack_file(stack_file, stack)
        parsed = infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"), keys=sf.config,
                                    secret_keys=sf.secret_keys)
    except ConfigError as exc:
        return _config_errors(err, stack_file, exc)
    try:
        check = fabric_check.build(parsed.fleet, pool, gcp_project=parsed.gcp_project)
    except ConfigError as exc:
        for issue in exc.issues:
            err.print(f"error: {issue}", markup=False, soft_wrap=True)
        return EXIT_CONFIG
    sys.stdout.write(check.render())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
