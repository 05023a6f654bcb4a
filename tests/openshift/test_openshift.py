"""OpenShift: the `openshift:` section, what the component emits, its ordering, capacity and guardrails."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from components.capacity import pool_path
from components.config import ConfigError
from components.openshift.machine_config import IGNITION_VERSION
from gpufleet import cli
from gpufleet.report import Plan
from infra import config as infra_config
from policies.quota import quota_usage
from tests.support.cel_rules import violations, with_defaults
from tests.support.config_builders import fleet_issues
from tests.support.engine import engine_config, run_resource_policy_over, run_stack_policy, with_inputs
from tests.support.k8s_schemas import crd_schemas, manifests, validate
from tests.support.plans import ROOT

KEY = "gpu-fleet:openshift"
SECRET_KEY = "gpu-fleet:openshift-ocp-ai-kubeconfig"
OPENSHIFT_KINDS = {
    ("machine.openshift.io/v1beta1", "MachineSet"), ("autoscaling.openshift.io/v1beta1", "MachineAutoscaler"),
    ("autoscaling.openshift.io/v1", "ClusterAutoscaler"), ("machine.openshift.io/v1beta1", "MachineHealthCheck"),
    ("tuned.openshift.io/v1", "Tuned"), ("operators.coreos.com/v1", "OperatorGroup"),
    ("operators.coreos.com/v1alpha1", "Subscription"), ("nfd.openshift.io/v1", "NodeFeatureDiscovery"),
    ("nvidia.com/v1", "ClusterPolicy"), ("monitoring.coreos.com/v1beta1", "AlertmanagerConfig"),
}
MCO_KINDS = {("machineconfiguration.openshift.io/v1", "MachineConfig"),
             ("machineconfiguration.openshift.io/v1", "MachineConfigPool")}


def cluster_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["config"][KEY]["clusters"][0]


def openshift_only(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["config"] = {k: v for k, v in doc["config"].items()
                     if k in (KEY, SECRET_KEY, "gpu-fleet:environment", "gpu-fleet:labels")}
    return doc


def raw(doc: dict[str, Any]) -> dict[str, Any]:
    return {"environment": "prod", "openshift": copy.deepcopy(doc["config"][KEY])}


def objects(plan: Plan) -> list[dict[str, Any]]:
    return [m for m in manifests(plan) if (m["apiVersion"], m["kind"]) in OPENSHIFT_KINDS | MCO_KINDS]


def with_machine_config(doc: dict[str, Any]) -> dict[str, Any]:
    """prod with the tensor-parallel profile needing a MachineConfig (a unit and a kernel argument)."""
    doc = openshift_only(doc)
    cluster_of(doc)["tuning"][0].update(kernel_arguments=["intel_iommu=on"],
                                        units={"gpu-fleet-hugepages.service": "[Unit]\nDescription=x\n"})
    return doc


def by_kind(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects(plan) if o["kind"] == kind]


def recorded(plan: Plan, suffix: str) -> Any:
    return next(r for r in plan.resources if r.name.endswith(suffix))


# --- config ------------------------------------------------------------------------------------------

def test_prod_section_loads(prod_doc: dict[str, Any]) -> None:
    assert fleet_issues(raw(prod_doc)) == []


@pytest.mark.parametrize(("change", "expected"), [
    # Seed 004: per-instance-type MachineConfigs in one shared pool mean nodes in two custom pools.
    (lambda c: c["gpu_pools"][1].update(tuning=["base", "tensor-parallel"]),
     "gpu_pools[l4x4].tuning: a node can belong to only one custom MachineConfigPool"),
    (lambda c: c["tuning"][0].update(units={"nvidia-driver-load.service": "[Service]\nExecStart=/usr/sbin/modprobe "
                                            "nvidia\n"}),
     "tuning[tensor-parallel].units.nvidia-driver-load.service: loads or manages the NVIDIA driver"),
    (lambda c: c["tuning"][0]["sysctls"].update({"nccl.ib_disable": "1"}),
     "NCCL settings are per-process environment"),
    (lambda c: c.update(kind="rosa"), "kind: ROSA machine pools are managed through OpenShift Cluster Manager"),
    (lambda c: c.update(kind="rosa-hcp"), "the `rosa` CLI or the rhcs Terraform provider"),
    (lambda c: c.update(version="4.16"), "version: the pinned GPU Operator bundle supports OpenShift 4.18 to 4.22"),
    (lambda c: c["gpu_pools"][0].update(zones=["us-east-2c"]), "no subnet is configured for this zone"),
    (lambda c: c["gpu_pools"][0].update(instance_type="g6.4xl"), "not an AWS GPU instance type in the catalog"),
    (lambda c: c["gpu_pools"][0].update(replicas=1), "needs exactly one of `autoscaling`"),
    (lambda c: c["gpu_pools"][0].pop("autoscaling"), "needs exactly one of `autoscaling`"),
    (lambda c: c["gpu_pools"][0].update(tuning="missing"), "tuning: no such tuning profile"),
    (lambda c: c.update(ami="ami-latest"), "ami: String should match pattern"),
    (lambda c: c["subnets"].update({"us-west-2a": {"filter": "x"}}), "zone is not in region us-east-2"),
    (lambda c: c["security_groups"].append({"id": "subnet-0123456789abcdef0"}), "not an AWS id of that kind"),
    (lambda c: c.update(kubeconfig={"path": "apiVersion: v1\nclusters: []"}), "looks like a kubeconfig's contents"),
    (lambda c: c.update(kubeconfig={"secret": "a", "path": "/b"}), "give exactly one of `secret`"),
    (lambda c: c["gpu_pools"][0].update(name="a-very-long-pool-name-that-overflows-it"),
     "also a label value (at most 63)"),
    (lambda c: c["gpu_pools"].append(dict(c["gpu_pools"][0], capacity="spot", production_critical=True,
                                          name="spot")), "a production-critical pool may not be spot"),
    (lambda c: c["addons"]["namespaces"].append({"name": "openshift-monitoring", "gpus": 1}),
     "is a namespace OpenShift or gpu-fleet owns"),
    (lambda c: c["gpu_pools"][0].update(efa_interfaces=4), "unknown key"),  # one interface per machine
])
def test_mistakes_are_one_line_each(prod_doc: dict[str, Any], change: Any, expected: str) -> None:
    values = raw(prod_doc)
    change(values["openshift"]["clusters"][0])
    found = fleet_issues(values)
    assert any(expected in e for e in found), found


def _cli_plan(tmp_path: Any, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    return subprocess.run([sys.executable, "-m", "gpufleet.cli", "plan", "prod", "--config", str(path),
                           "--no-policy"], capture_output=True, text=True, cwd=ROOT)


def test_kubeconfig_in_plain_config_is_refused_without_echoing_it(tmp_path: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    doc["config"][SECRET_KEY] = "apiVersion: v1\nusers: [{name: admin, user: {token: sha256~TOPSECRET}}]"
    run = _cli_plan(tmp_path, doc)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "TOPSECRET" not in run.stderr + run.stdout
    assert "gpu-fleet:openshift-ocp-ai-kubeconfig: is stored in plain text, but it holds credentials" in run.stderr


def test_a_missing_kubeconfig_secret_is_named(tmp_path: Any, prod_doc: dict[str, Any],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    doc = openshift_only(prod_doc)
    del doc["config"][SECRET_KEY]
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(doc))
    # In-process: the CLI's own main (the console script's exit and stderr are test_kubeconfig_in_plain_config's).
    code = cli.main(["plan", "prod", "--config", str(path), "--no-policy"])
    err = capsys.readouterr().err
    # The offline plan plans an unset secret as a masked placeholder and names it (the onboarding path, see
    # tests/openshift/test_openshift_discover.py); `pulumi preview` and `up` (infra.config.parse) refuse it.
    assert code == 0, err
    assert "warning: gpu-fleet:openshift-ocp-ai-kubeconfig is not set" in err
    with pytest.raises(ConfigError, match="gpu-fleet:openshift-ocp-ai-kubeconfig: is not set"):
        infra_config.parse(raw(doc), gcp_project=None, keys=[KEY], secret_keys=[])


def test_a_setting_stored_as_a_secret_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="is stored as a secret"):
        infra_config.parse({"environment": "x", "eks": None}, gcp_project=None, keys=["gpu-fleet:gke"],
                           secret_keys=["gpu-fleet:gke"])


def test_the_undecryptable_kubeconfig_is_planned_as_a_masked_secret(prod_plan: Plan) -> None:
    provider = recorded(prod_plan, "openshift-ocp-ai-k8s")
    assert provider.inputs["kubeconfig"] == "[secret]"
    text = json.dumps(prod_plan.to_json())
    ciphertext = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"][SECRET_KEY]["secure"]
    assert ciphertext not in text


def test_a_kubeconfig_path_is_plain_and_needs_no_file(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    del doc["config"][SECRET_KEY]
    cluster_of(doc)["kubeconfig"] = {"path": "/run/secrets/ocp-ai.kubeconfig", "context": "admin"}
    provider = recorded(plan_doc(doc, "prod"), "openshift-ocp-ai-k8s")
    assert provider.inputs["kubeconfig"] == "/run/secrets/ocp-ai.kubeconfig"
    assert provider.inputs["context"] == "admin"


# --- emitted objects -----------------------------------------------------------------------------------

def test_every_object_passes_its_crd_schema_and_cel_rules(prod_plan: Plan, plan_doc: Any,
                                                          prod_doc: dict[str, Any]) -> None:
    found = objects(prod_plan)
    assert {(o["apiVersion"], o["kind"]) for o in found} == OPENSHIFT_KINDS
    tuned = objects(plan_doc(with_machine_config(prod_doc), "prod"))
    assert {(o["apiVersion"], o["kind"]) for o in tuned} >= MCO_KINDS
    for obj in found + [o for o in tuned if (o["apiVersion"], o["kind"]) in MCO_KINDS]:
        validate(obj)
        schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
        broken = list(violations(schema, with_defaults(schema, obj)))
        assert not broken, f"{obj['kind']} {obj['metadata']['name']}: {broken}"
    for ns in (m for m in manifests(prod_plan) if m["kind"] == "Namespace"
               and m["metadata"]["name"] in ("openshift-nfd", "nvidia-gpu-operator")):
        validate(ns)
        assert ns["metadata"]["labels"]["openshift.io/cluster-monitoring"] == "true"


def test_machine_sets_are_what_the_mapi_webhook_and_seed_need(prod_plan: Plan) -> None:
    sets = {o["metadata"]["name"]: o for o in by_kind(prod_plan, "MachineSet")}
    assert sorted(sets) == ["ocp-ai-7xk2p-gpu-l4x1-us-east-2a", "ocp-ai-7xk2p-gpu-l4x4-us-east-2a",
                            "ocp-ai-7xk2p-gpu-l4x4-us-east-2b"]
    for name, ms in sets.items():
        assert ms["metadata"]["namespace"] == "openshift-machine-api"
        assert ms["spec"]["replicas"] == 0  # the CRD's default is one billed machine
        template = ms["spec"]["template"]
        assert ms["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
        node = template["spec"]
        assert node["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
        assert node["metadata"]["labels"]["cluster-api/accelerator"] == "nvidia-l4"
        value = node["providerSpec"]["value"]
        assert value["kind"] == "AWSMachineProviderConfig" and value["ami"]["id"].startswith("ami-")
        assert value["placement"]["region"] == "us-east-2" and name.endswith(value["placement"]["availabilityZone"])
        assert value["metadataServiceOptions"] == {"authentication": "Required"}
        assert value["blockDevices"][0]["ebs"]["encrypted"] is True
        assert {"name": "kubernetes.io/cluster/ocp-ai-7xk2p", "value": "owned"} in value["tags"]
        assert value["userDataSecret"] == {"name": "worker-user-data"}
        assert "spotMarketOptions" not in value
    assert sets["ocp-ai-7xk2p-gpu-l4x1-us-east-2a"]["spec"]["template"]["spec"]["providerSpec"]["value"][
        "instanceType"] == "g6.4xlarge"
    assert sets["ocp-ai-7xk2p-gpu-l4x4-us-east-2b"]["spec"]["template"]["spec"]["providerSpec"]["value"][
        "subnet"] == {"filters": [{"name": "tag:Name", "values": ["ocp-ai-7xk2p-subnet-private-us-east-2b"]}]}


def test_other_controllers_own_replicas_and_the_ami(prod_plan: Plan, plan_doc: Any,
                                                    prod_doc: dict[str, Any]) -> None:
    ms = recorded(prod_plan, "ocp-ai-l4x4-us-east-2a")
    assert ms.ignore_changes == ["spec.replicas", "spec.template.spec.providerSpec.value.ami"]
    doc = openshift_only(prod_doc)
    c = cluster_of(doc)
    c["boot_images"] = "pinned"
    c["gpu_pools"][0].pop("autoscaling")
    c["gpu_pools"][0]["replicas"] = 1
    c["gpu_pools"][1]["capacity"] = "spot"
    plan = plan_doc(doc, "prod")
    fixed = recorded(plan, "ocp-ai-l4x1-us-east-2a")
    assert fixed.ignore_changes == [] and fixed.inputs["spec"]["replicas"] == 1
    assert not [r for r in plan.resources if r.name == "openshift-ocp-ai-l4x1-us-east-2a-autoscaler"]
    spot = recorded(plan, "ocp-ai-l4x4-us-east-2a")
    assert spot.inputs["spec"]["template"]["spec"]["providerSpec"]["value"]["spotMarketOptions"] == {}
    rows = {(r.pool, r.zones[0]): r for r in plan.capacity}
    assert rows[("l4x1", "us-east-2a")].min_nodes == rows[("l4x1", "us-east-2a")].max_nodes == 1
    assert rows[("l4x4", "us-east-2a")].spot and rows[("l4x4", "us-east-2a")].capacity == "spot"


def test_autoscalers_bound_each_set_and_the_cluster_gpus(prod_plan: Plan) -> None:
    scalers = {o["metadata"]["name"]: o["spec"] for o in by_kind(prod_plan, "MachineAutoscaler")}
    sets = {o["metadata"]["name"] for o in by_kind(prod_plan, "MachineSet")}
    assert set(scalers) == sets
    for name, spec in scalers.items():
        assert spec["scaleTargetRef"] == {"apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
                                          "name": name}
    (ca,) = by_kind(prod_plan, "ClusterAutoscaler")
    assert ca["metadata"]["name"] == "default"
    # 2 x g6.4xlarge (1 L4) + 2 zones x 1 x g6.12xlarge (4 L4) = 10 L4, typed as the nodes' accelerator label.
    assert ca["spec"]["resourceLimits"]["gpus"] == [{"type": "nvidia-l4", "min": 0, "max": 10}]
    assert ca["spec"]["scaleDown"]["utilizationThreshold"] == "0.5"  # a string, as the CRD types it
    ms = by_kind(prod_plan, "MachineSet")[0]
    assert ms["spec"]["template"]["spec"]["metadata"]["labels"]["cluster-api/accelerator"] == "nvidia-l4"


def test_an_existing_cluster_autoscaler_is_patched_not_created(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    cluster_of(doc)["autoscaler"]["mode"] = "patch"
    plan = plan_doc(doc, "prod")
    types = {r.type for r in plan.resources if "ClusterAutoscaler" in r.type}
    assert types == {"kubernetes:autoscaling.openshift.io/v1:ClusterAutoscalerPatch"}


def test_each_gpu_node_joins_at_most_one_custom_pool(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    plan = plan_doc(with_machine_config(prod_doc), "prod")
    pools = by_kind(plan, "MachineConfigPool")
    assert sorted(p["metadata"]["name"] for p in pools) == ["worker-gpu-tensor-parallel"]
    joined_by = {}
    for ms in by_kind(plan, "MachineSet"):
        labels = ms["spec"]["template"]["spec"]["metadata"]["labels"]
        joined = [p["metadata"]["name"] for p in pools
                  if p["spec"]["nodeSelector"]["matchLabels"].items() <= labels.items()]
        assert len(joined) <= 1, (ms["metadata"]["name"], joined)
        joined_by[ms["metadata"]["name"]] = joined
    # Only the profile that needs a MachineConfig moves its nodes (and reboots them once); the others stay workers.
    assert joined_by["ocp-ai-7xk2p-gpu-l4x1-us-east-2a"] == []
    assert joined_by["ocp-ai-7xk2p-gpu-l4x4-us-east-2b"] == ["worker-gpu-tensor-parallel"]
    for p in pools:
        (expr,) = p["spec"]["machineConfigSelector"]["matchExpressions"]
        assert expr["values"] == ["worker", p["metadata"]["name"]]  # inherits every worker config


def test_machine_configs_carry_only_what_needs_a_machine_config(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    (mc,) = by_kind(plan_doc(with_machine_config(prod_doc), "prod"), "MachineConfig")
    assert mc["metadata"]["labels"] == {"machineconfiguration.openshift.io/role": "worker-gpu-tensor-parallel"}
    config = mc["spec"]["config"]
    assert config["ignition"]["version"] == IGNITION_VERSION == "3.2.0"
    assert mc["spec"]["kernelArguments"] == ["intel_iommu=on"]
    assert [u["name"] for u in config["systemd"]["units"]] == ["gpu-fleet-hugepages.service"]
    assert "storage" not in config  # sysctls are the Node Tuning Operator's (Tuned), not files
    assert "tcp_rmem" not in json.dumps(mc) and "nvidia" not in json.dumps(mc).lower()


def test_operators_install_before_their_instances_on_a_real_up(prod_plan: Plan) -> None:
    subs = {o["metadata"]["name"]: o for o in by_kind(prod_plan, "Subscription")}
    assert subs["gpu-operator-certified"]["spec"] == {
        "channel": "v26.7", "name": "gpu-operator-certified", "source": "certified-operators",
        "sourceNamespace": "openshift-marketplace", "installPlanApproval": "Automatic",
        "startingCSV": "gpu-operator-certified.v26.7.0"}
    assert subs["nfd"]["spec"]["source"] == "redhat-operators"
    for s in subs.values():
        assert s["metadata"]["annotations"] == {"pulumi.com/waitFor": "jsonpath={.status.installedCSV}",
                                                "pulumi.com/timeoutSeconds": "900"}
    urn = {r.name: r.urn for r in prod_plan.resources}
    deps = {r.name: set(r.dependencies) for r in prod_plan.resources}
    assert urn["openshift-ocp-ai-nfd-subscription"] in deps["openshift-ocp-ai-nfd-instance"]
    assert {urn["openshift-ocp-ai-gpu-operator-subscription"], urn["openshift-ocp-ai-nfd-subscription"]} <= \
        deps["openshift-ocp-ai-cluster-policy"]
    assert urn["openshift-ocp-ai-gpu-operator-operatorgroup"] in deps["openshift-ocp-ai-gpu-operator-subscription"]
    for name in ("l4x1-us-east-2a", "l4x4-us-east-2a", "l4x4-us-east-2b"):
        assert urn["openshift-ocp-ai-tuned-tensor-parallel"] in deps[f"openshift-ocp-ai-{name}"]
        assert urn[f"openshift-ocp-ai-{name}"] in deps[f"openshift-ocp-ai-{name}-autoscaler"]
    (policy,) = by_kind(prod_plan, "ClusterPolicy")
    assert policy["spec"]["operator"]["use_ocp_driver_toolkit"] is True
    assert policy["spec"]["dcgmExporter"]["serviceMonitor"]["enabled"] is True
    assert "tolerations" not in policy["spec"]["daemonsets"]  # it would replace the operands' GPU toleration
    (nfd,) = by_kind(prod_plan, "NodeFeatureDiscovery")
    assert "operand" not in nfd["spec"]
    assert yaml.safe_load(nfd["spec"]["workerConfig"]["configData"])["sources"]["pci"]["deviceClassWhitelist"] == \
        ["0200", "03", "12"]


def test_operators_installed_elsewhere_are_not_declared(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    cluster_of(doc)["operators"] = {"nfd": {"manage": False, "channel": "stable"},
                                    "gpu_operator": {"manage": False, "channel": "v26.7"}}
    kinds = {o["kind"] for o in objects(plan_doc(doc, "prod"))}
    assert "Subscription" not in kinds and "OperatorGroup" not in kinds
    assert {"ClusterPolicy", "NodeFeatureDiscovery"} <= kinds


# --- capacity and policies -------------------------------------------------------------------------------

def test_capacity_rows_are_priced_and_counted_against_aws_quota(prod_plan: Plan) -> None:
    rows = [r for r in prod_plan.capacity if r.platform == "openshift"]
    assert {(r.pool, r.zones[0], r.max_gpus) for r in rows} == {
        ("l4x1", "us-east-2a", 2), ("l4x4", "us-east-2a", 4), ("l4x4", "us-east-2b", 4)}
    assert all(r.hourly_usd_per_node and r.region == "us-east-2" for r in rows)
    assert pool_path(rows[0]).startswith("openshift.clusters[ocp-ai].gpu_pools[")
    usage = quota_usage(rows)
    # g6.4xlarge: 16 vCPUs x 2; g6.12xlarge: 48 vCPUs x 2 -> 128 vCPUs of the G on-demand quota.
    assert usage[("us-east-2", "L-DB2E81BA")].requested == 128


def test_quota_and_budget_policies_see_openshift(prod_plan: Plan, plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    config = engine_config("gpu-quota", "prod")
    assert run_stack_policy("gpu-quota", prod_plan, config) == []
    doc = openshift_only(prod_doc)  # us-east-2's quota holds OpenShift's machines alone
    cluster_of(doc)["gpu_pools"][1]["autoscaling"]["max_nodes"] = 4
    found = run_stack_policy("gpu-quota", plan_doc(doc, "prod"), config)
    assert any("us-east-2 L-DB2E81BA: 416 vCPUs" in m and "openshift.clusters[ocp-ai].gpu_pools[l4x4]" in m
               for m in found), found


def test_guardrails(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    # prod's OpenShift side (the file's shared plan of it): the policies judge OpenShift's objects, and over prod's
    # 625 resources each run cost a second; that they pass on the whole of prod is the shipped verdict's claim
    # (tests/policies/test_policies.py).
    plan = plan_doc(openshift_only(prod_doc), "prod")
    for name in ("openshift-gpu-machines", "openshift-olm-subscriptions"):
        assert run_resource_policy_over(name, plan, {}) == []
    assert run_stack_policy("openshift-autoscaler-gpu-limits", plan, {}) == []

    def untaint(inputs: dict[str, Any]) -> None:
        inputs["spec"]["template"]["spec"]["taints"] = []
        inputs["spec"]["template"]["spec"]["providerSpec"]["value"]["metadataServiceOptions"] = {}

    drifted = with_inputs(plan, "openshift-ocp-ai-l4x1-us-east-2a", untaint)
    (message,) = run_resource_policy_over("openshift-gpu-machines", drifted, {})
    assert "openshift.clusters[ocp-ai].gpu_pools[l4x1]" in message and "taint" in message and "IMDSv1" in message

    def manual(inputs: dict[str, Any]) -> None:
        inputs["spec"]["installPlanApproval"] = "Manual"
        inputs["metadata"]["annotations"] = {}

    found = run_resource_policy_over("openshift-olm-subscriptions",
                                     with_inputs(plan, "openshift-ocp-ai-nfd-subscription", manual), {})
    assert len(found) == 2

    def unlimited(inputs: dict[str, Any]) -> None:
        inputs["spec"]["resourceLimits"]["gpus"] = []
        inputs["metadata"]["name"] = "gpu"

    found = run_stack_policy("openshift-autoscaler-gpu-limits",
                             with_inputs(plan, "openshift-ocp-ai-cluster-autoscaler", unlimited), {})
    assert any("only the one named `default`" in m for m in found)
    assert sum("no resourceLimits.gpus entry of type 'nvidia-l4'" in m for m in found) == 3


def test_a_pool_and_a_zone_added_at_the_front_rename_nothing(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    before = plan_doc(openshift_only(prod_doc), "prod")  # prod's OpenShift side, before and after the edit
    doc = openshift_only(prod_doc)
    c = cluster_of(doc)
    c["subnets"] = {"us-east-2c": {"filter": "ocp-ai-7xk2p-subnet-private-us-east-2c"}, **c["subnets"]}
    c["gpu_pools"].insert(0, {"name": "l40s", "instance_type": "g6e.4xlarge", "zones": ["us-east-2c"],
                              "autoscaling": {"max_nodes": 1}})
    c["gpu_pools"][2]["zones"].insert(0, "us-east-2c")
    c["tuning"].insert(0, {"name": "plain"})
    after = {r.urn: r for r in plan_doc(doc, "prod").resources}
    assert any(r.type.endswith("MachineSet") for r in before.resources)
    for r in before.resources:
        assert r.urn in after, r.urn
        if r.type.endswith(("MachineSet", "MachineAutoscaler", "MachineConfig")):
            assert after[r.urn].inputs == r.inputs, r.name


def test_the_console_gets_the_fleet_dashboard(prod_plan: Plan, plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    (cm,) = [m for m in manifests(prod_plan) if m["kind"] == "ConfigMap"
             and m["metadata"].get("namespace") == "openshift-config-managed"]
    assert cm["metadata"]["labels"]["console.openshift.io/dashboard"] == "true"
    validate(cm)
    doc = openshift_only(prod_doc)  # prod's OpenShift side, its console dashboard switched off
    doc["config"]["gpu-fleet:dashboards"] = {**prod_doc["config"]["gpu-fleet:dashboards"], "openshift_console": False}
    assert not [m for m in manifests(plan_doc(doc, "prod")) if m["metadata"].get("namespace") ==
                "openshift-config-managed"]


def test_alerts_go_to_platform_monitoring_and_its_alertmanager(prod_plan: Plan) -> None:
    """Rules are platform rules; routing is an AlertmanagerConfig (test_openshift_coexist.py routes it)."""
    (rule,) = [m for m in manifests(prod_plan) if m["kind"] == "PrometheusRule"
               and m["metadata"]["namespace"] == "nvidia-gpu-operator"]
    validate(rule)
    schema = crd_schemas()[(rule["apiVersion"], rule["kind"])]
    assert not list(violations(schema, with_defaults(schema, rule)))
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    # dcgm-exporter has XID and row-remap counters (GKE managed DCGM has not), and node-exporter the NIC traffic.
    assert {"GpuUtilizationHigh", "GpuIdle", "GpuXidError", "GpuRowRemapFailure", "NodeNetworkSaturated"} <= alerts
    records = {r["record"] for g in rule["spec"]["groups"] for r in g["rules"] if "record" in r}
    assert "namespace:gpufleet_gpu_cost_usd_per_hour:sum" in records
    assert not [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:SecretPatch"]
    (config,) = [m for m in manifests(prod_plan) if m["kind"] == "AlertmanagerConfig"]
    assert config["metadata"]["namespace"] == "gpu-fleet-alerting"
    (secret,) = [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:Secret"
                 and r.inputs["metadata"]["namespace"] == "gpu-fleet-alerting"]
    assert secret.inputs["stringData"] == "[secret]"  # the whole map is a secret: credentials never in clear
    (mon,) = [r for r in prod_plan.resources if r.type == "gpufleet:monitoring:OpenShiftMonitoring"]
    assert mon.outputs["receivers"] == ["gpu-oncall", "ml-platform"]
    (policy,) = by_kind(prod_plan, "ClusterPolicy")
    monitor = policy["spec"]["dcgmExporter"]["serviceMonitor"]
    assert {"regex": "namespace|pod|container", "action": "labeldrop"} in monitor["relabelings"]


def test_efa_is_one_interface_at_most(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    pool = cluster_of(doc)["gpu_pools"][1]
    pool["efa"] = True  # g6.12xlarge carries one EFA interface
    plan = plan_doc(doc, "prod")
    ms = recorded(plan, "ocp-ai-l4x4-us-east-2a")
    assert ms.inputs["spec"]["template"]["spec"]["providerSpec"]["value"]["networkInterfaceType"] == "EFA"
    assert {r.fabric for r in plan.capacity if r.pool == "l4x4"} == {"EFA x1"}
    values = raw(prod_doc)
    values["openshift"]["clusters"][0]["gpu_pools"][0]["efa"] = True  # g6.4xlarge has none
    assert any("g6.4xlarge has no EFA interface" in e for e in fleet_issues(values))
