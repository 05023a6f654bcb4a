"""`gpu-fleet openshift discover`: read the facts GPU MachineSets need from a live cluster, print the config.

What the seed did with `oc get ... -o jsonpath` and `envsubst` on every apply, done once and reviewed: the
Infrastructure object (infrastructure id, platform, region), the ClusterVersion, the worker MachineSets the
installer made (zones, subnets, security groups, instance profile, AMI), the `coreos-bootimages` ConfigMap (the
AMI new machines should boot), whether `ClusterAutoscaler default` exists, and whether NFD or the GPU Operator
are already installed. It only reads (cluster-reader is enough) and prints a block for `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from components.config.errors import ConfigError, Issue
from components.openshift.machines import MACHINE_NAMESPACE
from components.openshift.operators import GPU_NAMESPACE, MANAGED_BY, NFD_NAMESPACE
from components.versions import GPU_OPERATOR_OLM_CHANNEL, NFD_OLM_CHANNEL

WORKER_ROLE = "machine.openshift.io/cluster-api-machine-role=worker"
BOOT_IMAGES = ("openshift-machine-config-operator", "coreos-bootimages")
ROSA_TAG = "red-hat-managed"
"""AWS resource tag ROSA puts on every cluster (Infrastructure status.platformStatus.aws.resourceTags)."""


@dataclass
class Discovery:
    """What a cluster says about itself, as the `openshift.clusters[]` entry gpu-fleet needs."""

    name: str
    infrastructure_id: str
    region: str
    version: str
    ami: str
    iam_instance_profile: str
    security_groups: list[dict[str, str]]
    subnets: dict[str, dict[str, str]]
    autoscaler_mode: str
    operators: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kubeconfig": {"secret": f"openshift-{self.name}-kubeconfig"},
            "version": self.version,
            "infrastructure_id": self.infrastructure_id,
            "region": self.region,
            "ami": self.ami,
            "iam_instance_profile": self.iam_instance_profile,
            "security_groups": self.security_groups,
            "subnets": self.subnets,
            "autoscaler": {"mode": self.autoscaler_mode},
            "operators": self.operators,
            "gpu_pools": [],
        }

    def render(self) -> str:
        block = yaml.safe_dump({"gpu-fleet:openshift": {"clusters": [self.config()]}}, sort_keys=False,
                               default_flow_style=None, width=110)
        lines = [f"# Discovered from the cluster's API ({self.infrastructure_id}); paste under `config:` in "
                 "Pulumi.<stack>.yaml,", "# add gpu_pools, then store the kubeconfig as a secret:",
                 f"#   pulumi config set --secret openshift-{self.name}-kubeconfig < KUBECONFIG",
                 *(f"# note: {n}" for n in self.notes)]
        return "\n".join(lines) + "\n" + "".join(f"  {line}\n" for line in block.splitlines())


def _get(d: Any, *path: str) -> Any:
    for key in path:
        d = d.get(key) if isinstance(d, Mapping) else None
    return d


def _obj(value: object) -> dict[str, Any]:
    """The client's untyped answer (a dict for custom objects) as a mapping."""
    return value if isinstance(value, dict) else {}


