"""Policy evaluation time over synthetic fleets of up to 10,000 resources, through the real pack over gRPC.

The prod plan's resources are replicated (with unique URNs and names) to each size; the report gives
seconds per size and microseconds per resource, which should stay flat if evaluation is linear.

    ./dev bench --policies
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = (500, 1_000, 2_500, 5_000, 10_000)


def main() -> None:
    from gpufleet import cli, policy_gate
    from gpufleet.offline import Recorded

    base = cli.build_plan("prod", ROOT / "Pulumi.prod.yaml").resources
    pack, config = ROOT / "policies", ROOT / "policies" / "config" / "prod.json"
    print(f"{'resources':>10}{'seconds':>10}{'us/resource':>13}{'violations':>12}")
    for size in SIZES:
        resources: list[Recorded] = []
        copy_no = 0
        while len(resources) < size:
            for r in base:
                resources.append(dataclasses.replace(
                    r, urn=f"{r.urn}-{copy_no}", name=f"{r.name}-{copy_no}",
                    parent=f"{r.parent}-{copy_no}" if r.parent else ""))
            copy_no += 1
        resources = resources[:size]
        start = time.perf_counter()
        result = policy_gate.run_pack(pack, config, resources, stack="bench", project="gpu-fleet")
        elapsed = time.perf_counter() - start
        print(f"{size:>10}{elapsed:>10.2f}{1e6 * elapsed / size:>13.0f}{len(result.violations):>12}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
