"""Plan time and peak memory of `gpu-fleet plan` for dev, prod (both with GKE and EKS) and synthetic fleets
of 10x and 100x prod's clusters on both clouds, beside an SDK floor: the same resources registered under the
same mocks with no project code (no config model, no components, no capacity). Each measurement runs in a fresh process.

The floor registers every resource the plan recorded through the same typed SDK class (`pulumi_gcp`,
`pulumi_kubernetes`) with the same inputs, and checks that the engine received exactly the plan's inputs.
The bare floor registers plain `CustomResource`s instead: what the engine itself costs, without the typed
classes' per-resource work (an Output per declared output property, input translation).
`own %` is the share of the plan's time spent in gpu-fleet's own code (profiler self-time in components/,
infra/, gpufleet/), measured in a separate run.

`cli s` and `proc s` time whole processes, start to exit, as a user waits for them: `gpu-fleet plan STACK
--no-policy` against a floor of the same shape (a fresh interpreter that imports the Pulumi SDK and the provider
modules, sets up mocks and registers the same resources through the typed classes) with no project code at all;
`proc x` is their ratio. What the CLI imports before it needs it shows up there and nowhere else. On a busy machine
pass `--repeat N`: each measurement keeps its fastest run.

    ./dev bench            # all cases
    ./dev bench --quick    # dev, prod and 10x only
    ./dev bench --quick --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import importlib
import ipaddress
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def synthetic(scale: int) -> dict[str, Any]:
    """Prod's regions with `scale` times its clusters, each with its own non-overlapping ranges."""
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    gke = doc["config"]["gpu-fleet:gke"]
    pods = ipaddress.ip_network("10.64.0.0/10").subnets(new_prefix=21)
    services = ipaddress.ip_network("10.192.0.0/12").subnets(new_prefix=24)
    masters = ipaddress.ip_network("172.16.0.0/12").subnets(new_prefix=28)
    eks = doc["config"].get("gpu-fleet:eks")
    vpcs = ipaddress.ip_network("10.0.0.0/8").subnets(new_prefix=16)
    taken = {ipaddress.ip_network(c) for r in gke["regions"] for c in (r["subnet_cidr"], *(
        x for cl in r["clusters"] for x in (cl["pods_cidr"], cl["services_cidr"])))}
    for region in (eks or {}).get("regions", []):
        template = region["clusters"]
        region["clusters"] = []
        for copy_no in range(scale):
            for cluster in template:
                c = copy.deepcopy(cluster)
                c["name"] = f"{cluster['name']}-{copy_no}"
                c["vpc_cidr"] = str(next(v for v in vpcs if not any(v.overlaps(t) for t in taken)))
                taken.add(ipaddress.ip_network(c["vpc_cidr"]))
                region["clusters"].append(c)
    gpu_blocks = ipaddress.ip_network("100.64.0.0/10").subnets(new_prefix=12)
    for region in gke["regions"]:
        if region.get("gpu_cidr"):
            # Every copy's A3 Mega pools share the region's GPU subnets: a /12 gives each NIC room for 2,044 nodes.
            region["gpu_cidr"] = str(next(gpu_blocks))
        template = region["clusters"]
        region["clusters"] = []
        for copy_no in range(scale):
            for cluster in template:
                c = copy.deepcopy(cluster)
                c["name"] = f"{cluster['name']}-{copy_no}"
                c["pods_cidr"], c["services_cidr"], c["master_cidr"] = (
                    str(next(pods)), str(next(services)), str(next(masters)))
                region["clusters"].append(c)
    return doc


def _sdk_module(token: str) -> str | None:
    """The SDK module of a type token: `gcp:container/cluster:Cluster` -> `pulumi_gcp.container`."""
    package, _, rest = token.partition(":")
    module = rest.split(":", 1)[0]
    if package in ("gcp", "aws"):
        return f"pulumi_{package}.{module.split('/')[0]}"
    if package == "kubernetes":
        group, _, version = module.rpartition("/")
        return f"pulumi_kubernetes.{group.split('.')[0]}.{version}"
    if package == "time":  # pulumiverse-time
        return "pulumiverse_time"
    if package == "pulumi" and module == "providers":
        return f"pulumi_{rest.rsplit(':', 1)[1]}"
    return None


