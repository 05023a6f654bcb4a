"""The API objects of an installer-provisioned OpenShift cluster on AWS, built the way upstream builds them.

Each builder follows the upstream code or test data named in its docstring, field for field, as Go's encoding/json
writes it (pointer fields omitted when nil, struct fields always present, `omitempty` honoured), plus what the API
server adds (uid, resourceVersion, creationTimestamp, generation). Two naming generations of the installer exist,
and clusters keep the names they were installed with across upgrades:

- `Naming.TERRAFORM` (installs up to 4.15, Terraform-made infrastructure): subnet `<infra>-private-<zone>`, one
  security group `<infra>-worker-sg`. openshift/installer `pkg/asset/machines/aws/machines.go` before the CAPA
  switch (the version whose `Machines` takes `subnets map[string]string`; stored file id 2081185779), and the same
  names in openshift/machine-api-operator @9511961 `docs/examples/machine.yaml`.
- `Naming.CAPA` (installs from 4.16, Cluster API Provider AWS): subnet `<infra>-subnet-private-<zone>`, security
  groups `<infra>-node` and `<infra>-lb`. openshift/installer @0596d25 `pkg/asset/machines/aws/machines.go`
  `provider()`.

In both, a worker MachineSet's own labels hold only `machine.openshift.io/cluster-api-cluster`; the role and type
labels are on `spec.template.metadata.labels` (openshift/installer @0596d25 `pkg/asset/machines/aws/machinesets.go`).
"""

from __future__ import annotations

import json
import uuid
from enum import Enum
from typing import Any

Object = dict[str, Any]
CREATED = "2026-09-30T12:00:00Z"


class Naming(str, Enum):
    TERRAFORM = "terraform"
    CAPA = "capa"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> Object:
    """ObjectMeta as the API server returns it for a stored object."""
    meta: Object = {"name": name, **({"namespace": namespace} if namespace else {}),
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}")),
                    "creationTimestamp": CREATED, "generation": 1}
    meta.update(extra)
    return meta


def infrastructure(infra_id: str, region: str, *, tags: dict[str, str] | None = None) -> Object:
    """`Infrastructure cluster`: openshift/api @2a3d739 `config/v1/types_infrastructure.go` (InfrastructureStatus,
    AWSPlatformStatus) in the shape of `config/v1/tests/infrastructures.config.openshift.io/AAA_ungated.yaml`'s
    AWS case."""
    domain = f"{infra_id.rsplit('-', 1)[0]}.example.com"
    return {
        "apiVersion": "config.openshift.io/v1", "kind": "Infrastructure", "metadata": _meta("cluster"),
        "spec": {"cloudConfig": {"name": ""}, "platformSpec": {"aws": {}, "type": "AWS"}},
        "status": {
            "apiServerInternalURI": f"https://api-int.{domain}:6443", "apiServerURL": f"https://api.{domain}:6443",
            "controlPlaneTopology": "HighlyAvailable", "cpuPartitioning": "None", "etcdDiscoveryDomain": "",
            "infrastructureName": infra_id, "infrastructureTopology": "HighlyAvailable", "platform": "AWS",
            "platformStatus": {"aws": {"region": region, "resourceTags": [{"key": k, "value": v} for k, v in
                                                                          (tags or {}).items()]},
                               "type": "AWS"},
        },
    }


def cluster_version(version: str, *, installed: str | None = None) -> Object:
    """`ClusterVersion version`: openshift/api @2a3d739 `config/v1/types_cluster_version.go` (status.desired is a
    Release; status.history newest first, each an UpdateHistory)."""
    history = [{"state": "Completed", "version": v, "image": f"quay.io/openshift-release-dev/ocp-release:{v}"
                "-x86_64", "startedTime": CREATED, "completionTime": CREATED, "verified": v != installed}
               for v in dict.fromkeys([version, installed or version])]
    return {
        "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": _meta("version"),
        "spec": {"channel": f"stable-{'.'.join(version.split('.')[:2])}",
                 "clusterID": "0c6e4c4c-2b1f-4a58-9d9e-4f4e8c3c1a11"},
        "status": {"desired": {"version": version, "image": history[0]["image"],
                               "channels": [f"stable-{'.'.join(version.split('.')[:2])}"]},
                   "history": history, "observedGeneration": 1, "versionHash": "x1y2z3", "availableUpdates": None,
                   "capabilities": {}},
    }


def boot_images(release: str, amis: dict[str, str]) -> Object:
    """The MCO's `coreos-bootimages` ConfigMap: the installer's coreos-manifest generator (openshift/installer, stored
    file id 5748077843) writes `releaseVersion` and `stream`, the CoreOS stream JSON of `data/data/coreos/rhcos.json`
    (architectures.<arch>.images.aws.regions.<region>.{release, image})."""
    stream = {"stream": "rhcos-4.20", "metadata": {"last-modified": CREATED},
              "architectures": {"x86_64": {"images": {"aws": {"regions": {
                  region: {"release": "9.6.20260930-0", "image": ami} for region, ami in amis.items()}}}}}}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta("coreos-bootimages", "openshift-machine-config-operator", annotations={
                "include.release.openshift.io/self-managed-high-availability": "true"}),
            "data": {"releaseVersion": release, "stream": json.dumps(stream)}}


