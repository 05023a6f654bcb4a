"""`gpu-fleet prices refresh [STACK...] [--check]`: rewrite the price snapshot, or check the prices the stacks use.

Without `--check` it fetches every snapshot row and every price the stacks use, and writes the snapshot
(`components/catalog/price_snapshot.py`) for review in a pull request; a row no catalog answers for keeps its true
date. With `--check` it writes nothing and exits 1 when a price a stack's plan uses is older than that stack's
`gpu-price-age.max_age_days`, or moved by more than its `max_change_percent` (policies/config/STACK.json).

`--gcp-pricing-yml` / `--aws-vms-csv` read a cloud from a published price file instead of its API
(`gpufleet/prices_files.py`): the documented one-off path when the API is out of reach.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.catalog import prices as catalog_prices
from gpufleet import prices_refresh as refresh

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_DRIFT, EXIT_INPUT, EXIT_NO_VERDICT = 0, 1, 2, 3
EXIT_CODES = """exit codes:
  0  the snapshot is written (or, with --check, every used price is fresh and unmoved)
  1  --check: a price a stack uses is too old or moved too far (one line each)
  2  invalid input: a stack, its configuration, a price-file option or a missing price file, or
     GPU_FLEET_BILLING_API_KEY unset while GCP prices are needed from the API
  3  no verdict: a price catalog could not be read (HTTP error, unreachable, not the documented format)"""


def add_parser(sub: Any) -> None:
    prices = sub.add_parser("prices", help="list prices: refresh the snapshot from the clouds' catalogs")
    refresh_p = prices.add_subparsers(dest="action", required=True).add_parser(
        "refresh", help="rewrite the price snapshot from the Cloud Billing Catalog and the AWS Price List",
        description=__doc__.split("\n\n")[1], epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    refresh_p.add_argument("stacks", nargs="*", metavar="STACK",
                           help="stacks whose used prices to fetch and check (default: every Pulumi.STACK.yaml)")
    refresh_p.add_argument("--check", action="store_true", help="write nothing; exit 1 on a stale or moved price")
    refresh_p.add_argument("--out", type=Path, default=refresh.SNAPSHOT,
                           help="the snapshot file (default: %(default)s)")
    refresh_p.add_argument("--max-age-days", type=int, help="override each stack's gpu-price-age.max_age_days")
    refresh_p.add_argument("--max-change-percent", type=float,
                           help="override each stack's gpu-price-age.max_change_percent")
    refresh_p.add_argument("--gcp-base-url", default=refresh.GCP_BASE_URL,
                           help="Cloud Billing API root, for a mirror or a test server (default: %(default)s)")
    refresh_p.add_argument("--aws-base-url", default=refresh.AWS_BASE_URL,
                           help="AWS Price List root, for a mirror or a test server (default: %(default)s)")
    files = refresh_p.add_argument_group(
        "price files", "read a cloud's prices from a published file instead of its API (the one-off path when the "
        "API is out of reach; each row records the URL, pinned to the file's commit)")
    files.add_argument("--gcp-pricing-yml", type=Path, metavar="FILE",
                       help="Cyclenerd's pricing.yml (generated from the Cloud Billing Catalog API)")
    files.add_argument("--gcp-mapping-csv", type=Path, metavar="FILE",
                       help="the same commit's build/mapping.csv (the SKU patterns each machine is composed of)")
    files.add_argument("--gcp-source-url", metavar="URL", help="pricing.yml's URL at its commit")
    files.add_argument("--aws-vms-csv", type=Path, metavar="FILE", help="SkyPilot's catalogs/v8/aws/vms.csv")
    files.add_argument("--aws-source-url", metavar="URL", help="vms.csv's URL at its commit")
    files.add_argument("--aws-as-of", metavar="YYYY-MM-DD",
                       help="the day vms.csv was read (the file records no date of its own)")


def _thresholds(root: Path, stack: str, args: argparse.Namespace) -> tuple[int, float]:
    from policies.price_age import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_CHANGE_PERCENT, NAME  # the policy SDK: --check

    path = root / "policies" / "config" / f"{stack}.json"
    config = json.loads(path.read_text(encoding="utf-8")).get(NAME, {}) if path.is_file() else {}
    age = args.max_age_days if args.max_age_days is not None else int(config.get("max_age_days",
                                                                                 DEFAULT_MAX_AGE_DAYS))
    change = args.max_change_percent if args.max_change_percent is not None else \
        float(config.get("max_change_percent", DEFAULT_MAX_CHANGE_PERCENT))
    return age, change


def _used(stack: str, stack_file: Path, build_plan: Callable[[str, Path], Any]) -> list[refresh.Used]:
    """The catalog prices the stack's plan uses (overrides and unpriced pools are the stack's own business)."""
    from components.capacity import pool_path

    plan = build_plan(stack, stack_file)
    return [refresh.Used(r.machine_type, r.region, r.spot, f"{stack}: {pool_path(r)}")
            for r in plan.capacity if r.price_source == "catalog"]


def run(args: argparse.Namespace, root: Path, err: Console, build_plan: Callable[[str, Path], Any]) -> int:
    from components.config import ConfigError  # the config model: not for `prices --help`

    problem = _file_args_problem(args)
    if problem:
        err.print(f"error: prices refresh: {problem}", markup=False, soft_wrap=True)
        return EXIT_INPUT
    stacks = args.stacks or sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
    used: dict[str, list[refresh.Used]] = {}
    for stack in stacks:
        stack_file = root / f"Pulumi.{stack}.yaml"
        if not stack_file.is_file():
            err.print(f"error: stack {stack!r}: {stack_file.name} does not exist; hint: known stacks are the "
                      "Pulumi.STACK.yaml files at the project root", markup=False)
            return EXIT_INPUT
        try:
            used[stack] = _used(stack, stack_file, build_plan)
        except ConfigError as exc:
            for issue in exc.issues:
                err.print(f"error: {stack_file.name}: {issue}", markup=False, soft_wrap=True)
            return EXIT_INPUT
    current = {refresh.Key(p.machine_type, p.region): p for p in catalog_prices.PRICES}
    all_used = [u for us in used.values() for u in us]
    keys = sorted({refresh.Key(u.machine_type, u.region) for u in all_used}, key=lambda k: (k.machine_type, k.region)) \
        if args.check else refresh.keys_of(catalog_prices.PRICES, all_used)
    today = dt.datetime.now(dt.UTC).date()
    try:
        fresh = _fetch(args, keys, today, err)
    except FileNotFoundError as exc:
        err.print(f"error: prices refresh: {exc.filename}: no such file; hint: pass the price file's path",
                  markup=False, soft_wrap=True)
        return EXIT_INPUT
    except refresh.RefreshError as exc:
        missing_key = refresh.API_KEY_ENV in str(exc)
        hint = (f"set {refresh.API_KEY_ENV} in the environment from a secret store (in CI, a repository secret)"
                if missing_key else "the catalog or the network is down, or the --base-url points elsewhere")
        err.print(f"error: prices refresh: {exc}; hint: {hint}", markup=False, soft_wrap=True)
        return EXIT_INPUT if missing_key else EXIT_NO_VERDICT
    if args.check:
        return _check(current, fresh, used, root, args, err, today)
    merged = refresh.merge(catalog_prices.PRICES, fresh)
    unpriced = refresh.unpriced(merged, keys, catalog_prices.UNPRICED, fresh)
    changed = refresh.write(args.out, merged, unpriced, taken=today.isoformat())
    err.print(f"prices refresh: {len(fresh)} of {len(keys)} prices fetched, {len(merged) - len(fresh)} rows kept "
              f"with their own dates; {args.out} {'rewritten: review the diff' if changed else 'unchanged'}",
              markup=False, soft_wrap=True)
    return EXIT_OK


_PINNED = re.compile(r"^https://\S+/[0-9a-f]{40}/\S+$")
"""A price file's URL names the commit it was read at, so the row's provenance can be opened as it was."""


def _file_args_problem(args: argparse.Namespace) -> str | None:
    """What is missing or wrong among the price-file options, in one line with a hint; None when they hold."""
    if args.gcp_pricing_yml and not args.gcp_mapping_csv:
        return "--gcp-pricing-yml needs --gcp-mapping-csv; hint: pass the same commit's build/mapping.csv"
    checks = [("--gcp-pricing-yml", args.gcp_pricing_yml, "--gcp-source-url", args.gcp_source_url),
              ("--aws-vms-csv", args.aws_vms_csv, "--aws-source-url", args.aws_source_url)]
    for flag, given, url_flag, url in checks:
        if given and not (url and _PINNED.match(url)):
            got = f"a URL pinned to a commit, got {url!r}" if url else "the file's URL pinned to a commit"
            return f"{flag} needs {url_flag}: {got}; hint: https://github.com/OWNER/REPO/blob/<40-hex commit>/PATH"
    if args.aws_vms_csv:
        try:
            dt.date.fromisoformat(args.aws_as_of or "")
        except ValueError:
            return (f"--aws-vms-csv needs --aws-as-of YYYY-MM-DD, got {args.aws_as_of!r}; hint: the day the file "
                    "was read, since vms.csv records no date")
    return None


def _fetch(args: argparse.Namespace, keys: list[refresh.Key], today: dt.date, err: Console) -> dict[refresh.Key, Any]:
    """Fresh prices: from the price files given, and from the APIs for the clouds without one."""
    from components import catalog
    from components.catalog.types import Cloud
    from gpufleet import prices_files

    found: dict[refresh.Key, Any] = {}
    api_keys = list(keys)
    reads = []
    if args.gcp_pricing_yml:
        reads.append(prices_files.cyclenerd_prices(
            args.gcp_pricing_yml.read_text(encoding="utf-8"), args.gcp_mapping_csv.read_text(encoding="utf-8"),
            keys, url=args.gcp_source_url))
        api_keys = [k for k in api_keys if catalog.machine_type(k.machine_type).cloud is not Cloud.GCP]
    if args.aws_vms_csv:
        reads.append(prices_files.skypilot_aws(args.aws_vms_csv.read_text(encoding="utf-8"), keys,
                                               url=args.aws_source_url, as_of=args.aws_as_of))
        api_keys = [k for k in api_keys if catalog.machine_type(k.machine_type).cloud is not Cloud.AWS]
    for read in reads:
        found.update(read.prices)
        for line in read.skipped:
            err.print(f"prices refresh: not priced from the file: {line}", markup=False, soft_wrap=True)
    if api_keys:
        found.update(refresh.fetch(api_keys, api_key=os.environ.get(refresh.API_KEY_ENV),
                                   gcp_base_url=args.gcp_base_url, aws_base_url=args.aws_base_url,
                                   today=today.isoformat()))
    return found


def _check(current: dict[refresh.Key, Any], fresh: dict[refresh.Key, Any], used: dict[str, list[refresh.Used]],
           root: Path, args: argparse.Namespace, err: Console, today: dt.date) -> int:
    problems: list[str] = []
    for stack, stack_used in used.items():
        age, change = _thresholds(root, stack, args)
        problems += refresh.drift(current, fresh, stack_used, today=today, max_age_days=age, max_change_percent=change)
    for line in problems:
        err.print(f"error: {line}", markup=False, soft_wrap=True)
    count = sum(len(u) for u in used.values())
    if problems:
        err.print(f"prices refresh --check: {len(problems)} of {count} used prices are stale or moved", markup=False)
        return EXIT_DRIFT
    err.print(f"prices refresh --check: {count} used prices are fresh and unmoved", markup=False)
    return EXIT_OK
