"""`gpu-fleet plan STACK`: validate the stack file, run the program under mocks, judge it with the pack, report.

The Pulumi SDK, the providers, the config model and the report load here, when a plan runs; the policy gate
(jsonschema, the analyzer client) only when the pack runs, not for `--no-policy`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.capacity import capacity_rows, cost
from components.config import ConfigError
from gpufleet import headroom, layout, offline, report
from gpufleet.commands.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PACK,
    EXIT_POLICY,
    config_errors,
    find_stack_file,
    one_line,
    read_base,
    shown,
    stdout,
    usage_error,
)
from infra import config as infra_config

if TYPE_CHECKING:
    from rich.console import Console

    from gpufleet import policy_gate


def build(stack: str, path: Path) -> report.Plan:
    """Validate the stack file, run the program under mocks and compute capacity and cost."""
    sf = offline.read_stack_file(path, stack)
    unset = offline.unset_secrets(sf)
    parsed = infra_config.parse(sf.project_values(), gcp_project=sf.config.get("gcp:project"), keys=sf.config,
                                secret_keys=sf.secret_keys, placeholders=unset)
    recorded = offline.run_program(stack, sf.config, sf.secret_keys)
    rows = capacity_rows(r.view() for r in recorded)
    return report.Plan(stack=stack, resources=recorded, capacity=rows, cost=cost(rows),
                       extra={"unset_secrets": unset, "unused_secrets": list(parsed.unused_secrets),
                              "today": dt.datetime.now(dt.UTC).date().isoformat()})


def check_policies(plan: report.Plan, pack: Path, config_file: Path | None) -> policy_gate.PolicyResult:
    """Run the pack on the plan's resources and record its verdict in the plan."""
    from gpufleet import policy_gate  # jsonschema and the analyzer client load only when the pack runs

    result = policy_gate.run_pack(pack, config_file, plan.resources, stack=plan.stack,
                                  project=infra_config.PROJECT)
    plan.policy = {**result.to_json(), "config": str(config_file) if config_file is not None else None}
    return result


def run(args: argparse.Namespace, root: Path | None, err: Console, *,
        build_plan: Callable[[str, Path], report.Plan], pack_dir: Callable[[Path | None], Path]) -> int:
    """Plan one stack and write its report; the exit code is the verdict (0, 1), bad input (2) or no verdict (3).

    `build_plan` and `pack_dir` are the CLI's own (`gpufleet.cli`), passed in so a test that replaces them there
    replaces them here.
    """
    path = find_stack_file(args, root, err)
    if path is None:
        return EXIT_CONFIG
    inputs = _inputs(args, err)
    if isinstance(inputs, int):
        return inputs
    base, others, live = inputs
    pack = pack_dir(root)
    policy_config = args.policy_config
    if policy_config is None and (pack / "config" / f"{args.stack}.json").is_file():
        policy_config = pack / "config" / f"{args.stack}.json"
    try:
        plan = build_plan(args.stack, path)
    except ConfigError as exc:
        return config_errors(err, path, exc)
    _secret_warnings(plan, err)
    result, status = (None, EXIT_OK) if args.no_policy else _judge(plan, args.stack, pack, policy_config, err)
    if status:
        return status
    plan.extra.update({"others": others, "stack_file": path, "link_base": args.link_base, "root": root})
    plan.extra.update({"live": live, "live_skipped": args.live_skipped})
    _write(plan, args, base, root=root, path=path)
    if result is not None and result.mandatory_failed:
        return EXIT_POLICY
    if others and headroom.shared_over(plan, others):
        return EXIT_POLICY  # a project-wide quota the stacks exceed together is a finding, as one stack's would be
    return EXIT_OK


def _judge(plan: report.Plan, stack: str, pack: Path, policy_config: Path | None,
           err: Console) -> tuple[policy_gate.PolicyResult | None, int]:
    """The pack's verdict on the plan, or an exit code: 2 for a policy config it refuses, 3 for a pack that fails."""
    from gpufleet import policy_gate  # not for --no-policy: its imports cost a third of a second

    if policy_config is None:
        missing = shown(pack / "config" / f"{stack}.json")
        err.print(f"warning: stack {stack!r} has no policy config ({missing} "
                  "does not exist): the pack runs on its schema defaults, with no GPU quota granted and "
                  "default budgets; hint: create that file (policies/config/dev.json shows the shape), or pass "
                  "--policy-config FILE", style="bold yellow", markup=False)
    try:
        result = check_policies(plan, pack, policy_config)
    except ConfigError as exc:
        return None, config_errors(err, policy_config or pack, exc)
    except policy_gate.PackError as exc:
        err.print(f"error: {one_line(str(exc))}; hint: the plan has no policy verdict; fix the pack (run "
                  "./dev test), or plan with --no-policy", markup=False)
        return None, EXIT_PACK
    return result, EXIT_OK


