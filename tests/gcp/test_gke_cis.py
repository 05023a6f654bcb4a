"""Issue 24 §2: GKE's remaining CIS items (Binary Authorization, intranode visibility, Google Groups for RBAC,
integrity monitoring) as config, as what the plan registers, and as policies of the real pack."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from components.gcp.binary_authorization import allow_patterns, fleet_images
from gpufleet import cli, policy_gate
from gpufleet.report import Plan
from infra.config import parse
from tests.support.config_builders import values
from tests.support.engine import PACK, engine_config, run_resource_policy, with_inputs
from tests.support.pack_configs import only_policies_for
from tests.support.plans import ROOT, gke_of, gke_only, shared_plan

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
BINAUTHZ = "gcp:binaryauthorization/policy:Policy"
NEW = ("gke-binary-authorization", "gke-binary-authorization-policy", "gke-intranode-visibility",
       "gke-google-groups-rbac", "gke-integrity-monitoring")


def of_type(plan: Plan, typ: str) -> list[Any]:
    return [r for r in plan.resources if r.type == typ and r.custom]


# --- config ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["gke-admins@example.com", "gke-security-groups", "gke-security-groups@"])
def test_security_group_must_be_gke_security_groups_at_a_domain(group: str) -> None:
    raw = values()
    raw["gke"]["security_group"] = group
    with pytest.raises(ConfigError, match=r"^gke\.security_group: GKE only reads a group named .*hint: e\.g\. "
                                          r"gke-security-groups@example\.com") as info:
        parse(raw, gcp_project="acme-test")
    assert len(info.value.issues) == 1
    raw["gke"]["security_group"] = "gke-security-groups@corp.example.com"
    gke = parse(raw, gcp_project="acme-test").fleet.gke
    assert gke is not None and gke.security_group == raw["gke"]["security_group"]


def test_binary_authorization_mode_is_a_closed_set_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           dev_doc: dict[str, Any]) -> None:
    gke_of(dev_doc)["binary_authorization"] = {"mode": "enforce"}
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump(dev_doc))
    assert cli.main(["plan", "bad", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "gke.binary_authorization.mode" in err and "enforce" in err and "Traceback" not in err
    gke_of(dev_doc)["binary_authorization"] = {"mode": "dry-run", "allow": ["*"]}
    path.write_text(yaml.safe_dump(dev_doc))
    assert cli.main(["plan", "bad", "--config", str(path)]) == 2
    assert "gke.binary_authorization.allow" in capsys.readouterr().err


# --- what the plan registers -------------------------------------------------------------------------


def test_clusters_evaluate_the_singleton_policy_with_intranode_visibility(dev_plan: Plan, prod_plan: Plan) -> None:
    for plan in (dev_plan, prod_plan):
        clusters = of_type(plan, CLUSTER)
        assert clusters
        for c in clusters:
            assert c.inputs["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
            assert c.inputs["enableIntranodeVisibility"] is True
    assert {c.inputs["authenticatorGroupsConfig"]["securityGroup"] for c in of_type(prod_plan, CLUSTER)} == {
        "gke-security-groups@example.com"}
    assert all("authenticatorGroupsConfig" not in c.inputs for c in of_type(dev_plan, CLUSTER))


@pytest.mark.parametrize(("stack", "enforcement"), [("dev", "DRYRUN_AUDIT_LOG_ONLY"),
                                                     ("prod", "ENFORCED_BLOCK_AND_AUDIT_LOG")])
def test_one_project_policy_denies_all_but_the_fleet_images(stack: str, enforcement: str,
                                                           request: pytest.FixtureRequest) -> None:
    plan: Plan = request.getfixturevalue(f"{stack}_plan")
    (policy,) = of_type(plan, BINAUTHZ)  # a singleton, however many regions and clusters
    assert policy.inputs["defaultAdmissionRule"] == {"evaluationMode": "ALWAYS_DENY",
                                                     "enforcementMode": enforcement}
    assert policy.inputs["globalPolicyEvaluationMode"] == "ENABLE"
    patterns = [p["namePattern"] for p in policy.inputs["admissionWhitelistPatterns"]]
    assert patterns == allow_patterns(fleet_images())
    assert policy.name.endswith("-binauthz-policy")


# --- policies ----------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = inputs
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return change


CIS_ITEMS = [
    ("gke-binary-authorization", CLUSTER, "binaryAuthorization.evaluationMode", "DISABLED", "5.10.4",
     "does not evaluate the project's Binary Authorization policy"),
    ("gke-intranode-visibility", CLUSTER, "enableIntranodeVisibility", False, "5.6.1", "intranode_visibility"),
    ("gke-google-groups-rbac", CLUSTER, "authenticatorGroupsConfig", None, "5.8.2", "gke.security_group"),
    ("gke-integrity-monitoring", NODE_POOL, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False,
     "5.5.6", "integrity monitoring"),
    ("gke-binary-authorization-policy", BINAUTHZ, "defaultAdmissionRule.enforcementMode", "DRYRUN_AUDIT_LOG_ONLY",
     "5.10.4", "gke.binary_authorization.mode: enforced"),
]
"""(policy, resource type, input path, drifted value, CIS item, what the message says) per CIS item."""


@dataclasses.dataclass(frozen=True)
class Drifted:
    """Shipped prod with each CIS item's drift made on its own resource, and the real pack's one verdict on it."""

    targets: dict[str, Any]
    """policy -> the shipped resource its drift was made on (each item on a different one)."""
    plan: Plan
    """prod's plan with every item's drift."""
    gate: policy_gate.PolicyResult
    """The real pack over `plan`, the CIS items' policies on at prod's shipped levels and every other one off."""


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Drifted:
    """One pack process for every item (issue 22): each drift sits on its own resource, so each verdict is told
    apart by its URN."""
    prod = shared_plan(tmp_path_factory, "prod", (ROOT / "Pulumi.prod.yaml").read_text())  # = the prod_plan fixture
    targets: dict[str, Any] = {}
    plan = prod
    for policy, typ, path, value, *_ in CIS_ITEMS:
        taken = {t.urn for t in targets.values()}
        targets[policy] = next(r for r in of_type(prod, typ) if r.inputs.get("name") != "system" and r.urn not in taken)
        plan = with_inputs(plan, targets[policy].name, _set(path, value))
    gate = policy_gate.run_pack(PACK, only_policies_for("prod", NEW, tmp_path_factory.mktemp("cis")), plan.resources,
                                stack="prod", project="gpu-fleet")
    return Drifted(targets=targets, plan=plan, gate=gate)


@pytest.mark.parametrize(("policy", "typ", "path", "value", "cis", "says"), CIS_ITEMS)
def test_each_cis_item_is_a_mandatory_policy_in_prod(policy: str, typ: str, path: str, value: Any, cis: str,
                                                     says: str, drifted: Drifted) -> None:
    target = drifted.targets[policy]
    config = engine_config(policy, "prod")
    assert run_resource_policy(policy, typ, copy.deepcopy(target.inputs), config) == []
    changed = next(r for r in drifted.plan.resources if r.custom and r.name == target.name)
    (msg,) = run_resource_policy(policy, typ, changed.inputs, config)
    assert f"CIS GKE Benchmark {cis}" in msg and says in msg, msg
    assert drifted.gate.mandatory_failed
    # This drift alone breaks its resource, and nothing but a drifted resource breaks a CIS item's policy.
    at_target = {(v["policy"], v["level"]) for v in drifted.gate.violations
                 if v["policy"] in NEW and v["urn"] == target.urn}
    assert at_target == {(policy, "mandatory")}
    drifted_urns = {t.urn for t in drifted.targets.values()}
    assert all(v["urn"] in drifted_urns for v in drifted.gate.violations if v["policy"] in NEW)


def test_groups_and_blocking_are_required_by_prod_only(dev_plan: Plan) -> None:
    (cluster,) = of_type(dev_plan, CLUSTER)
    (binauthz,) = of_type(dev_plan, BINAUTHZ)
    for stack in ("dev", None):
        assert run_resource_policy("gke-google-groups-rbac", CLUSTER, cluster.inputs,
                                   engine_config("gke-google-groups-rbac", stack)) == []
        assert run_resource_policy("gke-binary-authorization-policy", BINAUTHZ, binauthz.inputs,
                                   engine_config("gke-binary-authorization-policy", stack)) == []
    assert run_resource_policy("gke-google-groups-rbac", CLUSTER, cluster.inputs,
                               engine_config("gke-google-groups-rbac", "prod"))
    assert run_resource_policy("gke-binary-authorization-policy", BINAUTHZ, binauthz.inputs,
                               engine_config("gke-binary-authorization-policy", "prod"))


@pytest.mark.parametrize(("change", "says"), [
    (lambda p: p["defaultAdmissionRule"].update(evaluationMode="ALWAYS_ALLOW"), "ALWAYS_ALLOW"),
    (lambda p: p["admissionWhitelistPatterns"].append({"namePattern": "docker.io/**"}), "docker.io/**"),
    (lambda p: p["admissionWhitelistPatterns"].append({"namePattern": "*"}), "whole registries"),
])
def test_binary_authorization_policy_refuses_an_allow_list_that_admits_anything(
        change: Callable[[dict[str, Any]], None], says: str, dev_plan: Plan) -> None:
    (binauthz,) = of_type(dev_plan, BINAUTHZ)
    props = copy.deepcopy(binauthz.inputs)
    change(props)
    (msg,) = run_resource_policy("gke-binary-authorization-policy", BINAUTHZ, props,
                                 engine_config("gke-binary-authorization-policy", "dev"))
    assert says in msg


def test_integrity_monitoring_covers_auto_provisioned_nodes(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    # The same stack as test_policies' nap-gpu-limits pass case, so the run plans it once.
    gke_of(dev_doc)["regions"][0]["clusters"][0]["auto_provisioning"] = {
        "enabled": True, "cpu_max": 64, "memory_max_gb": 256, "gpu_limits": [{"gpu": "l4", "max": 4}]}
    (cluster,) = of_type(plan_doc(gke_only(dev_doc), "dev"), CLUSTER)  # dev's GKE side: the cluster's alone
    props = copy.deepcopy(cluster.inputs)
    assert run_resource_policy("gke-integrity-monitoring", CLUSTER, props) == []
    defaults = props["clusterAutoscaling"]["autoProvisioningDefaults"]
    defaults["shieldedInstanceConfig"]["enableIntegrityMonitoring"] = False
    (msg,) = run_resource_policy("gke-integrity-monitoring", CLUSTER, props)
    assert "5.5.6" in msg and "auto-provisioning" in msg