def _name_filter(value: str) -> Object:
    return {"filters": [{"name": "tag:Name", "values": [value]}]}


def provider_spec(infra_id: str, region: str, zone: str, *, naming: Naming, ami: str, kms_key_arn: str = "",
                  subnet_id: str | None = None, extra_security_groups: tuple[str, ...] = (),
                  instance_type: str = "m6i.xlarge", role: str = "worker") -> Object:
    """AWSMachineProviderConfig of `provider()` in openshift/installer `pkg/asset/machines/aws/machines.go`
    (both generations; see the module docstring), serialized per openshift/api @2a3d739
    `machine/v1beta1/types_awsprovider.go`: `capacityReservationId` and `deviceIndex` have no omitempty,
    `kmsKey` and `metadataServiceOptions` are structs (always written), the embedded ObjectMeta writes
    `creationTimestamp: null`. Root volume: the installer's default worker volume (120 GiB gp3)."""
    if naming is Naming.CAPA:
        groups = [_name_filter(f"{infra_id}-node"), _name_filter(f"{infra_id}-lb")]
        subnet_name = f"{infra_id}-subnet-private-{zone}"
    else:
        groups = [_name_filter(f"{infra_id}-{role}-sg")]
        subnet_name = f"{infra_id}-private-{zone}"
    groups += [{"id": sg} for sg in sorted(extra_security_groups)]
    return {
        "apiVersion": "machine.openshift.io/v1beta1", "kind": "AWSMachineProviderConfig",
        "metadata": {"creationTimestamp": None},
        "ami": {"id": ami}, "instanceType": instance_type,
        "tags": [{"name": f"kubernetes.io/cluster/{infra_id}", "value": "owned"}],
        "iamInstanceProfile": {"id": f"{infra_id}-{role}-profile"},
        "userDataSecret": {"name": f"{role}-user-data"}, "credentialsSecret": {"name": "aws-cloud-credentials"},
        "deviceIndex": 0, "securityGroups": groups,
        "subnet": {"id": subnet_id} if subnet_id else _name_filter(subnet_name),
        "placement": {"region": region, "availabilityZone": zone},
        "blockDevices": [{"ebs": {"encrypted": True, "iops": 0, "kmsKey": {"arn": kms_key_arn},
                                  "volumeSize": 120, "volumeType": "gp3"}}],
        "metadataServiceOptions": {},
        # A field of the current API type without omitempty; installers from before it existed did not write it.
        **({"capacityReservationId": ""} if naming is Naming.CAPA else {}),
    }


def machine_set(infra_id: str, region: str, zone: str, *, naming: Naming, ami: str, pool: str = "worker",
                role: str = "worker", replicas: int = 1, **provider: Any) -> Object:
    """An installer MachineSet (openshift/installer @0596d25 `pkg/asset/machines/aws/machinesets.go`) as the API
    serves it once machine-api-provider-aws has annotated it (openshift/machine-api-provider-aws @1071858
    `pkg/actuators/machineset/controller.go` as ../shared/research/openshift-review.md cites it: vCPU, memoryMb,
    GPU and the autoscaler's arch label)."""
    name = f"{infra_id}-{pool}-{zone}"
    return {
        "apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
        "metadata": _meta(name, "openshift-machine-api", generation=2,
                          labels={"machine.openshift.io/cluster-api-cluster": infra_id},
                          annotations={"capacity.cluster-autoscaler.kubernetes.io/labels": "kubernetes.io/arch=amd64",
                                       "machine.openshift.io/GPU": "0", "machine.openshift.io/memoryMb": "16384",
                                       "machine.openshift.io/vCPU": "4"}),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"machine.openshift.io/cluster-api-cluster": infra_id,
                                         "machine.openshift.io/cluster-api-machineset": name}},
            "template": {
                "metadata": {"labels": {"machine.openshift.io/cluster-api-cluster": infra_id,
                                        "machine.openshift.io/cluster-api-machine-role": role,
                                        "machine.openshift.io/cluster-api-machine-type": role,
                                        "machine.openshift.io/cluster-api-machineset": name}},
                "spec": {"lifecycleHooks": {}, "metadata": {},
                         "providerSpec": {"value": provider_spec(infra_id, region, zone, naming=naming, ami=ami,
                                                                 **provider)}},
            },
        },
        "status": {"availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 2,
                   "readyReplicas": replicas, "replicas": replicas},
    }


