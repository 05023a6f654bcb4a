"""OpenShift coexistence: the cluster's own autoscaler and Alertmanager, tuning without reboots, what the GPU
operators expect (issue 18, sections 2 to 4)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gpufleet import offline
from gpufleet.report import Plan, markdown
from tests.support.alertmanager_config import merge
from tests.support.config_builders import fleet_issues
from tests.support.engine import run_resource_policy_over, with_inputs
from tests.support.k8s_schemas import crd_schemas, validate
from tests.support.openshift_docs import KEY, _main_config, checked, kind, openshift_only
from tests.support.plans import REFERENCE, ROOT
from tests.support.ssa import Conflict, LiveObject

AMTOOL = shutil.which("amtool")


def cluster_of(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["config"][KEY]["clusters"][0]


def recorded(plan: Plan, name: str) -> Any:
    return next(r for r in plan.resources if r.name == name)


# --- input ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["autoscaler"].update(existing_gpu_limits=[{"type": "nvidia-t4", "min": 0, "max": 4}]),
     "autoscaler.existing_gpu_limits: lists a live ClusterAutoscaler's GPU limits, but mode is create"),
    (lambda c: c["autoscaler"].update(mode="patch", existing_gpu_limits=[{"type": "nvidia-t4", "min": 3, "max": 2}]),
     "existing_gpu_limits[nvidia-t4].max: below min"),
    (lambda c: c["autoscaler"].update(mode="patch", existing_gpu_limits=[{"type": "nvidia-t4", "min": 0, "max": 2},
                                                                         {"type": "nvidia-t4", "min": 0, "max": 4}]),
     "existing_gpu_limits[nvidia-t4]: duplicate name"),
    (lambda c: c.setdefault("operators", {}).update(nfd={"channel": "stable", "approval": "manual"}),
     "operators.nfd.approval: manual approval needs the first install pinned"),
    (lambda c: c["gpu_pools"][0].update(capacity="capacity-block", zones=["us-east-2a"]),
     "capacity_reservation_id: capacity-block needs the Capacity Block's reservation id"),
    (lambda c: c.update(version="4.18") or c["gpu_pools"][0].update(
        capacity="capacity-block", capacity_reservation_id="cr-0123456789abcdef0"),
     "capacity: the OpenShift 4.18 AWS machine provider has no `marketType: CapacityBlock`"),
    (lambda c: c["gpu_pools"][0].update(capacity="spot", capacity_reservation_id="cr-0123456789abcdef0"),
     "a spot machine cannot launch into a capacity reservation"),
    (lambda c: c["gpu_pools"][1].update(capacity_reservation_id="cr-0123456789abcdef0"),
     "gpu_pools[l4x4].zones: a capacity reservation lives in one zone"),
    (lambda c: c["gpu_pools"][0].update(capacity_reservation_id="cr-123"), "String should match pattern"),
    (lambda c: c["gpu_pools"][0].update(sharing={"mig": "1g.10gb"}), "sharing.mig: l4 GPUs have no MIG"),
    (lambda c: c["gpu_pools"][0].update(sharing={"mig": "1g.10gb", "time_slicing": {"replicas": 2}}),
     "give exactly one of `time_slicing` or `mig`"),
    (lambda c: c.update(root_volume_kms_key="arn:aws:kms:us-west-2:123456789012:"
                                            "key/1234abcd-12ab-34cd-56ef-1234567890ab"),
     "root_volume_kms_key: the key is in us-west-2, the cluster in us-east-2"),
    (lambda c: c.update(root_volume_kms_key="alias/aws/ebs"), "root_volume_kms_key: not a KMS key ARN"),
])
def test_mistakes_are_one_line_each(prod_doc: dict[str, Any], change: Any, expected: str) -> None:
    values = {"environment": "prod", "openshift": copy.deepcopy(prod_doc["config"][KEY])}
    change(values["openshift"]["clusters"][0])
    found = fleet_issues(values)
    assert any(expected in e for e in found), found


# --- 2. ClusterAutoscaler default in patch mode ------------------------------------------------------------

def _live_autoscaler() -> tuple[LiveObject, dict[str, Any]]:
    """`default` as an admin created it with `oc apply` from cluster-autoscaler-operator's example
    (openshift/cluster-autoscaler-operator @5673ba0 `examples/clusterautoscaler.yaml`, less its misspelt
    `uneededTime`, which the API server prunes, and `startupTaints`, which 4.20 does not serve)."""
    schema = crd_schemas()[("autoscaling.openshift.io/v1", "ClusterAutoscaler")]
    obj = {"apiVersion": "autoscaling.openshift.io/v1", "kind": "ClusterAutoscaler", "metadata": {"name": "default"},
           "spec": {"logVerbosity": 1, "balanceSimilarNodeGroups": True, "podPriorityThreshold": -10,
                    "resourceLimits": {"maxNodesTotal": 24, "cores": {"min": 8, "max": 128},
                                       "memory": {"min": 4, "max": 256},
                                       "gpus": [{"type": "nvidia.com/gpu", "min": 0, "max": 16},
                                                {"type": "amd.com/gpu", "min": 0, "max": 4}]},
                    "scaleDown": {"enabled": True, "delayAfterAdd": "10s", "delayAfterDelete": "10s",
                                  "delayAfterFailure": "10s", "utilizationThreshold": "0.4",
                                  "cordonNodeBeforeTerminating": "Enabled"},
                    "scaleUp": {"newPodScaleUpDelay": "10s"}}}
    validate(obj)
    # `oc apply` (client-side) records its fields under this manager.
    return LiveObject(schema, obj, "kubectl-client-side-apply"), obj


def _patch_doc(prod_doc: dict[str, Any], **autoscaler: Any) -> dict[str, Any]:
    doc = openshift_only(prod_doc)
    a = cluster_of(doc)["autoscaler"]
    a.pop("max_nodes_total", None)  # what discover prints for an existing `default`: mode and its GPU limits
    a.update(mode="patch", existing_gpu_limits=[{"type": "nvidia.com/gpu", "min": 0, "max": 16},
                                                {"type": "amd.com/gpu", "min": 0, "max": 4}], **autoscaler)
    return doc


def _apply(live: LiveObject, patch: Any, *, force: bool | None = None) -> None:
    obj = {"apiVersion": "autoscaling.openshift.io/v1", "kind": "ClusterAutoscaler", **patch.inputs}
    annotations = obj["metadata"].get("annotations") or {}
    live.apply("pulumi-kubernetes-7c1f0e", obj,
               force=annotations.get("pulumi.com/patchForce") == "true" if force is None else force)


def test_patch_mode_takes_only_the_gpu_limits_and_keeps_the_other_teams_entries(
        plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    live, before = _live_autoscaler()
    plan = plan_doc(_patch_doc(prod_doc), "prod")
    (patch,) = [r for r in plan.resources if r.type.endswith("ClusterAutoscalerPatch")]
    # Unforced, the atomic gpus list (the CRD gives it no x-kubernetes-list-type) conflicts with oc's: `up` fails.
    with pytest.raises(Conflict, match=r"resourceLimits\.gpus"):
        _apply(live, patch, force=False)
    _apply(live, patch)  # as emitted: pulumi.com/patchForce
    spec = live.obj["spec"]
    assert spec["resourceLimits"]["gpus"] == [{"type": "amd.com/gpu", "min": 0, "max": 4},
                                              {"type": "nvidia-l4", "min": 0, "max": 10},
                                              {"type": "nvidia.com/gpu", "min": 0, "max": 16}]
    for untouched in ("scaleDown", "scaleUp", "logVerbosity", "podPriorityThreshold", "balanceSimilarNodeGroups"):
        assert spec[untouched] == before["spec"][untouched], untouched
    assert {k: v for k, v in spec["resourceLimits"].items() if k != "gpus"} == \
        {k: v for k, v in before["spec"]["resourceLimits"].items() if k != "gpus"}
    assert "maxNodeProvisionTime" not in spec
    assert live.owners(("spec", "scaleDown", "delayAfterAdd")) == ["kubectl-client-side-apply"]
    assert live.owners(("spec", "resourceLimits", "gpus")) == ["pulumi-kubernetes-7c1f0e"]
    # Re-running discover prints the live entries of accelerators gpu-fleet does not own (its own `nvidia-l4` is
    # left out, and refused in config): applying again changes nothing.
    again = _patch_doc(prod_doc)
    cluster_of(again)["autoscaler"]["existing_gpu_limits"] = [g for g in spec["resourceLimits"]["gpus"]
                                                              if g["type"] != "nvidia-l4"]
    (patch2,) = [r for r in plan_doc(again, "prod").resources if r.type.endswith("ClusterAutoscalerPatch")]
    assert patch2.inputs["spec"] == patch.inputs["spec"]


def test_the_old_full_spec_patch_conflicts_even_forced_it_would_take_scale_down(
        plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    """What the review found: the whole spec, unforced, fails on `up`; forced, it owns cluster-wide scale-down."""
    live, _ = _live_autoscaler()
    plan = plan_doc(_patch_doc(prod_doc, manage_scale_down=True), "prod")
    (patch,) = [r for r in plan.resources if r.type.endswith("ClusterAutoscalerPatch")]
    with pytest.raises(Conflict, match=r"scaleDown\.delayAfterAdd"):
        _apply(live, patch, force=False)
    _apply(live, patch)
    assert live.obj["spec"]["scaleDown"]["delayAfterAdd"] == "20m"  # opted in: gpu-fleet's settings
    assert live.obj["spec"]["scaleDown"]["delayAfterDelete"] == "10s"  # fields it does not set stay
    assert live.obj["spec"]["maxNodeProvisionTime"] == "15m"


def test_destroy_would_drop_the_whole_gpus_list_so_the_patch_is_retained(
        fresh_plan_doc: Any, prod_doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    retained: dict[str, bool] = {}
    register = offline._RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        retained[request.name] = bool(request.retainOnDelete)
        return register(self, request)

    monkeypatch.setattr(offline._RecordingMonitor, "RegisterResource", spy)
    live, _ = _live_autoscaler()
    plan = fresh_plan_doc(_patch_doc(prod_doc), "prod")  # planned here, so the spy sees the registrations
    (patch,) = [r for r in plan.resources if r.type.endswith("ClusterAutoscalerPatch")]
    _apply(live, patch)
    # Deleting a Patch relinquishes its fields; gpu-fleet owns the atomic list whole after the forced apply.
    deleted = copy.deepcopy(live)
    deleted.relinquish("pulumi-kubernetes-7c1f0e")
    assert "gpus" not in deleted.obj["spec"]["resourceLimits"]  # the other teams' limits would go too
    assert retained[patch.name] is True
    create = fresh_plan_doc(openshift_only(prod_doc), "prod")
    (created,) = [r for r in create.resources if r.type.endswith(":ClusterAutoscaler")]
    assert retained[created.name] is False  # create mode: destroy deletes `default` (README)


def test_patch_mode_objects_pass_the_crd(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    plan = plan_doc(_patch_doc(prod_doc, max_nodes_total=40), "prod")
    (patch,) = [r for r in plan.resources if r.type.endswith("ClusterAutoscalerPatch")]
    assert patch.inputs["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    assert patch.inputs["spec"]["resourceLimits"]["maxNodesTotal"] == 40  # configured: applied
    checked({"apiVersion": "autoscaling.openshift.io/v1", "kind": "ClusterAutoscaler", **patch.inputs})


# --- 2. Alertmanager ------------------------------------------------------------------------------------------


def _effective(plan: Plan) -> dict[str, Any]:
    configs = [checked(m) for m in kind(plan, "AlertmanagerConfig")]
    values = {"pagerduty-routing-key": "0123456789abcdef0123456789abcdef",
              "slack-alerts-webhook": "https://hooks.slack.com/services/T000/B000/XXXX"}
    secrets = {(m["metadata"]["namespace"], m["metadata"]["name"]) for m in kind(plan, "Secret")}

    def lookup(ns: str, name: str, key: str) -> str:
        assert (ns, name) in secrets, (ns, name)  # the referenced Secret is declared beside the config
        return values[key]

    return merge(_main_config(), configs, lookup)


def _routes(path: Path, labels: dict[str, str]) -> list[str]:
    assert AMTOOL is not None
    run = subprocess.run([AMTOOL, "config", "routes", "test", f"--config.file={path}",
                          *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr + run.stdout
    return run.stdout.strip().split(",")


def _openshift_rule(plan: Plan) -> dict[str, Any]:
    (rule,) = [m for m in kind(plan, "PrometheusRule") if m["metadata"]["namespace"] == "nvidia-gpu-operator"]
    return rule


def _fleet_alert(plan: Plan, alert: str) -> dict[str, str]:
    rule = _openshift_rule(plan)
    found = next(r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == alert)
    # What the alert carries: its rule's labels over the series' (whose namespace is the workload's).
    return {"alertname": alert, "namespace": "private-ai-demo", **found["labels"]}


@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (Debian: apt-get install prometheus-alertmanager)")
def test_only_gpu_fleet_alerts_reach_the_gpu_receivers_and_the_cluster_keeps_its_routing(
        prod_plan: Plan, tmp_path: Path) -> None:
    assert not [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:SecretPatch"]
    effective = _effective(prod_plan)
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(effective, sort_keys=False))
    check = subprocess.run([str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    oncall, slack = "gpu-fleet-alerting/gpu-fleet/gpu-oncall", "gpu-fleet-alerting/gpu-fleet/ml-platform"
    # Platform alerts: only the cluster's own receivers, as before gpu-fleet.
    assert _routes(path, {"alertname": "etcdMembersDown", "severity": "critical", "namespace": "openshift-etcd"}) \
        == ["Critical"]
    assert _routes(path, {"alertname": "KubeAPIDown", "severity": "critical"}) == ["Critical"]
    assert _routes(path, {"alertname": "Watchdog", "severity": "none", "namespace": "openshift-monitoring"}) == \
        ["Watchdog"]
    # A platform alert that happens to fire in gpu-fleet's namespace is still not a GPU page.
    assert oncall not in _routes(path, {"alertname": "KubePodCrashLooping", "severity": "critical",
                                        "namespace": "gpu-fleet-alerting"})
    # gpu-fleet's: the GPU receivers by severity, then the cluster's routes as they were (continue: true).
    xid = _fleet_alert(prod_plan, "GpuXidError")
    assert xid["severity"] == "critical" and xid["gpu_fleet"] == "true"
    assert _routes(path, xid) == [oncall, slack, "Critical"]
    idle = _fleet_alert(prod_plan, "GpuIdle")
    assert idle["severity"] != "critical"
    assert oncall not in _routes(path, idle) and slack in _routes(path, idle)
    # The cluster's receivers and inhibit rules are all still there.
    main = _main_config()
    assert effective["inhibit_rules"][:len(main["inhibit_rules"])] == main["inhibit_rules"]
    assert {r["name"] for r in main["receivers"]} <= {r["name"] for r in effective["receivers"]}


def test_alert_routing_objects_and_credentials(prod_plan: Plan) -> None:
    (ns,) = [m for m in kind(prod_plan, "Namespace") if m["metadata"]["name"] == "gpu-fleet-alerting"]
    # The platform Alertmanager selects AlertmanagerConfigs only outside cluster-monitoring namespaces.
    assert "openshift.io/cluster-monitoring" not in ns["metadata"]["labels"]
    assert ns["metadata"]["labels"].get("openshift.io/user-monitoring") != "false"
    (secret,) = [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:Secret"
                 and r.inputs["metadata"]["name"] == "gpu-fleet-receivers"]
    assert secret.inputs["stringData"] == "[secret]"
    (config,) = kind(prod_plan, "AlertmanagerConfig")
    text = yaml.safe_dump(config)
    assert "hooks.slack.com" not in text and "routing_key" not in text
    assert config["spec"]["route"]["matchers"] == [{"name": "gpu_fleet", "matchType": "=", "value": "true"}]
    rule = _openshift_rule(prod_plan)
    assert rule["metadata"]["namespace"] == "nvidia-gpu-operator"  # a platform rule: it sees every GPU
    for g in rule["spec"]["groups"]:
        for r in g["rules"]:
            assert r["labels"]["gpu_fleet"] == "true", r
            if "alert" in r:
                assert r["labels"]["namespace"] == "gpu-fleet-alerting"
                assert r["labels"]["exported_namespace"] == "{{ $labels.namespace }}"


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
def test_a_fired_alert_carries_the_routing_labels_and_keeps_the_workloads_namespace(
        prod_plan: Plan, tmp_path: Path) -> None:
    """promtool on the emitted rule: an application XID on a GPU a pod of `private-ai-demo` holds fires into
    gpu-fleet's namespace, with the workload's namespace as `exported_namespace`; on a GPU no pod holds it has none
    (series as dcgm-exporter emits them through the operator's ServiceMonitor: gpu, UUID, modelName, Hostname, the
    XID counter's `xid` and `window_size_in_ms`, and the pod's namespace when held)."""
    groups = copy.deepcopy(_openshift_rule(prod_plan)["spec"]["groups"])
    for group in groups:
        for r in group["rules"]:
            r.pop("annotations", None)  # compared by labels only
    (rules := tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    xid = {"xid": "13", "window_size_in_ms": "300000"}
    held = {"gpu": "0", "UUID": "GPU-a", "modelName": "NVIDIA L4", "Hostname": "n1", **xid}
    free = {"gpu": "1", "UUID": "GPU-b", "modelName": "NVIDIA L4", "Hostname": "n1", **xid}

    def series(labels: dict[str, str], **more: str) -> str:
        return "DCGM_EXP_XID_ERRORS_COUNT{" + ",".join(f'{k}="{v}"' for k, v in {**labels, **more}.items()) + "}"

    fired = {"severity": "warning", "gpu_fleet": "true", "namespace": "gpu-fleet-alerting"}
    spec = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": series(held, namespace="private-ai-demo", pod="llm-0"), "values": "1x40"},
                         {"series": series(free), "values": "1x40"}],
        "alert_rule_test": [{"eval_time": "31m", "alertname": "GpuXidApplicationError", "exp_alerts": [
            {"exp_labels": {**held, "pod": "llm-0", "exported_namespace": "private-ai-demo", **fired}},
            {"exp_labels": {**free, **fired}}]}],
    }]}
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(spec))
    run = subprocess.run([str(PROMTOOL), "test", "rules", "test.yaml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


# --- 3. node tuning without a reboot ----------------------------------------------------------------------------

def test_sysctls_go_through_the_node_tuning_operator_and_nodes_join_no_custom_pool(prod_plan: Plan) -> None:
    (tuned,) = kind(prod_plan, "Tuned")
    checked(tuned)
    assert tuned["metadata"]["namespace"] == "openshift-cluster-node-tuning-operator"
    (recommend,) = tuned["spec"]["recommend"]
    assert "machineConfigLabels" not in recommend  # that would render a MachineConfig and reboot the pool
    assert recommend["match"] == [{"label": "gpu-fleet/tuning", "value": "tensor-parallel"}]
    assert recommend["priority"] < 40  # stronger than the operator's default openshift-node
    (profile,) = tuned["spec"]["profile"]
    assert profile["name"] == recommend["profile"]
    data = profile["data"]
    assert "include=openshift-node" in data and "\n[sysctl]\n" in data
    assert 'net.ipv4.tcp_rmem="4096 87380 16777216"\n' in data and "net.core.rmem_max=16777216\n" in data
    # prod's only profile is sysctls: no MachineConfigPool, no MachineConfig, nobody moves or reboots.
    assert kind(prod_plan, "MachineConfigPool") == [] and kind(prod_plan, "MachineConfig") == []
    sets = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["metadata"]["labels"]
            for m in kind(prod_plan, "MachineSet")}
    tuned_sets = [n for n, labels in sets.items() if labels.get("gpu-fleet/tuning") == "tensor-parallel"]
    assert sorted(tuned_sets) == ["ocp-ai-7xk2p-gpu-l4x4-us-east-2a", "ocp-ai-7xk2p-gpu-l4x4-us-east-2b"]
    assert all("node-role.kubernetes.io/worker-gpu" in labels for labels in sets.values())


def test_only_kernel_arguments_and_units_cost_a_custom_pool(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    cluster_of(doc)["tuning"].append({"name": "iommu", "kernel_arguments": ["intel_iommu=on"],
                                      "sysctls": {"vm.max_map_count": "262144"}})
    cluster_of(doc)["gpu_pools"][0]["tuning"] = "iommu"
    plan = plan_doc(doc, "prod")
    (pool,) = [checked(m) for m in kind(plan, "MachineConfigPool")]
    (mc,) = [checked(m) for m in kind(plan, "MachineConfig")]
    assert pool["metadata"]["name"] == "worker-gpu-iommu"
    assert mc["spec"]["kernelArguments"] == ["intel_iommu=on"]
    assert "storage" not in mc["spec"]["config"]  # the sysctls are the Tuned's, not files
    assert sorted(t["metadata"]["name"] for t in kind(plan, "Tuned")) == ["gpu-fleet-iommu",
                                                                           "gpu-fleet-tensor-parallel"]
    labels = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["metadata"]["labels"]
              for m in kind(plan, "MachineSet")}
    iommu = labels["ocp-ai-7xk2p-gpu-l4x1-us-east-2a"]
    assert pool["spec"]["nodeSelector"]["matchLabels"].items() <= iommu.items()
    assert iommu["gpu-fleet/tuning"] == "iommu"
    for name, node in labels.items():
        if name != "ocp-ai-7xk2p-gpu-l4x1-us-east-2a":
            assert not pool["spec"]["nodeSelector"]["matchLabels"].items() <= node.items()


# --- 4. what the GPU operators expect ------------------------------------------------------------------------------

def test_manual_approval_pins_the_first_install_and_sources_come_from_config(
        plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    cluster_of(doc)["operators"] = {
        "nfd": {"channel": "stable", "approval": "manual", "starting_csv": "nfd.4.20.0-202609010000",
                "source": "cs-redhat-operator-index", "source_namespace": "openshift-marketplace"},
        "gpu_operator": {"channel": "v26.7", "approval": "manual", "source": "cs-certified-operator-index"}}
    plan = plan_doc(doc, "prod")
    subs = {m["metadata"]["name"]: checked(m)["spec"] for m in kind(plan, "Subscription")}
    assert subs["nfd"] == {"channel": "stable", "name": "nfd", "source": "cs-redhat-operator-index",
                           "sourceNamespace": "openshift-marketplace", "installPlanApproval": "Manual",
                           "startingCSV": "nfd.4.20.0-202609010000"}
    assert subs["gpu-operator-certified"]["startingCSV"] == "gpu-operator-certified.v26.7.0"
    assert subs["gpu-operator-certified"]["source"] == "cs-certified-operator-index"
    assert run_resource_policy_over("openshift-olm-subscriptions", plan, {}) == []

    def unpinned(inputs: dict[str, Any]) -> None:
        inputs["spec"].pop("startingCSV")

    (message,) = run_resource_policy_over("openshift-olm-subscriptions",
                                          with_inputs(plan, "openshift-ocp-ai-nfd-subscription", unpinned), {})
    assert "Manual approval but no startingCSV" in message


def test_defaults_keep_the_red_hat_and_certified_catalogs(prod_plan: Plan) -> None:
    subs = {m["metadata"]["name"]: m["spec"] for m in kind(prod_plan, "Subscription")}
    assert (subs["nfd"]["source"], subs["gpu-operator-certified"]["source"]) == ("redhat-operators",
                                                                                  "certified-operators")
    assert {s["sourceNamespace"] for s in subs.values()} == {"openshift-marketplace"}
    assert {s["installPlanApproval"] for s in subs.values()} == {"Automatic"}


def test_the_workers_kms_key_encrypts_the_gpu_root_volumes(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    arn = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    cluster_of(doc)["root_volume_kms_key"] = arn
    for ms in kind(plan_doc(doc, "prod"), "MachineSet"):
        (device,) = ms["spec"]["template"]["spec"]["providerSpec"]["value"]["blockDevices"]
        assert device["ebs"] == {"encrypted": True, "kmsKey": {"arn": arn}, "volumeSize": 300, "volumeType": "gp3"}


def test_each_gpu_machine_set_has_a_health_check(prod_plan: Plan, plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    checks = {m["metadata"]["name"]: checked(m) for m in kind(prod_plan, "MachineHealthCheck")}
    sets = {m["metadata"]["name"]: m for m in kind(prod_plan, "MachineSet")}
    assert set(checks) == set(sets)
    for name, check in checks.items():
        assert check["metadata"]["namespace"] == "openshift-machine-api"
        template = sets[name]["spec"]["template"]["metadata"]["labels"]
        assert check["spec"]["selector"]["matchLabels"].items() <= template.items()
        assert check["spec"]["maxUnhealthy"] == 1
        assert check["spec"]["nodeStartupTimeout"] == "30m"
        assert {(c["status"], c["timeout"]) for c in check["spec"]["unhealthyConditions"]} == \
            {("False", "15m"), ("Unknown", "15m")}
    urn = {r.name: r.urn for r in prod_plan.resources}
    health = recorded(prod_plan, "openshift-ocp-ai-l4x1-us-east-2a-health")
    assert urn["openshift-ocp-ai-l4x1-us-east-2a"] in health.dependencies
    doc = openshift_only(prod_doc)
    cluster_of(doc)["gpu_pools"][0]["health_check"] = None
    names = {m["metadata"]["name"] for m in kind(plan_doc(doc, "prod"), "MachineHealthCheck")}
    assert "ocp-ai-7xk2p-gpu-l4x1-us-east-2a" not in names and len(names) == 2


def test_time_slicing_and_mig_per_pool_count_physical_gpus(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    c = cluster_of(doc)
    c["gpu_pools"][0]["sharing"] = {"time_slicing": {"replicas": 4}}
    c["gpu_pools"].append({"name": "a100", "instance_type": "p4de.24xlarge", "zones": ["us-east-2a"],
                           "autoscaling": {"max_nodes": 1}, "sharing": {"mig": "1g.10gb"}})
    plan = plan_doc(doc, "prod")
    (cm,) = [m for m in kind(plan, "ConfigMap") if m["metadata"]["name"] == "gpu-fleet-device-plugin"]
    validate(cm)
    assert cm["metadata"]["namespace"] == "nvidia-gpu-operator"
    assert yaml.safe_load(cm["data"]["time-sliced-4"]) == {
        "version": "v1", "sharing": {"timeSlicing": {"renameByDefault": False, "resources": [
            {"name": "nvidia.com/gpu", "replicas": 4}]}}}
    (policy,) = [checked(m) for m in kind(plan, "ClusterPolicy")]
    assert policy["spec"]["devicePlugin"]["config"] == {"name": "gpu-fleet-device-plugin"}
    assert policy["spec"]["mig"]["strategy"] == "single"
    labels = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["metadata"]["labels"]
              for m in kind(plan, "MachineSet")}
    assert labels["ocp-ai-7xk2p-gpu-l4x1-us-east-2a"]["nvidia.com/device-plugin.config"] == "time-sliced-4"
    assert labels["ocp-ai-7xk2p-gpu-a100-us-east-2a"]["nvidia.com/mig.config"] == "all-1g.10gb"
    # The MIG manager's default ConfigMap has that layout (NVIDIA/gpu-operator assets/state-mig-manager).
    urn = {r.name: r.urn for r in plan.resources}
    policy_deps = recorded(plan, "openshift-ocp-ai-cluster-policy").dependencies
    assert urn["openshift-ocp-ai-device-plugin-config"] in policy_deps
    rows = {r.pool: r for r in plan.capacity if r.platform == "openshift"}
    assert (rows["l4x1"].gpus_per_node, rows["l4x1"].max_gpus) == (1, 2)  # one L4 each, however many pods share it
    assert (rows["a100"].gpus_per_node, rows["a100"].max_gpus) == (8, 8)
    # Without sharing, no ConfigMap and the ClusterPolicy names none.
    (plain,) = kind(plan_doc(openshift_only(prod_doc), "prod"), "ClusterPolicy")
    assert "config" not in plain["spec"]["devicePlugin"]


def test_capacity_reservations_and_blocks(plan_doc: Any, prod_doc: dict[str, Any]) -> None:
    doc = openshift_only(prod_doc)
    c = cluster_of(doc)
    c["gpu_pools"][0].update(capacity="capacity-block", capacity_reservation_id="cr-0123456789abcdef0")
    c["gpu_pools"].append({"name": "odcr", "instance_type": "g6.4xlarge", "zones": ["us-east-2b"],
                           "autoscaling": {"max_nodes": 1}, "capacity_reservation_id": "cr-0fedcba9876543210"})
    plan = plan_doc(doc, "prod")
    values = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["providerSpec"]["value"]
              for m in kind(plan, "MachineSet")}
    block = values["ocp-ai-7xk2p-gpu-l4x1-us-east-2a"]
    assert (block["marketType"], block["capacityReservationId"]) == ("CapacityBlock", "cr-0123456789abcdef0")
    assert "spotMarketOptions" not in block
    odcr = values["ocp-ai-7xk2p-gpu-odcr-us-east-2b"]
    assert odcr["capacityReservationId"] == "cr-0fedcba9876543210" and "marketType" not in odcr
    rows = {r.pool: r for r in plan.capacity if r.platform == "openshift"}
    assert rows["l4x1"].capacity == rows["odcr"].capacity == "reserved" and not rows["l4x1"].spot
    assert run_resource_policy_over("openshift-gpu-machines", plan, {}) == []


def test_the_plan_says_the_openshift_subscription_is_left_out(prod_plan: Plan, plan_doc: Any,
                                                              dev_doc: dict[str, Any]) -> None:
    text = markdown(prod_plan)
    assert "OpenShift (ocp-ai): the cost is the GPU machines' EC2 price only; the OpenShift subscription" in text
    if not dev_doc["config"].get(KEY):
        assert "OpenShift subscription" not in markdown(plan_doc(dev_doc, "dev"))


def test_reference_copies_are_the_upstream_files() -> None:
    """The CRDs copied under tests/reference name a kind the shared set lacks (README there says which commit)."""
    local = {p.name for p in (ROOT / "tests" / "reference/crds").glob("*.yaml")}
    shared = {p.name for p in (REFERENCE / "crds").glob("*.yaml")}
    assert {"tuned.openshift.io_tuneds.yaml", "machine.openshift.io_machinehealthchecks.yaml",
            "monitoring.coreos.com_alertmanagerconfigs.yaml"} <= local
    assert not local & shared
    for kind_ in (("tuned.openshift.io/v1", "Tuned"), ("machine.openshift.io/v1beta1", "MachineHealthCheck"),
                  ("monitoring.coreos.com/v1beta1", "AlertmanagerConfig")):
        assert kind_ in crd_schemas()
