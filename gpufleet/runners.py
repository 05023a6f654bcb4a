"""`gpu-fleet ci runners STACK...`: the `runs-on` labels of the job that previews and deploys each stack.

A stack's EKS clusters name the runner that can reach their API endpoints (`deploy_from.runner`: a runner inside
the VPC, or one whose egress the public endpoint admits); one job runs `pulumi preview` / `pulumi up` for the whole
stack, so the config rules make every cluster of a stack name the same runner. A stack without EKS clusters
runs on GitHub's hosted runner. The workflows read this command's JSON to set `runs-on`, so the stack file stays
the one place the deploy path is written.
"""

from __future__ import annotations

import re

from components.config.eks_deploy_rules import RUNNER_EXPRESSIONS
from components.config.model import Fleet

HOSTED = ["ubuntu-latest"]
"""The runner of a stack whose clusters need no particular network (GKE, OpenShift) or that has none."""
_EXPRESSION = re.compile(r"\$\{\{\s*(" + "|".join(re.escape(e) for e in RUNNER_EXPRESSIONS) + r")\s*\}\}")


def labels(fleet: Fleet, *, run_id: str, run_attempt: str) -> list[str]:
    """The stack's runner labels, with `${{ github.run_id }}` and `${{ github.run_attempt }}` filled in.

    A job's `runs-on` expression cannot evaluate expressions inside a value it reads from another job's output,
    so the values CodeBuild-hosted runner labels carry are substituted here.
    """
    values = {"github.run_id": run_id, "github.run_attempt": run_attempt}
    for region in fleet.eks.regions if fleet.eks else []:
        for cluster in region.clusters:
            if cluster.deploy_from is not None:
                return [_EXPRESSION.sub(lambda m: values[m.group(1)], label) for label in cluster.deploy_from.runner]
    return list(HOSTED)
