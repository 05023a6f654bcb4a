"""GPU machines on OpenShift: a MachineSet per pool and zone, and the MachineAutoscaler that sizes it.

Each MachineSet (machine.openshift.io/v1beta1, AWS provider spec) takes its instance type from the catalog and
every cluster fact (infrastructure id, AMI, instance profile, subnet, security groups) from the validated
config. Its nodes carry the fleet's GPU taint, the `cluster-api/accelerator` label the cluster autoscaler's GPU
limits match, and the role label of their MachineConfigPool. Sets are created with zero replicas (the CRD's
default is one billed machine); an autoscaled set's `spec.replicas` then belongs to the autoscaler, and where
the Machine Config Operator manages boot images, the AMI belongs to it.
"""

from __future__ import annotations

from typing import Any

from components import catalog
from components.config.openshift import (
    AwsReference,
    BootImages,
    Capacity,
    OpenShiftCluster,
    OpenShiftGpuPool,
    TuningProfile,
)
from components.config.openshift_rules import machine_set_name
from components.kubernetes.conventions import (
    ACCELERATOR_LABEL,
    GPU_TAINT,
    LABEL_CAPACITY,
    LABEL_CLUSTER,
    LABEL_CRITICAL,
    LABEL_POOL,
    LABEL_REGION,
    accelerator_value,
)
from components.openshift.sharing import sharing_labels
from components.openshift.tuning import TUNING_LABEL

MACHINE_API = "machine.openshift.io/v1beta1"
AUTOSCALING_API = "autoscaling.openshift.io/v1beta1"
MACHINE_NAMESPACE = "openshift-machine-api"
MACHINESET_TYPE = f"kubernetes:{MACHINE_API}:MachineSet"
MACHINEAUTOSCALER_TYPE = f"kubernetes:{AUTOSCALING_API}:MachineAutoscaler"
PLAIN_GPU_ROLE = "worker-gpu"
"""Role label of GPU nodes whose pool needs no MachineConfig: no MachineConfigPool selects it, so they stay in
`worker` (one boot), and `oc get nodes` still shows them as GPU workers."""
CLUSTER_LABEL = "machine.openshift.io/cluster-api-cluster"
MACHINESET_LABEL = "machine.openshift.io/cluster-api-machineset"
REPLICAS_PATH = "spec.replicas"
AMI_PATH = "spec.template.spec.providerSpec.value.ami"


def accelerator(instance_type: str) -> str:
    """The `cluster-api/accelerator` value of an instance type's GPU: `nvidia-<catalog id>`, a valid label value."""
    return accelerator_value(catalog.machine_type(instance_type).gpu)


def profile(cluster: OpenShiftCluster, pool: OpenShiftGpuPool) -> TuningProfile | None:
    """The pool's tuning profile (the rules refuse a list or an unknown name before this runs)."""
    return next((t for t in cluster.tuning if t.name == pool.tuning), None) if isinstance(pool.tuning, str) else None


def node_role(cluster: OpenShiftCluster, pool: OpenShiftGpuPool) -> str:
    """The node role of the pool's nodes.

    `worker-gpu-<profile>` (its MachineConfigPool) when the profile needs a MachineConfig, else the plain
    `worker-gpu` role no pool selects.
    """
    tuning = profile(cluster, pool)
    return f"worker-gpu-{tuning.name}" if tuning is not None and tuning.needs_machine_config else PLAIN_GPU_ROLE


def pool_roles(cluster: OpenShiftCluster) -> list[str]:
    """The custom MachineConfigPools: one per tuning profile that needs a MachineConfig, in a stable order."""
    return sorted(f"worker-gpu-{t.name}" for t in cluster.tuning if t.needs_machine_config)


def _reference(ref: AwsReference) -> dict[str, Any]:
    if ref.id is not None:
        return {"id": ref.id}
    return {"filters": [{"name": "tag:Name", "values": [ref.filter]}]}


def provider_spec(cluster: OpenShiftCluster, pool: OpenShiftGpuPool, zone: str,
                  tags: dict[str, str]) -> dict[str, Any]:
    """The AWSMachineProviderConfig of one zone's machines (what the installer's worker MachineSets carry)."""
    infra = cluster.infrastructure_id
    aws_tags = [{"name": f"kubernetes.io/cluster/{infra}", "value": "owned"},
                *({"name": k, "value": v} for k, v in sorted(tags.items()))]
    spec: dict[str, Any] = {
        "apiVersion": MACHINE_API,
        "kind": "AWSMachineProviderConfig",
        "ami": {"id": cluster.ami},
        "instanceType": pool.instance_type,
        "placement": {"region": cluster.region, "availabilityZone": zone},
        "subnet": _reference(cluster.subnets[zone]),
        "securityGroups": [_reference(sg) for sg in cluster.security_groups],
        "iamInstanceProfile": {"id": cluster.iam_instance_profile},
        "blockDevices": [{"ebs": _root_volume(cluster, pool)}],
        "metadataServiceOptions": {"authentication": "Required"},
        "tags": aws_tags,
        "userDataSecret": {"name": "worker-user-data"},
        "credentialsSecret": {"name": "aws-cloud-credentials"},
        "deviceIndex": 0,
    }
    if pool.efa:
        # The one interface a Machine API machine has (OPENSHIFT_AWS_MAX_EFA_INTERFACES): EFA instead of ENA.
        spec["networkInterfaceType"] = "EFA"
    if pool.capacity is Capacity.SPOT:
        # "Most users should provide an empty struct": capped at the On-Demand price (MAPI AWS provider docs).
        spec["spotMarketOptions"] = {}
    spec.update(_reservation(pool))
    return spec


