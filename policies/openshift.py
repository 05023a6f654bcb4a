"""OpenShift guardrails: what keeps GPU MachineSets safe, bounded and installable on a real `pulumi up`.

- `openshift-gpu-machines`: a GPU MachineSet taints its nodes (`nvidia.com/gpu` NoSchedule), labels them with
  a valid `cluster-api/accelerator` value, requires IMDSv2 and encrypts its root volume.
- `openshift-autoscaler-gpu-limits` (stack): the cluster autoscaler is the object named `default`, and every
  accelerator an autoscaled GPU MachineSet carries has a `resourceLimits.gpus` entry of that type, so the
  autoscaler's GPU total bounds it (a type no entry matches is never limited).
- `openshift-olm-subscriptions`: the first install completes: every Subscription waits for its installed CSV
  (or the operators' custom resources fail on a fresh cluster), and one with Manual approval pins `startingCSV`
  (OLM creates even the first InstallPlan unapproved; pinned, the plan someone approves installs the reviewed
  version). Manual approval of later upgrades is allowed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components import catalog
from components.capacity.openshift import MACHINEAUTOSCALER, MACHINESET, provider_spec
from components.config.checks import K8S_LABEL_VALUE
from components.kubernetes.conventions import ACCELERATOR_LABEL, GPU_TAINT, LABEL_CLUSTER, LABEL_POOL
from components.openshift.olm import WAIT_FOR_CSV
from policies.view import plain, views

SUBSCRIPTION = "kubernetes:operators.coreos.com/v1alpha1:Subscription"
CLUSTER_AUTOSCALER = "kubernetes:autoscaling.openshift.io/v1:ClusterAutoscaler"
CLUSTER_AUTOSCALER_PATCH = f"{CLUSTER_AUTOSCALER}Patch"


def _machine_set_path(p: Mapping[str, Any]) -> str:
    labels = (p.get("metadata") or {}).get("labels") or {}
    name = (p.get("metadata") or {}).get("name")
    if labels.get(LABEL_POOL):
        return f"MachineSet {name!r} (openshift.clusters[{labels.get(LABEL_CLUSTER)}].gpu_pools[{labels[LABEL_POOL]}])"
    return f"MachineSet {name!r}"


def _template(p: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((p.get("spec") or {}).get("template") or {}).get("spec") or {}


def gpu_machine_problems(p: Mapping[str, Any]) -> list[str]:
    value = provider_spec(p)
    machine = catalog.find_machine_type(str(value.get("instanceType") or ""))
    if machine is None or not machine.gpus:
        return []
    problems = []
    template = _template(p)
    if not any(isinstance(t, Mapping) and t.get("key") == GPU_TAINT[0] and t.get("effect") == "NoSchedule"
               for t in template.get("taints") or []):
        problems.append(f"its nodes lack the {GPU_TAINT[0]} NoSchedule taint, so any pod may land on a GPU machine")
    label = ((template.get("metadata") or {}).get("labels") or {}).get(ACCELERATOR_LABEL)
    if not isinstance(label, str) or not label or not K8S_LABEL_VALUE.match(label):
        problems.append(f"its nodes have no valid {ACCELERATOR_LABEL} label, so the cluster autoscaler neither "
                        "limits its GPUs nor waits for the driver before adding another machine")
    if (value.get("metadataServiceOptions") or {}).get("authentication") != "Required":
        problems.append("its machines allow IMDSv1 (metadataServiceOptions.authentication must be Required)")
    devices = value.get("blockDevices") or []
    if not devices or not all(((d or {}).get("ebs") or {}).get("encrypted") is True for d in devices):
        problems.append("its volumes are not all encrypted")
    return problems


def _gpu_machines(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != MACHINESET:
        return
    p = plain(args.props)
    problems = gpu_machine_problems(p)
    if problems:
        report(f"{_machine_set_path(p)}: " + "; ".join(problems) + ". gpu-fleet sets all of these "
               "(components/openshift/machines.py); restore them.", None)


def _subscriptions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SUBSCRIPTION:
        return
    p = plain(args.props)
    meta = p.get("metadata") or {}
    spec = p.get("spec") or {}
    if spec.get("installPlanApproval", "Automatic") == "Manual" and not spec.get("startingCSV"):
        report(f"Subscription {meta.get('name')!r} has Manual approval but no startingCSV: the first InstallPlan "
               "someone approves would install whatever the channel's head is by then. Pin it "
               "(openshift.clusters[...].operators.<operator>.starting_csv) or use Automatic.", None)
    if (meta.get("annotations") or {}).get("pulumi.com/waitFor") != WAIT_FOR_CSV:
        report(f"Subscription {meta.get('name')!r} does not wait for its installed CSV "
               f"(pulumi.com/waitFor: {WAIT_FOR_CSV}), so the operator's custom resources fail on a fresh "
               "cluster: pulumi-kubernetes gives a missing kind about 30 seconds.", None)


def _autoscaler_limits(args: StackValidationArgs, report: ReportViolation) -> None:
    resources = views(args.resources)
    scaled = {(str(((r.inputs.get("metadata") or {}).get("labels") or {}).get(LABEL_CLUSTER) or ""),
               str(((r.inputs.get("spec") or {}).get("scaleTargetRef") or {}).get("name") or ""))
              for r in resources if r.type == MACHINEAUTOSCALER}
    limited: dict[str, set[str]] = defaultdict(set)
    for r in args.resources:
        if r.resource_type not in (CLUSTER_AUTOSCALER, CLUSTER_AUTOSCALER_PATCH):
            continue
        p = plain(r.props)
        name = (p.get("metadata") or {}).get("name")
        if name != "default":
            report(f"ClusterAutoscaler {name!r} is ignored: OpenShift honours only the one named `default`.", r.urn)
        key = str(((p.get("metadata") or {}).get("labels") or {}).get(LABEL_CLUSTER) or "")
        for g in ((p.get("spec") or {}).get("resourceLimits") or {}).get("gpus") or []:
            if isinstance(g, Mapping):
                limited[key].add(str(g.get("type")))
    for r in args.resources:
        if r.resource_type != MACHINESET:
            continue
        p = plain(r.props)
        labels = (p.get("metadata") or {}).get("labels") or {}
        if (str(labels.get(LABEL_CLUSTER) or ""), str((p.get("metadata") or {}).get("name"))) not in scaled:
            continue
        machine = catalog.find_machine_type(str(provider_spec(p).get("instanceType") or ""))
        if machine is None or not machine.gpus:
            continue
        label = ((_template(p).get("metadata") or {}).get("labels") or {}).get(ACCELERATOR_LABEL)
        if label not in limited.get(str(labels.get(LABEL_CLUSTER) or ""), set()):
            report(f"{_machine_set_path(p)} is autoscaled, but the cluster's ClusterAutoscaler has no "
                   f"resourceLimits.gpus entry of type {label!r}, so nothing caps its GPUs. gpu-fleet derives "
                   "one per accelerator (components/openshift/autoscaler.py); restore it.", r.urn)


POLICIES = [
    ResourceValidationPolicy(
        name="openshift-gpu-machines",
        description="GPU MachineSets taint and label their nodes, require IMDSv2 and encrypt their volumes.",
        validate=_gpu_machines, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={})),
    StackValidationPolicy(
        name="openshift-autoscaler-gpu-limits",
        description="The ClusterAutoscaler is `default` and limits the GPUs of every autoscaled GPU MachineSet.",
        validate=_autoscaler_limits, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={})),
    ResourceValidationPolicy(
        name="openshift-olm-subscriptions",
        description="OLM Subscriptions wait for their installed CSV, and pin startingCSV when approval is Manual.",
        validate=_subscriptions, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={})),
]
