"""`gpu-fleet openshift discover`: read the facts GPU MachineSets need from a live cluster, print the config.

What the seed did with `oc get ... -o jsonpath` and `envsubst` on every apply, done once and reviewed: the
Infrastructure object (infrastructure id, platform, region), the ClusterVersion, the worker MachineSets the
installer made (zones, subnets, security groups, instance profile, AMI, root-volume KMS key), the
`coreos-bootimages` ConfigMap (the AMI new machines should boot), `ClusterAutoscaler default` (whether it exists,
and the GPU limits other teams set on it), and where NFD and the GPU Operator come from (an existing Subscription,
or the catalogs' PackageManifests). It only reads, and prints a block for `Pulumi.<stack>.yaml`.
"""

from __future__ import annotations

import difflib
import json
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from components.config.base import NAME_PATTERN
from components.config.errors import ConfigError, Issue
from components.config.openshift_rules import fleet_accelerators
from components.kubernetes.conventions import LABEL_CLUSTER
from components.openshift.machines import MACHINE_NAMESPACE
from components.openshift.operators import MANAGED_BY
from components.versions import GPU_OPERATOR_OLM_CHANNEL, NFD_OLM_CHANNEL

ROLE_LABEL = "machine.openshift.io/cluster-api-machine-role"
"""On a MachineSet's `spec.template.metadata.labels` only: the installer sets just `cluster-api-cluster` on the
set's own labels (openshift/installer @0596d25 `pkg/asset/machines/aws/machinesets.go`), so a server-side label
selector on the role finds no installer MachineSet."""
NOT_GPU_FLEET = f"!{LABEL_CLUSTER}"
"""Server-side selector on the sets' own labels: gpu-fleet's MachineSets carry `gpu-fleet/cluster` there."""
BOOT_IMAGES = ("openshift-machine-config-operator", "coreos-bootimages")
ROSA_TAG = "red-hat-managed"
"""AWS resource tag ROSA puts on every cluster (Infrastructure status.platformStatus.aws.resourceTags)."""
MARKETPLACE = "openshift-marketplace"
"""OLM's global catalog namespace on OpenShift: its CatalogSources serve every namespace."""
DEFAULT_TIMEOUT = 30.0
DEFAULT_CHUNK_SIZE = 500
"""Items per list request (kubectl's `--chunk-size` default): lists are read page by page with `continue`."""


@dataclass(frozen=True)
class Package:
    """An OLM package gpu-fleet installs, and the catalog Red Hat ships it in."""

    key: str
    """Its key under `operators:` in the config."""
    name: str
    channel: str
    source: str


PACKAGES = (Package("nfd", "nfd", NFD_OLM_CHANNEL, "redhat-operators"),
            Package("gpu_operator", "gpu-operator-certified", GPU_OPERATOR_OLM_CHANNEL, "certified-operators"))
"""NFD is Red Hat's (redhat-operators); NVIDIA's GPU Operator is a certified operator (certified-operators)."""


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
    autoscaler: dict[str, Any]
    operators: dict[str, dict[str, Any]]
    root_volume_kms_key: str | None = None
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
            **({"root_volume_kms_key": self.root_volume_kms_key} if self.root_volume_kms_key else {}),
            "security_groups": self.security_groups,
            "subnets": self.subnets,
            "autoscaler": self.autoscaler,
            "operators": self.operators,
            "gpu_pools": [],
        }

    def render(self) -> str:
        block = yaml.dump({"gpu-fleet:openshift": {"clusters": [self.config()]}}, Dumper=_StackFileDumper,
                          sort_keys=False, default_flow_style=None, width=110)
        lines = [f"# Discovered from the cluster's API ({self.infrastructure_id}); paste under `config:` in "
                 "Pulumi.<stack>.yaml, or append the entry (from `- name:`) to an existing clusters list,",
                 "# fill in gpu_pools, then store the kubeconfig as a secret:",
                 f"#   pulumi config set --secret openshift-{self.name}-kubeconfig < KUBECONFIG",
                 *(f"# note: {n}" for n in self.notes)]
        return "\n".join(lines) + "\n" + "".join(f"  {line}\n" for line in block.splitlines())