def _root_volume(cluster: OpenShiftCluster, pool: OpenShiftGpuPool) -> dict[str, Any]:
    ebs: dict[str, Any] = {"encrypted": True, "volumeSize": pool.root_volume_gb, "volumeType": "gp3"}
    if cluster.root_volume_kms_key is not None:
        # openshift/api machine/v1beta1 EBSBlockDeviceSpec `kmsKey` (an AWSResourceReference: id, arn or filters);
        # machine-api-provider-aws passes its `arn` to RunInstances as the volume's KmsKeyId.
        ebs["kmsKey"] = {"arn": cluster.root_volume_kms_key}
    return ebs


def _reservation(pool: OpenShiftGpuPool) -> dict[str, Any]:
    """`capacityReservationId` and, for a Capacity Block, `marketType: CapacityBlock`.

    Both are openshift/api AWSMachineProviderConfig fields; machine-api-provider-aws `instances.go` refuses
    CapacityBlock without the id.
    """
    out: dict[str, Any] = {}
    if pool.capacity_reservation_id is not None:
        out["capacityReservationId"] = pool.capacity_reservation_id
    if pool.capacity is Capacity.CAPACITY_BLOCK:
        out["marketType"] = "CapacityBlock"
    return out


def machine_set(cluster: OpenShiftCluster, pool: OpenShiftGpuPool, zone: str,
                tags: dict[str, str]) -> dict[str, Any]:
    """The MachineSet manifest (without apiVersion/kind) of `pool` in `zone`."""
    name = machine_set_name(cluster.infrastructure_id, pool.name, zone)
    selector = {CLUSTER_LABEL: cluster.infrastructure_id, MACHINESET_LABEL: name}
    tuning = profile(cluster, pool)
    node_labels = {
        f"node-role.kubernetes.io/{node_role(cluster, pool)}": "",
        ACCELERATOR_LABEL: accelerator(pool.instance_type),
        **({TUNING_LABEL: tuning.name} if tuning is not None and tuning.sysctls else {}),
        **sharing_labels(pool),
        LABEL_CLUSTER: cluster.name, LABEL_POOL: pool.name, LABEL_CAPACITY: pool.capacity.value,
        **({LABEL_CRITICAL: "true"} if pool.production_critical else {}),
        **pool.labels,
    }
    return {
        "metadata": {
            "name": name, "namespace": MACHINE_NAMESPACE,
            "labels": {CLUSTER_LABEL: cluster.infrastructure_id, LABEL_CLUSTER: cluster.name,
                       LABEL_REGION: cluster.region, LABEL_POOL: pool.name,
                       **({LABEL_CRITICAL: "true"} if pool.production_critical else {})},
        },
        "spec": {
            "replicas": 0 if pool.autoscaling is not None else pool.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**selector, "machine.openshift.io/cluster-api-machine-role": "worker",
                                        "machine.openshift.io/cluster-api-machine-type": "worker"}},
                "spec": {
                    "metadata": {"labels": node_labels},
                    "taints": [{"key": GPU_TAINT[0], "value": GPU_TAINT[1], "effect": "NoSchedule"}],
                    "providerSpec": {"value": provider_spec(cluster, pool, zone, tags)},
                },
            },
        },
    }


def ignored_fields(cluster: OpenShiftCluster, pool: OpenShiftGpuPool) -> list[str]:
    """Fields another controller owns once the set exists: replicas (the autoscaler), the AMI (the MCO)."""
    ignored = [REPLICAS_PATH] if pool.autoscaling is not None else []
    if cluster.boot_images is BootImages.MANAGED:
        ignored.append(AMI_PATH)
    return ignored


def machine_autoscaler(cluster: OpenShiftCluster, pool: OpenShiftGpuPool, zone: str) -> dict[str, Any]:
    """The MachineAutoscaler of one zone's MachineSet (it lives beside it, in openshift-machine-api)."""
    assert pool.autoscaling is not None
    name = machine_set_name(cluster.infrastructure_id, pool.name, zone)
    return {
        "metadata": {"name": name, "namespace": MACHINE_NAMESPACE,
                     "labels": {LABEL_CLUSTER: cluster.name, LABEL_POOL: pool.name}},
        "spec": {"minReplicas": pool.autoscaling.min_nodes, "maxReplicas": pool.autoscaling.max_nodes,
                 "scaleTargetRef": {"apiVersion": MACHINE_API, "kind": "MachineSet", "name": name}},
    }


def machine_health_check(cluster: OpenShiftCluster, pool: OpenShiftGpuPool, zone: str) -> dict[str, Any] | None:
    """The MachineHealthCheck of one zone's MachineSet (machine.openshift.io/v1beta1), or None when disabled.

    It selects the set's machines by the `cluster-api-machineset` label the set stamps on them, and replaces a
    machine whose node is NotReady or Unknown past the timeout, or that never became a node.
    """
    check = pool.health_check
    if check is None:
        return None
    name = machine_set_name(cluster.infrastructure_id, pool.name, zone)
    return {
        "metadata": {"name": name, "namespace": MACHINE_NAMESPACE,
                     "labels": {LABEL_CLUSTER: cluster.name, LABEL_POOL: pool.name}},
        "spec": {
            "selector": {"matchLabels": {CLUSTER_LABEL: cluster.infrastructure_id, MACHINESET_LABEL: name}},
            "unhealthyConditions": [{"type": "Ready", "status": status, "timeout": check.unhealthy_timeout}
                                    for status in ("False", "Unknown")],
            "maxUnhealthy": check.max_unhealthy,
            "nodeStartupTimeout": check.node_startup_timeout,
        },
    }