def _reference(ref: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A providerSpec AWSResourceReference as config: `{id}`, or `{filter}` for a `tag:Name` filter."""
    if not ref:
        return None
    if ref.get("id"):
        return {"id": str(ref["id"])}
    for f in ref.get("filters") or []:
        if f.get("name") == "tag:Name" and len(f.get("values") or []) == 1:
            return {"filter": str(f["values"][0])}
    return None


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def discover(api: k8s_client.ApiClient, name: str | None = None) -> Discovery:
    """Read the cluster through `api`; a problem the user can fix is a ConfigError naming it."""
    custom = k8s_client.CustomObjectsApi(api)
    core = k8s_client.CoreV1Api(api)
    try:
        infra = _obj(custom.get_cluster_custom_object("config.openshift.io", "v1", "infrastructures", "cluster"))
    except ApiException as exc:
        if exc.status == 404:
            raise ConfigError([Issue("--kubeconfig", "the cluster has no config.openshift.io Infrastructure: not "
                                     "OpenShift", None, "point --kubeconfig/--context at an OpenShift cluster")]) \
                from None
        raise
    status = infra.get("status") or {}
    platform = _get(status, "platformStatus", "type") or status.get("platform")
    if platform != "AWS":
        raise ConfigError([Issue("--kubeconfig", "gpu-fleet's OpenShift machines are AWS machines", platform,
                                 "discover an OpenShift cluster on AWS")])
    tags = {t.get("key"): t.get("value") for t in _get(status, "platformStatus", "aws", "resourceTags") or []}
    if str(tags.get(ROSA_TAG, "")).lower() == "true":
        raise ConfigError([Issue("--kubeconfig", "this is a ROSA cluster: its machine pools belong to OpenShift "
                                 "Cluster Manager and its MachineSets are not user-editable", None,
                                 "create ROSA GPU machine pools with the `rosa` CLI or the rhcs Terraform provider")])
    infra_id = str(status.get("infrastructureName") or "")
    region = str(_get(status, "platformStatus", "aws", "region") or "")
    cv = custom.get_cluster_custom_object("config.openshift.io", "v1", "clusterversions", "version")
    version = _minor(str(_get(cv, "status", "desired", "version") or ""))

    sets = _obj(custom.list_namespaced_custom_object("machine.openshift.io", "v1beta1", MACHINE_NAMESPACE,
                                                     "machinesets", label_selector=WORKER_ROLE))
    workers = [s for s in sets.get("items") or []
               if "gpu-fleet/cluster" not in (_get(s, "metadata", "labels") or {})]
    if not workers:
        raise ConfigError([Issue("--kubeconfig", f"no worker MachineSets in {MACHINE_NAMESPACE} to copy the "
                                 "subnets, security groups and instance profile from", None,
                                 "gpu-fleet adds machines to installer-provisioned clusters; create one worker "
                                 "MachineSet first (clusters without the Machine API are not supported)")])
    notes: list[str] = []
    subnets: dict[str, dict[str, str]] = {}
    profiles: set[str] = set()
    groups: list[dict[str, str]] = []
    amis: set[str] = set()
    for s in sorted(workers, key=lambda s: str(_get(s, "metadata", "name"))):
        value = _get(s, "spec", "template", "spec", "providerSpec", "value") or {}
        zone = _get(value, "placement", "availabilityZone")
        subnet = _reference(value.get("subnet"))
        if zone and subnet:
            subnets.setdefault(str(zone), subnet)
        if _get(value, "iamInstanceProfile", "id"):
            profiles.add(str(value["iamInstanceProfile"]["id"]))
        for sg in value.get("securityGroups") or []:
            ref = _reference(sg)
            if ref is not None and ref not in groups:
                groups.append(ref)
        if _get(value, "ami", "id"):
            amis.add(str(value["ami"]["id"]))
    if len(profiles) > 1:
        notes.append(f"worker MachineSets use several instance profiles ({', '.join(sorted(profiles))}); "
                     "the first is used")

    ami = _boot_image(core, region, notes) or (sorted(amis)[0] if amis else "")
    if amis and ami not in amis:
        notes.append(f"the boot-image AMI {ami} differs from the worker MachineSets' ({', '.join(sorted(amis))}): "
                     "the cluster's boot image is newer")
    try:
        custom.get_cluster_custom_object("autoscaling.openshift.io", "v1", "clusterautoscalers", "default")
        mode = "patch"
        notes.append("ClusterAutoscaler default exists: gpu-fleet will patch its GPU limits, not create it")
    except ApiException as exc:
        if exc.status != 404:
            raise
        mode = "create"
    operators = {"nfd": _operator(custom, NFD_NAMESPACE, "nfd", NFD_OLM_CHANNEL, notes),
                 "gpu_operator": _operator(custom, GPU_NAMESPACE, "gpu-operator-certified", GPU_OPERATOR_OLM_CHANNEL,
                                           notes)}
    return Discovery(name=name or infra_id.rsplit("-", 1)[0] or infra_id, infrastructure_id=infra_id,
                     region=region, version=version, ami=ami, iam_instance_profile=sorted(profiles)[0] if profiles
                     else f"{infra_id}-worker-profile", security_groups=groups, subnets=dict(sorted(subnets.items())),
                     autoscaler_mode=mode, operators=operators, notes=notes)


def _boot_image(core: k8s_client.CoreV1Api, region: str, notes: list[str]) -> str | None:
    """The region's RHCOS AMI from the MCO's boot-image stream (what new machines should boot)."""
    try:
        cm = core.read_namespaced_config_map(BOOT_IMAGES[1], BOOT_IMAGES[0])
    except ApiException as exc:
        if exc.status != 404:
            raise
        notes.append("no coreos-bootimages ConfigMap: the AMI is the worker MachineSets'")
        return None
    try:
        stream = json.loads((cm.data or {}).get("stream") or "{}")
    except json.JSONDecodeError:
        notes.append("the coreos-bootimages stream is not JSON: the AMI is the worker MachineSets'")
        return None
    image = _get(stream, "architectures", "x86_64", "images", "aws", "regions", region, "image")
    return str(image) if image else None


def _operator(custom: k8s_client.CustomObjectsApi, namespace: str, package: str, channel: str,
              notes: list[str]) -> dict[str, Any]:
    """`manage: false` when a Subscription to the package exists that gpu-fleet did not create."""
    subs = _obj(custom.list_namespaced_custom_object("operators.coreos.com", "v1alpha1", namespace, "subscriptions"))
    for s in subs.get("items") or []:
        if _get(s, "spec", "name") != package:
            continue
        if (_get(s, "metadata", "labels") or {}).get("app.kubernetes.io/managed-by") == MANAGED_BY:
            break
        found = str(_get(s, "spec", "channel") or channel)
        notes.append(f"{package} is already installed from channel {found} (Subscription "
                     f"{namespace}/{_get(s, 'metadata', 'name')}): gpu-fleet leaves it to whoever installed it")
        return {"manage": False, "channel": found}
    return {"manage": True, "channel": channel}


def run(kubeconfig: str, context: str | None, name: str | None) -> str:
    """Discover through the kubeconfig's cluster and return the config block; input problems are ConfigErrors."""
    try:
        api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
    except (ConfigException, OSError, yaml.YAMLError) as exc:
        raise ConfigError([Issue("--kubeconfig", "cannot use this kubeconfig", kubeconfig,
                                 " ".join(str(exc).split()) or "check the file and --context")]) from None
    try:
        return discover(api, name).render()
    except ApiException as exc:
        hint = "log in again (oc login) and check the user may read cluster-scoped objects (cluster-reader)" \
            if exc.status in (401, 403) else "check the cluster's health; discover only reads"
        raise ConfigError([Issue("--kubeconfig", f"the API server answered {exc.status} {exc.reason}", None,
                                 hint)]) from None
    except HTTPError as exc:
        raise ConfigError([Issue("--kubeconfig", "cannot reach the cluster's API server", None,
                                 f"check the kubeconfig's server and your network ({' '.join(str(exc).split())})")]) \
            from None
    finally:
        api.close()