class _StackFileDumper(yaml.SafeDumper):
    """Indents list items under their key, as the stack files do, so the entry pastes into an existing list."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _get(d: Any, *path: str) -> Any:
    for key in path:
        d = d.get(key) if isinstance(d, Mapping) else None
    return d


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


class ClusterApi:
    """The cluster's API as discover reads it.

    Every request has a timeout, lists are read page by page, and a refusal names the verb and resource it was for.
    """

    def __init__(self, api: k8s_client.ApiClient, *, timeout: float = DEFAULT_TIMEOUT,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.custom = k8s_client.CustomObjectsApi(api)
        self.core = k8s_client.CoreV1Api(api)
        self.timeout = timeout
        self.chunk_size = chunk_size

    def _call(self, verb: str, resource: str, namespace: str | None, fn: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as exc:
            if exc.status == 403:
                where = f" in namespace {namespace}" if namespace else \
                    (" in all namespaces" if verb == "list" else " at the cluster scope")
                raise ConfigError([Issue("--kubeconfig", f"the kubeconfig's user may not {verb} {resource}{where} "
                                         "(403 Forbidden)", None, f"grant it a role that may {verb} {resource} "
                                         "(discover only reads; cluster-reader is enough), or use a kubeconfig "
                                         "of a user who has one")]) from None
            if exc.status == 401:
                raise ConfigError([Issue("--kubeconfig", "the API server refused the kubeconfig's credentials "
                                         "(401 Unauthorized)", None, "log in again (oc login) and pass the "
                                         "fresh kubeconfig; tokens of `oc login` expire")]) from None
            raise

    def get(self, group: str, version: str, plural: str, name: str,
            namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it (or its kind) does not exist."""
        resource = f"{plural}.{group}"
        try:
            if namespace is None:
                found = self._call("get", resource, None, self.custom.get_cluster_custom_object, group, version,
                                   plural, name)
            else:
                found = self._call("get", resource, namespace, self.custom.get_namespaced_custom_object, group,
                                   version, namespace, plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found if isinstance(found, dict) else None

    def list(self, group: str, version: str, plural: str, namespace: str | None = None, *,
             label_selector: str = "", field_selector: str = "") -> list[dict[str, Any]] | None:
        """Every matching object, page by page (`limit` + `continue`); None when the kind is not served."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            options: dict[str, Any] = {"label_selector": label_selector, "field_selector": field_selector,
                                       "limit": self.chunk_size, **({"_continue": token} if token else {})}
            try:
                if namespace is None:
                    page = self._call("list", f"{plural}.{group}", None, self.custom.list_cluster_custom_object,
                                      group, version, plural, **options)
                else:
                    page = self._call("list", f"{plural}.{group}", namespace,
                                      self.custom.list_namespaced_custom_object, group, version, namespace, plural,
                                      **options)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            items.extend(page.get("items") or [])
            token = _get(page, "metadata", "continue")
            if not token:
                return items

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = self._call("get", "configmaps", namespace, self.core.read_namespaced_config_map, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})


def discover(cluster: ClusterApi, name: str | None = None) -> Discovery:
    """Read the cluster; a problem the user can fix is a ConfigError naming it."""
    infra_id, region = _infrastructure(cluster)
    cv = cluster.get("config.openshift.io", "v1", "clusterversions", "version") or {}
    version = _minor(str(_get(cv, "status", "desired", "version") or ""))
    notes: list[str] = []
    workers = _worker_machine_sets(cluster)
    machines = _from_machine_sets(workers, notes)
    ami = _boot_image(cluster, region, notes) or (sorted(machines.amis)[0] if machines.amis else "")
    if machines.amis and ami not in machines.amis:
        notes.append(f"the boot-image AMI {ami} differs from the worker MachineSets' "
                     f"({', '.join(sorted(machines.amis))}): the cluster's boot image is newer")
    key = name or infra_id.rsplit("-", 1)[0] or infra_id
    if not re.match(NAME_PATTERN, key):
        raise ConfigError([Issue("--name", "the cluster's infrastructure id gives no valid gpu-fleet name", key,
                                 "pass --name: lower-case letters, digits and '-', starting with a letter, at most "
                                 "40 characters")])
    subscriptions = cluster.list("operators.coreos.com", "v1alpha1", "subscriptions") or []
    return Discovery(name=key, infrastructure_id=infra_id, region=region, version=version, ami=ami,
                     iam_instance_profile=sorted(machines.profiles)[0] if machines.profiles
                     else f"{infra_id}-worker-profile", security_groups=machines.groups,
                     subnets=dict(sorted(machines.subnets.items())), autoscaler=_autoscaler(cluster, notes),
                     operators={p.key: _operator(cluster, subscriptions, p, notes) for p in PACKAGES},
                     root_volume_kms_key=machines.kms_key, notes=notes)


def _infrastructure(cluster: ClusterApi) -> tuple[str, str]:
    """(infrastructure id, region) of a self-managed OpenShift cluster on AWS; anything else is refused."""
    infra = cluster.get("config.openshift.io", "v1", "infrastructures", "cluster")
    if infra is None:
        raise ConfigError([Issue("--kubeconfig", "the cluster has no config.openshift.io Infrastructure: not "
                                 "OpenShift", None, "point --kubeconfig/--context at an OpenShift cluster")])
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
    return str(status.get("infrastructureName") or ""), str(_get(status, "platformStatus", "aws", "region") or "")


def _worker_machine_sets(cluster: ClusterApi) -> list[dict[str, Any]]:
    """The cluster's own worker MachineSets: role `worker` on the template, not gpu-fleet's."""
    sets = cluster.list("machine.openshift.io", "v1beta1", "machinesets", MACHINE_NAMESPACE,
                        label_selector=NOT_GPU_FLEET) or []
    workers = [s for s in sets if (_get(s, "spec", "template", "metadata", "labels") or {}).get(ROLE_LABEL)
               == "worker"]
    if not workers:
        raise ConfigError([Issue("--kubeconfig", f"no worker MachineSets in {MACHINE_NAMESPACE} to copy the "
                                 "subnets, security groups and instance profile from", None,
                                 "gpu-fleet adds machines to installer-provisioned clusters; create one worker "
                                 "MachineSet first (clusters without the Machine API are not supported)")])
    return sorted(workers, key=lambda s: str(_get(s, "metadata", "name")))


@dataclass
class _Machines:
    """What the worker MachineSets' AWS provider specs agree on."""

    subnets: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: set[str] = field(default_factory=set)
    groups: list[dict[str, str]] = field(default_factory=list)
    amis: set[str] = field(default_factory=set)
    kms_key: str | None = None


def _from_machine_sets(workers: list[dict[str, Any]], notes: list[str]) -> _Machines:
    out = _Machines()
    keys: dict[str, str] = {}
    for s in workers:
        value = _get(s, "spec", "template", "spec", "providerSpec", "value") or {}
        zone = _get(value, "placement", "availabilityZone")
        subnet = _reference(value.get("subnet"))
        if zone and subnet:
            out.subnets.setdefault(str(zone), subnet)
        if _get(value, "iamInstanceProfile", "id"):
            out.profiles.add(str(value["iamInstanceProfile"]["id"]))
        for sg in value.get("securityGroups") or []:
            ref = _reference(sg)
            if ref is not None and ref not in out.groups:
                out.groups.append(ref)
        if _get(value, "ami", "id"):
            out.amis.add(str(value["ami"]["id"]))
        # openshift/api machine/v1beta1 EBSBlockDeviceSpec.kmsKey (an AWSResourceReference): the installer writes
        # `{arn: <rootVolume.kmsKeyARN>}`, an empty ARN when the install used the account's default key.
        for device in value.get("blockDevices") or []:
            arn = _get(device, "ebs", "kmsKey", "arn")
            if arn:
                keys[str(_get(s, "metadata", "name"))] = str(arn)
    if len(out.profiles) > 1:
        notes.append(f"worker MachineSets use several instance profiles ({', '.join(sorted(out.profiles))}); "
                     "the first is used")
    if keys:
        out.kms_key = sorted(set(keys.values()))[0]
        unkeyed = [str(_get(s, "metadata", "name")) for s in workers if str(_get(s, "metadata", "name")) not in keys]
        if len(set(keys.values())) > 1 or unkeyed:
            notes.append(f"the worker MachineSets do not agree on a root-volume KMS key ({len(set(keys.values()))} "
                         f"keys, {len(unkeyed)} sets without one): {out.kms_key} is used; check it")
    return out


def _boot_image(cluster: ClusterApi, region: str, notes: list[str]) -> str | None:
    """The region's RHCOS AMI from the MCO's boot-image stream (what new machines should boot)."""
    data = cluster.config_map(BOOT_IMAGES[0], BOOT_IMAGES[1])
    if data is None:
        notes.append("no coreos-bootimages ConfigMap: the AMI is the worker MachineSets'")
        return None
    try:
        stream = json.loads(data.get("stream") or "{}")
    except json.JSONDecodeError:
        notes.append("the coreos-bootimages stream is not JSON: the AMI is the worker MachineSets'")
        return None
    image = _get(stream, "architectures", "x86_64", "images", "aws", "regions", region, "image")
    return str(image) if image else None


def _autoscaler(cluster: ClusterApi, notes: list[str]) -> dict[str, Any]:
    """`mode: patch` when `ClusterAutoscaler default` exists, with the GPU limits on it gpu-fleet does not own."""
    live = cluster.get("autoscaling.openshift.io", "v1", "clusterautoscalers", "default")
    if live is None:
        return {"mode": "create"}
    owned = fleet_accelerators()
    limits = _get(live, "spec", "resourceLimits", "gpus") or []
    others = [{"type": str(g["type"]), "min": int(g.get("min") or 0), "max": int(g["max"])}
              for g in limits if isinstance(g, Mapping) and g.get("type") and g.get("max") is not None
              and g["type"] not in owned]
    notes.append("ClusterAutoscaler default exists: gpu-fleet will patch its GPU limits, not create it"
                 + (f", keeping the {len(others)} GPU limit(s) it has for other accelerators" if others else ""))
    return {"mode": "patch", **({"existing_gpu_limits": others} if others else {})}


def _operator(cluster: ClusterApi, subscriptions: list[dict[str, Any]], package: Package,
              notes: list[str]) -> dict[str, Any]:
    """`manage: false` when someone else subscribed to the package (in any namespace); its catalog source."""
    for s in subscriptions:
        if _get(s, "spec", "name") != package.name:
            continue
        source = {"source": str(_get(s, "spec", "source") or package.source),
                  "source_namespace": str(_get(s, "spec", "sourceNamespace") or MARKETPLACE)}
        if (_get(s, "metadata", "labels") or {}).get("app.kubernetes.io/managed-by") == MANAGED_BY:
            return {"manage": True, "channel": str(_get(s, "spec", "channel") or package.channel), **source}
        found = str(_get(s, "spec", "channel") or package.channel)
        notes.append(f"{package.name} is already installed from channel {found} (Subscription "
                     f"{_get(s, 'metadata', 'namespace')}/{_get(s, 'metadata', 'name')}): gpu-fleet leaves it to "
                     "whoever installed it")
        return {"manage": False, "channel": found, **source}
    return {"manage": True, "channel": package.channel, **_catalog(cluster, package, notes)}


def _catalog(cluster: ClusterApi, package: Package, notes: list[str]) -> dict[str, str]:
    """The CatalogSource that offers the package's channel: Red Hat's own if it does, else a mirror's."""
    try:
        manifests = cluster.list("packages.operators.coreos.com", "v1", "packagemanifests", MARKETPLACE,
                                 field_selector=f"metadata.name={package.name}")
    except ApiException as exc:
        if exc.status is None or exc.status < 500:
            raise
        # An aggregated API (OLM's packageserver behind an APIService): kube-apiserver answers 503 while it is down.
        notes.append(f"the packages API answered {exc.status} {exc.reason}: {package.name} is assumed to come from "
                     f"{package.source}")
        return {"source": package.source, "source_namespace": MARKETPLACE}
    offers = [m for m in manifests or [] if _get(m, "status", "catalogSource")]
    with_channel = [m for m in offers if package.channel in {c.get("name") for c in
                                                              _get(m, "status", "channels") or []}]
    if not with_channel:
        where = "no catalog offers it" if not offers else \
            f"the catalogs offering it ({', '.join(sorted(str(_get(m, 'status', 'catalogSource')) for m in offers))})" \
            " lack that channel"
        notes.append(f"{package.name} channel {package.channel}: {where}; {package.source} is assumed (mirror the "
                     "package, or set operators.<op>.source to the catalog that has it)")
        return {"source": package.source, "source_namespace": MARKETPLACE}
    chosen = next((m for m in with_channel if _get(m, "status", "catalogSource") == package.source),
                  sorted(with_channel, key=lambda m: str(_get(m, "status", "catalogSource")))[0])
    if len(with_channel) > 1:
        notes.append(f"{package.name} is offered by {len(with_channel)} catalogs: "
                     f"{_get(chosen, 'status', 'catalogSource')} is used")
    return {"source": str(_get(chosen, "status", "catalogSource")),
            "source_namespace": str(_get(chosen, "status", "catalogSourceNamespace") or MARKETPLACE)}


# --- the command ---------------------------------------------------------------------------------------------

def check_name(name: str | None) -> None:
    """Refuse a `--name` that is no gpu-fleet name before anything connects."""
    if name is not None and not re.match(NAME_PATTERN, name):
        raise ConfigError([Issue("--name", "not a valid gpu-fleet cluster name", name,
                                 "lower-case letters, digits and '-', starting with a letter, at most 40 "
                                 "characters, e.g. ocp-ai")])


KUBECONFIG_HINT = ("pass the installer's <install dir>/auth/kubeconfig, or the file `oc login` "
                   "writes (KUBECONFIG=ocp-ai.kubeconfig oc login https://api.<cluster>.<domain>:6443)")


def check_kubeconfig(kubeconfig: str, context: str | None) -> None:
    """Refuse, before anything connects, a kubeconfig that is missing, unreadable, not YAML, or lacks the context.

    A YAML error names its line and column only: PyYAML's message quotes the line, which may hold a token.
    """
    path = Path(kubeconfig)
    if not path.exists():
        raise ConfigError([Issue("--kubeconfig", "no such file", kubeconfig, KUBECONFIG_HINT)])
    if not path.is_file():
        raise ConfigError([Issue("--kubeconfig", "is not a file", kubeconfig, KUBECONFIG_HINT)])
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([Issue("--kubeconfig", f"cannot be read: {exc.strerror}", kubeconfig,
                                 "check the file's permissions (it holds credentials: readable by you only)")]) \
            from None
    except UnicodeDecodeError:
        raise ConfigError([Issue("--kubeconfig", "is not a text file", kubeconfig, KUBECONFIG_HINT)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "a syntax error"
        raise ConfigError([Issue("--kubeconfig", f"is not YAML ({where}{problem})", kubeconfig,
                                 KUBECONFIG_HINT)]) from None
    _check_contexts(kubeconfig, doc, context)


def _check_contexts(kubeconfig: str, doc: Any, context: str | None) -> None:
    """The context to use exists, and its cluster has a server to reach."""
    contexts = {str(c.get("name")): c.get("context") or {} for c in _entries(doc, "contexts")}
    clusters = {str(c.get("name")): c.get("cluster") or {} for c in _entries(doc, "clusters")}
    if not contexts or not clusters:
        raise ConfigError([Issue("--kubeconfig", "is not a kubeconfig (no contexts or clusters)", kubeconfig,
                                 KUBECONFIG_HINT)])
    names = ", ".join(sorted(contexts))
    chosen = context or doc.get("current-context")
    if not chosen:
        raise ConfigError([Issue("--context", "the kubeconfig has no current-context", None,
                                 f"pass --context NAME, one of: {names}")])
    if chosen not in contexts:
        close = difflib.get_close_matches(str(chosen), list(contexts), n=1, cutoff=0.6)
        what = "no such context in the kubeconfig" if context else "the kubeconfig's current-context is not among " \
            "its contexts"
        raise ConfigError([Issue("--context", what, chosen, f"{f'did you mean {close[0]}? ' if close else ''}"
                                 f"its contexts: {names}")])
    cluster = str(contexts[chosen].get("cluster"))
    server = str((clusters.get(cluster) or {}).get("server") or "")
    if not re.match(r"^https?://[^/\s]+", server):
        raise ConfigError([Issue("--kubeconfig", f"context {chosen}: its cluster {cluster} has no API server address "
                                 "(clusters[].cluster.server)", server or None,
                                 "use the kubeconfig the installer or `oc login` wrote; its server is "
                                 "https://api.<cluster>.<domain>:6443")])


def _entries(doc: Any, key: str) -> list[dict[str, Any]]:
    """A kubeconfig list (`contexts`, `clusters`) as its named entries; nothing when it is not one."""
    items = doc.get(key) if isinstance(doc, dict) else None
    return [i for i in items if isinstance(i, dict) and i.get("name")] if isinstance(items, list) else []


def client(kubeconfig: str, context: str | None) -> k8s_client.ApiClient:
    """An API client from the kubeconfig (no request is made); a kubeconfig that cannot be used is a ConfigError."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                    persist_config=False)
    except (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError) as exc:
        raise ConfigError([Issue("--kubeconfig", "cannot use this kubeconfig", kubeconfig,
                                 " ".join(str(exc).split()) or "check the file and --context")]) from None
    configuration.retries = 1  # one retry of a dropped connection; a dead server is reported in seconds
    return k8s_client.ApiClient(configuration)


def unreachable(exc: BaseException, server: str) -> Issue:
    """The one line for a cluster that cannot be reached: which failure it was, and what to check."""
    reason = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    if isinstance(reason, NameResolutionError):
        what, hint = "its name does not resolve (DNS)", "check the kubeconfig's server address, and the VPN or " \
            "DNS that resolves the cluster's api.<cluster>.<domain> name"
    elif isinstance(reason, NewConnectionError):
        what, hint = "the connection was refused", "check the kubeconfig's server address and port, and that " \
            "this machine can reach the API server (VPN, proxy, firewall)"
    elif isinstance(reason, SSLError | ssl.SSLError):
        what, hint = f"TLS failed ({' '.join(str(reason).split())[:160]})", "the kubeconfig must carry the " \
            "cluster's CA (certificate-authority-data from the installer's auth/kubeconfig or `oc login`); do " \
            "not turn verification off"
    elif isinstance(reason, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        what, hint = "the request timed out", "check the VPN or proxy to the cluster, or pass a longer --timeout"
    elif isinstance(reason, ProtocolError):
        what, hint = "the connection broke off", "check the kubeconfig's server address (an HTTPS API server, " \
            "port 6443) and any proxy in between"
    else:
        what, hint = " ".join(str(reason).split()), "check the kubeconfig's server address and your network"
    return Issue("--kubeconfig", f"cannot reach the cluster's API server {server}: {what}", None, hint)


def run(kubeconfig: str, context: str | None, name: str | None, *, timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """Discover through the kubeconfig's cluster and return the config block; input problems are ConfigErrors."""
    check_name(name)
    check_kubeconfig(kubeconfig, context)
    api = client(kubeconfig, context)
    try:
        return discover(ClusterApi(api, timeout=timeout, chunk_size=chunk_size), name).render()
    except ApiException as exc:
        raise ConfigError([Issue("--kubeconfig", f"the API server answered {exc.status} {exc.reason}", None,
                                 "check the cluster's health (oc get clusteroperators); discover only reads")]) \
            from None
    except (HTTPError, OSError) as exc:
        raise ConfigError([unreachable(exc, api.configuration.host)]) from None
    finally:
        api.close()