def _inputs(args: argparse.Namespace,
            err: Console) -> tuple[dict[str, Any] | None, list[dict[str, Any]], dict[str, Any] | None] | int:
    """The `--base`, `--with` and `--live` documents, checked with the output folders before the plan runs.

    Or an exit code (2) for the first that cannot be used.
    """
    base = None
    others, status = _read_others(args, err)
    if status:
        return status
    if args.base is not None:
        try:
            base = read_base(args.base, args.stack)
        except ConfigError as exc:
            return config_errors(err, args.base, exc)
    live, status = _read_live(args.live, err) if args.live is not None else (None, EXIT_OK)
    if status:
        return status
    for flag, out in (("--json", args.json_out), ("--markdown", args.markdown)):
        if out is not None and not out.parent.is_dir():
            err.print(f"error: {flag} {out}: the folder {out.parent} does not exist; hint: create it first, "
                      "or write the file elsewhere", markup=False, soft_wrap=True)
            return EXIT_CONFIG
        if out is not None and out.is_dir():
            err.print(f"error: {flag} {out}: is a folder; hint: name a file in it", markup=False, soft_wrap=True)
            return EXIT_CONFIG
    return base, others, live


def _secret_warnings(plan: report.Plan, err: Console) -> None:
    for key in plan.extra.get("unset_secrets", []):
        err.print(f"warning: {key} is not set: the offline plan plans it as a masked secret, as it does a `secure:` "
                  f"value it cannot decrypt; `pulumi preview` and `pulumi up` refuse until it is set: pulumi config "
                  f"set --secret {key.partition(':')[2]} < <file>", style="bold yellow", markup=False)
    for key in plan.extra.get("unused_secrets", []):
        err.print(f"warning: {infra_config.unused_secret_warning(key)}", style="bold yellow", markup=False)


def _write(plan: report.Plan, args: argparse.Namespace, base: dict[str, Any] | None, *, root: Path | None,
           path: Path) -> None:
    """The terminal report, then the JSON and the review comment where asked for."""
    report.render(plan, stdout(), base, resources=args.resources)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=False) + "\n")
    if args.markdown is not None:
        comment_links = layout.Links.from_env().for_stack(path, root=root, link_base=args.link_base)
        args.markdown.write_text(report.markdown(plan, base, links=comment_links, limit=args.markdown_limit or None))


def _read_live(path: Path, err: Console) -> tuple[dict[str, Any] | None, int]:
    """The `--live` preview JSON, or an exit code (2) for a file `gpu-fleet preview --json` did not write."""
    from gpufleet import live_preview

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        live_preview.load(doc)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        return None, usage_error(err, f"--live {path}: not a live preview JSON "
                                      f"({one_line(str(exc)) or type(exc).__name__}); hint: pass the file "
                                      "`gpu-fleet preview STACK --json FILE` wrote")
    return doc, EXIT_OK


def _read_others(args: argparse.Namespace, err: Console) -> tuple[list[dict[str, Any]], int]:
    """The `--with` plan JSONs (other stacks'), or an exit code for one that is not a plan."""
    others = []
    for path in args.with_plans:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [], usage_error(err, f"--with {path}: not a readable plan JSON; hint: {one_line(str(exc))}")
        if not isinstance(doc, dict) or not isinstance(doc.get("capacity"), list) or "stack" not in doc:
            return [], usage_error(err, f"--with {path}: not a gpu-fleet plan; hint: pass the file `gpu-fleet plan "
                                        "STACK --json FILE` wrote for the other stack")
        others.append(doc)
    return others, EXIT_OK


def run_all(args: argparse.Namespace, root: Path | None, err: Console, *, plan_one: Callable[[list[str]], int]) -> int:
    """Plan every stack file once, then judge the quotas their projects and accounts share: the worst code wins.

    `plan_one` runs one `gpu-fleet plan` command line (the CLI's own entry, without its last line of defence).
    """
    if root is None:
        return usage_error(err, "plan --all: no Pulumi.yaml here or above; hint: run from the gpu-fleet checkout")
    if args.config is not None or args.json_out is not None or args.markdown is not None or args.base is not None:
        return usage_error(err, "plan --all: --config, --json, --markdown and --base name one stack; hint: plan "
                                "that stack alone with --with the others' plan JSONs")
    stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
    worst = EXIT_OK
    with tempfile.TemporaryDirectory() as tmp:
        for stack in stacks:
            flags = ["--json", str(Path(tmp) / f"{stack}.json"), *(["--no-policy"] if args.no_policy else [])]
            worst = max(worst, plan_one(["plan", stack, *flags]))
        if worst >= EXIT_CONFIG:
            return worst
        docs = [json.loads((Path(tmp) / f"{s}.json").read_text(encoding="utf-8")) for s in stacks]
    findings = headroom.shared_findings(docs)
    for line in findings:
        err.print(f"shared quota exceeded: {line}", style="bold red", markup=False, soft_wrap=True)
    return max(worst, EXIT_POLICY if findings else EXIT_OK)