def _sdk_class(token: str) -> Any:
    """The typed SDK class of a custom resource's type token; None for a CRD kind (no generated class)."""
    module = _sdk_module(token)
    if module is None:
        return None
    with contextlib.suppress(ImportError):
        name = "Provider" if token.startswith("pulumi:providers:") else token.rsplit(":", 1)[1]
        return getattr(importlib.import_module(module), name, None)
    return None


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _scalar(value: Any) -> Any:
    """`"true"` -> True, `"8"` -> 8; any other value as it is."""
    with contextlib.suppress(TypeError, ValueError):
        decoded = json.loads(value)
        if isinstance(decoded, (bool, int, float)):
            return decoded
    return value


def _register_typed(r: dict[str, Any]) -> None:
    """Register one recorded custom resource through its typed SDK class, with the recorded inputs."""
    import pulumi_kubernetes as k8s

    inputs = dict(r["inputs"])
    if r["type"].startswith("pulumi:providers:"):
        # The SDK sends a provider's non-string inputs JSON-encoded; hand it the values it encodes.
        inputs = {k: _scalar(v) for k, v in inputs.items()}
    cls = _sdk_class(r["type"])
    if r["type"].startswith("kubernetes:") and not r["type"].startswith("kubernetes:helm"):
        api_version, kind = inputs.pop("apiVersion", None), inputs.pop("kind", None)
        if cls is None:
            k8s.apiextensions.CustomResource(r["name"], api_version=api_version, kind=kind,
                                             **{_snake(k): v for k, v in inputs.items()})
            return
    cls(r["name"], **{_snake(k): v for k, v in inputs.items()})


def own_share(stack_file: Path) -> float:
    """Share of a plan's profiled time spent in the project's own functions (self time)."""
    import cProfile
    import pstats

    from gpufleet import cli

    profiler = cProfile.Profile()
    profiler.enable()
    cli.build_plan("bench", stack_file)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own_dirs = tuple(str(ROOT / d) for d in ("components", "infra", "gpufleet"))
    total = sum(v[2] for v in stats.values())
    own = sum(v[2] for (filename, _, _), v in stats.items() if filename.startswith(own_dirs))
    return 100 * own / total if total else 0.0


class _FloorMocks:
    """The floor process's mocks: every resource's state is its inputs (the program's mocks add placeholders)."""

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, []


def process_floor(dump: Path) -> dict[str, Any]:
    """The CLI's process shape with no project code: SDK and provider imports, mocks, the same registrations."""
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    resources = json.loads(dump.read_text())
    for module in sorted({_sdk_module(r["type"]) for r in resources} - {None}):
        with contextlib.suppress(ImportError):
            importlib.import_module(str(module))
    pulumi.runtime.set_mocks(_FloorMocks(), project="gpu-fleet", stack="bench", preview=True)  # type: ignore[arg-type]

    def program() -> None:
        for r in resources:
            if r["custom"]:
                _register_typed(r)
            else:
                pulumi.ComponentResource(r["type"], r["name"])

    # As the offline plan does (gpufleet/offline.py _no_source_positions), without importing it: no stack walk.
    from pulumi.runtime import resource as runtime_resource
    from pulumi.runtime.proto import source_pb2
    setattr(runtime_resource, "_get_stack_trace", source_pb2.StackTrace)  # noqa: B010
    gc.set_threshold(50_000, 20, 100)  # as the plan collects garbage (gpufleet/offline.py PLAN_GC_THRESHOLD)
    _sync_await(run_pulumi_func(program))
    own = [m for m in sys.modules if m.split(".")[0] in ("components", "infra", "gpufleet", "policies")]
    if own:
        raise SystemExit(f"the process floor imported project code: {own[:3]}")
    return {"resources": len(resources)}


