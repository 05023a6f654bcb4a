"""`alerts-have-receivers`: a stack whose clusters evaluate alert rules routes them somewhere; prod must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.kubernetes.monitoring.types import MONITORING_TYPES
from gpufleet import cli, policy_gate
from gpufleet.report import Plan
from policies.observability import unrouted
from tests.support.engine import PACK, engine_config, run_stack_policy
from tests.support.pack_configs import only_policies_for
from tests.support.plans import ROOT
from tests.support.small_stacks import gke_cluster


def test_clusters_with_alerts_and_no_receiver_are_named() -> None:
    assert unrouted([{"cluster": "us-east4-ml-1", "alerts": ["GpuIdle"], "receivers": []},
                     {"cluster": "eu-ml-2", "alerts": ["GpuIdle"], "receivers": ["oncall"]},
                     {"cluster": "us-central1-svc", "alerts": [], "receivers": []}]) == [
        "1 cluster evaluate GPU alert rules that reach no one: us-east4-ml-1. Add a receiver under "
        "gpu-fleet:observability.receivers (slack, pagerduty, email or webhook, its credential in a secret config "
        "key), or set observability.alerts.enabled: false."]
    assert unrouted([{"cluster": "c", "alerts": ["GpuIdle"], "receivers": ["oncall"]}]) == []


def test_dev_without_receivers_gets_an_advisory_naming_every_cluster(dev_plan: Plan) -> None:
    (message,) = run_stack_policy("alerts-have-receivers", dev_plan, engine_config("alerts-have-receivers", "dev"))
    assert "us-central1-dev-1" in message and "us-west-2-dev-aws" in message


def test_prod_routes_its_alerts(prod_plan: Plan) -> None:
    assert run_stack_policy("alerts-have-receivers", prod_plan, engine_config("alerts-have-receivers", "prod")) == []
    monitoring = [r.outputs for r in prod_plan.resources if r.type in MONITORING_TYPES]
    assert len(monitoring) == 11  # 9 GKE clusters, the EKS one and the OpenShift one
    assert all(m["receivers"] == ["gpu-oncall", "ml-platform"] for m in monitoring)
    # The service clusters have no GPUs, hence no DCGM series and no GPU rules.
    assert sorted(m["cluster"] for m in monitoring if not m["alerts"]) == [
        "europe-west4-svc-1", "us-central1-svc-1", "us-east4-svc-1"]


def test_prod_without_a_receiver_fails_the_plan(tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    doc = gke_cluster(doc, "us-east4", "ml-1")  # one cluster with GPU alert rules is enough to route nowhere
    for key in ("gpu-fleet:observability", "gpu-fleet:pagerduty-routing-key", "gpu-fleet:slack-alerts-webhook"):
        doc["config"].pop(key)
    doc["config"]["gpu-fleet:budgets"]["gcp"].pop("receivers")  # it names a receiver removed here
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    plan = cli.build_plan("prod", path)
    # prod's shipped level for the policy, the others off: the pack process judges this policy alone
    result = policy_gate.run_pack(PACK, only_policies_for("prod", ["alerts-have-receivers"], tmp_path), plan.resources,
                                  stack="prod", project="gpu-fleet")
    (violation,) = [v for v in result.violations if v["policy"] == "alerts-have-receivers"]
    assert violation["level"] == "mandatory" and result.mandatory_failed
    assert "us-east4-ml-1" in violation["message"]