def cluster_autoscaler(gpus: list[Object]) -> Object:
    """`ClusterAutoscaler default` as openshift/cluster-autoscaler-operator @5673ba0 `examples/clusterautoscaler.yaml`
    writes it (its `gpus` list includes `nvidia.com/gpu` and `amd.com/gpu` entries)."""
    return {
        "apiVersion": "autoscaling.openshift.io/v1", "kind": "ClusterAutoscaler", "metadata": _meta("default"),
        "spec": {"logVerbosity": 1, "balanceSimilarNodeGroups": True, "podPriorityThreshold": -10,
                 "resourceLimits": {"maxNodesTotal": 24, "cores": {"min": 8, "max": 128},
                                    "memory": {"min": 4, "max": 256}, "gpus": gpus},
                 "scaleDown": {"enabled": True, "delayAfterAdd": "10s", "delayAfterDelete": "10s",
                               "delayAfterFailure": "10s", "unneededTime": "10s", "utilizationThreshold": "0.4"}},
    }


def subscription(name: str, namespace: str, package: str, channel: str, source: str, *,
                 labels: dict[str, str] | None = None) -> Object:
    """An OLM Subscription, in the schema of ../shared/reference/crds/operators.coreos.com_subscriptions.yaml
    (operator-framework/api `crds/`)."""
    return {
        "apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
        "metadata": _meta(name, namespace, **({"labels": labels} if labels else {})),
        "spec": {"channel": channel, "installPlanApproval": "Automatic", "name": package, "source": source,
                 "sourceNamespace": "openshift-marketplace"},
        "status": {"currentCSV": f"{package}.v1.0.0", "installedCSV": f"{package}.v1.0.0", "state": "AtLatestKnown",
                   "lastUpdated": CREATED},
    }


def package_manifest(package: str, catalog: str, channels: list[str], *, default: str | None = None,
                     provider: str = "Red Hat", display: str = "Red Hat Operators") -> Object:
    """A PackageManifest as OLM's packageserver serves it (operator-framework/operator-lifecycle-manager @992bb09
    `pkg/package-server/apis/operators/v1/packagemanifest_types.go`; labels from `provider/registry.go`
    `newPackageManifest`: catalog, catalog-namespace, provider, provider-url, and the default CSV's os/arch labels)."""
    return {
        "apiVersion": "packages.operators.coreos.com/v1", "kind": "PackageManifest",
        "metadata": _meta(package, "openshift-marketplace", labels={
            "catalog": catalog, "catalog-namespace": "openshift-marketplace", "provider": provider,
            "provider-url": "", "operatorframework.io/arch.amd64": "supported",
            "operatorframework.io/os.linux": "supported"}),
        "spec": {},
        "status": {"catalogSource": catalog, "catalogSourceDisplayName": display, "catalogSourcePublisher": provider,
                   "catalogSourceNamespace": "openshift-marketplace", "provider": {"name": provider},
                   "packageName": package, "defaultChannel": default or channels[-1],
                   "channels": [{"name": c, "currentCSV": f"{package}.{c}.0", "currentCSVDesc": {},
                                 "entries": [{"name": f"{package}.{c}.0"}]} for c in channels]},
    }


def installer_cluster(*, naming: Naming = Naming.CAPA, infra_id: str = "ocp-ai-7xk2p", region: str = "us-east-2",
                      zones: tuple[str, ...] = ("us-east-2a", "us-east-2b", "us-east-2c"), version: str = "4.20.8",
                      installed: str | None = None, kms_key_arn: str = "",
                      subnet_ids: dict[str, str] | None = None) -> list[Object]:
    """An IPI cluster as `discover` finds it: its Infrastructure, ClusterVersion, boot images, one worker MachineSet
    per zone (with the AMI it was installed with), an `infra` MachineSet someone added, NFD installed by hand from
    redhat-operators, and both operators' packages in the default catalogs. No ClusterAutoscaler."""
    old_ami, new_ami = "ami-0b2f1e3d4c5a67890", "ami-0c4f1e2d3b5a69788"
    workers = [machine_set(infra_id, region, zone, naming=naming, ami=old_ami, kms_key_arn=kms_key_arn,
                           subnet_id=(subnet_ids or {}).get(zone)) for zone in zones]
    infra_set = machine_set(infra_id, region, zones[0], naming=naming, ami=old_ami, pool="infra", role="infra",
                            replicas=0, subnet_id=(subnet_ids or {}).get(zones[0]))
    return [
        infrastructure(infra_id, region, tags={"cost-center": "ml-prod"}),
        cluster_version(version, installed=installed),
        boot_images(version, {"us-east-1": "ami-0a9e8d7c6b5f41234", region: new_ami}),
        *workers, infra_set,
        subscription("nfd", "openshift-nfd", "nfd", "stable", "redhat-operators"),
        package_manifest("nfd", "redhat-operators", ["stable"]),
        package_manifest("gpu-operator-certified", "certified-operators", ["stable", "v26.7"], default="v26.7",
                         provider="NVIDIA Corporation", display="Certified Operators"),
    ]