def timed_process(argv: list[str], repeat: int) -> float:
    """Wall seconds of the fastest of ``repeat`` runs of a fresh process, start to exit."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def measure(stack_file: Path, mode: str, dump: Path) -> dict[str, Any]:
    """In this process: plan the stack (mode `program`) or register its dumped resources (mode `floor`)."""
    if mode == "process-floor":
        return process_floor(dump)
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from gpufleet import cli, offline

    if mode == "profile":
        return {"own_percent": round(own_share(stack_file), 1)}
    start = time.perf_counter()
    if mode == "program":
        plan = cli.build_plan("bench", stack_file)
        count = len(plan.resources)
        dump.write_text(json.dumps([{"type": r.type, "name": r.name, "custom": r.custom, "inputs": r.inputs}
                                    for r in plan.resources]))
    else:
        resources = json.loads(dump.read_text())
        # Both floors pay for loading the same provider SDK modules, as any program using them does.
        for module in sorted({_sdk_module(r["type"]) for r in resources} - {None}):
            with contextlib.suppress(ImportError):  # CRD kinds have no SDK module
                importlib.import_module(str(module))
        mocks = offline._Mocks()
        monitor = offline._RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(mocks, project="gpu-fleet", stack="bench", preview=True, monitor=monitor)

        def program() -> None:
            for r in resources:
                if not r["custom"]:
                    pulumi.ComponentResource(r["type"], r["name"])
                elif mode == "floor":
                    _register_typed(r)
                else:
                    pulumi.CustomResource(r["type"], r["name"], dict(r["inputs"]))

        # The floors skip the SDK's stack walk and collect garbage as seldom as the plan does.
        with offline._no_source_positions(), offline.fewer_collections():
            _sync_await(run_pulumi_func(program))
        count = len(monitor.recorded)
        if mode == "floor":
            want = {(r["type"], r["name"]): r["inputs"] for r in resources if r["custom"]}
            got = {(r.type, r.name): r.inputs for r in monitor.recorded if r.custom}
            differ = sorted(k[1] for k in want if got.get(k) != want[k])
            if differ:
                raise SystemExit(f"the floor registered other inputs than the plan for {len(differ)} resources, "
                                 f"e.g. {differ[:3]}")
    elapsed = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(elapsed, 3), "peak_mib": round(peak_mib, 1), "resources": count}


def run_case(name: str, stack_file: Path, workdir: Path, *, profile: bool, repeat: int = 1) -> dict[str, Any]:
    dump = workdir / f"{name}.resources.json"
    results: dict[str, Any] = {"profile": {"own_percent": float("nan")}}
    for mode in ("program", "floor", "bare", "profile") if profile else ("program", "floor", "bare"):
        runs = []
        for _ in range(1 if mode == "profile" else repeat):
            out = subprocess.run([sys.executable, __file__, "--measure", str(stack_file), mode, str(dump)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[mode] = min(runs, key=lambda r: r.get("seconds", 0))
    stack = name.split("-", 1)[0]  # the synthetic fleets plan as prod: the stack name only picks a policy config
    results["cli"] = timed_process([sys.executable, "-c", "import sys; from gpufleet.cli import main; "
                                    "sys.exit(main(sys.argv[1:]))", "plan", stack, "--config", str(stack_file),
                                    "--no-policy"], repeat)
    results["process_floor"] = timed_process([sys.executable, __file__, "--measure", str(stack_file),
                                              "process-floor", str(dump)], repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement, keeping the fastest")
    parser.add_argument("--measure", nargs=3, metavar=("STACK_FILE", "MODE", "DUMP"))
    args = parser.parse_args()
    if args.measure:
        stack_file, mode, dump = args.measure
        print(json.dumps(measure(Path(stack_file), mode, Path(dump))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cases = {"dev": ROOT / "Pulumi.dev.yaml", "prod": ROOT / "Pulumi.prod.yaml"}
        for scale in (10,) if args.quick else (10, 100):
            path = workdir / f"Pulumi.prod-{scale}x.yaml"
            path.write_text(yaml.safe_dump(synthetic(scale)))
            cases[f"prod-{scale}x"] = path
        header = (f"{'case':<12}{'resources':>10}{'plan s':>9}{'floor s':>9}{'ratio':>7}{'bare s':>8}"
                  f"{'plan MiB':>10}{'floor MiB':>10}{'ms/res':>8}{'own %':>7}{'cli s':>7}{'proc s':>8}{'proc x':>8}")
        print(header)
        for name, path in cases.items():
            r = run_case(name, path, workdir, profile=not name.endswith("100x"), repeat=args.repeat)
            p, f, b = r["program"], r["floor"], r["bare"]
            print(f"{name:<12}{p['resources']:>10}{p['seconds']:>9.2f}{f['seconds']:>9.2f}"
                  f"{p['seconds'] / f['seconds']:>7.2f}{b['seconds']:>8.2f}{p['peak_mib']:>10.1f}"
                  f"{f['peak_mib']:>10.1f}{1000 * p['seconds'] / p['resources']:>8.2f}"
                  f"{r['profile']['own_percent']:>7.1f}{r['cli']:>7.2f}{r['process_floor']:>8.2f}"
                  f"{r['cli'] / r['process_floor']:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
