"""Kubernetes objects as gpu-fleet emits them, and their checks against the real upstream schemas and chart values.

`manifests` rebuilds the objects the provider would send, `validate` checks one against the reference CRDs or
Kubernetes' own OpenAPI (kubernetes-validate), and `unknown_helm_keys` names values keys a chart does not have."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from gpufleet.report import Plan
from tests.support.plans import REFERENCE, ROOT, gke_of, gke_only
from tests.support.subcharts import SUBCHARTS

K8S_VERSION = "1.33"


LOCAL_REFERENCE = ROOT / "tests" / "reference"
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # pure Python without libyaml


# Maps open for user content in a chart's values (any key is fine below them). A container `securityContext` is
# copied verbatim into the pod; test_dcgm_exporter_pod_is_what_gke_cos_nodes_need checks it against Kubernetes'.
OPEN_MAPS = {"nodeSelector", "tolerations", "affinity", "labels", "annotations", "additionalLabels",
             "podLabels", "podAnnotations", "extraHostVolumes", "extraVolumeMounts", "extraEnv", "env",
             "resources", "securityContext",
             # kube-prometheus-stack passes these to the Prometheus object as they are (user content); the
             # storage claim is validated as a PersistentVolumeClaim in test_monitoring_stacks.py.
             "externalLabels", "storageSpec"}


def manifests(plan: Plan) -> list[dict[str, Any]]:
    """Kubernetes objects as the provider would send them, rebuilt from the recorded inputs."""
    out = []
    for r in plan.resources:
        if not r.type.startswith("kubernetes:") or r.type.startswith(("kubernetes:helm", "kubernetes:yaml")):
            continue
        obj = {k: v for k, v in r.inputs.items() if not k.startswith("__")}
        if "apiVersion" not in obj:
            group_version, kind = r.type.split(":")[1:3]
            group, _, version = group_version.rpartition("/")
            obj["apiVersion"] = version if group == "core" else group_version
            obj["kind"] = kind
        out.append(obj)
    return out


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    paths = sorted((REFERENCE / "crds").glob("*.yaml")) + sorted((LOCAL_REFERENCE / "crds").glob("*.yaml"))
    for path in paths:
        # libyaml's parser under the safe loader's constructors: the same documents, without 7 s of pure-Python
        # parsing per test process (PyYAML's C binding; the CI image's PyYAML wheels include it).
        for doc in yaml.load_all(path.read_text(), Loader=_SAFE_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for v in doc["spec"]["versions"]:
                schemas[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return schemas


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, v: isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    )
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    return cls(schema)


def validate(obj: dict[str, Any]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in crd_schemas():
        errors = sorted(_validator(crd_schemas()[key]).iter_errors(obj), key=str)
        assert not errors, f"{key} {obj['metadata'].get('name')}: {errors[0].message} at {list(errors[0].path)}"
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _with_all_addons(doc: dict[str, Any]) -> dict[str, Any]:
    """The dev stack's GKE side with both GPU stacks in use, so every add-on kind is emitted."""
    doc = gke_only(doc)
    cluster = gke_of(doc)["regions"][0]["clusters"][0]
    operator = copy.deepcopy(cluster)
    operator.update(name="op-1", pods_cidr="10.40.0.0/16", services_cidr="10.41.0.0/20",
                    master_cidr="172.16.99.0/28")
    for pool in operator["gpu_pools"]:
        pool.pop("sharing", None)
        pool.pop("mig_partition", None)
    operator["addons"] = {"gpu_stack": "operator", "dcgm": "exporter",
                          "namespaces": [{"name": "training", "gpus": 16}]}
    exporter = copy.deepcopy(cluster)
    exporter.update(name="exp-1", pods_cidr="10.42.0.0/16", services_cidr="10.43.0.0/20",
                    master_cidr="172.16.99.16/28")
    exporter["addons"] = {"gpu_stack": "gke", "dcgm": "exporter"}
    gke_of(doc)["regions"][0]["clusters"] += [operator, exporter]
    return doc


def _keys(values: Any, prefix: str = "") -> list[str]:
    if not isinstance(values, dict):
        return []
    out = []
    for k, v in values.items():
        path = f"{prefix}.{k}" if prefix else k
        out.append(path)
        if k not in OPEN_MAPS:
            out += _keys(v, path)
    return out


def _chart_defaults(chart: str) -> dict[str, Any]:
    """The chart's reference values.yaml, with each vendored subchart's own values under its key (Helm hands a
    subchart the parent's `<name>:` block over the subchart's defaults, so either side's keys are valid there)."""
    defaults: dict[str, Any] = yaml.load((REFERENCE / "charts" / chart / "values.yaml").read_text(),
                                         Loader=yaml.CSafeLoader)
    for sub in SUBCHARTS.values():
        if sub.parent == chart:
            defaults[sub.name] = helm_merged(sub.read("values.yaml"), defaults.get(sub.name) or {})
    return defaults


def helm_merged(base: Any, override: Any) -> Any:
    """The values a chart's templates see: maps merged key by key into the defaults, a null deleting the default,
    anything else replaced (Helm's coalescing of values over a chart's defaults)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = helm_merged(base.get(key), value)
        return out
    return copy.deepcopy(override)


def _has(defaults: dict[str, Any], dotted: str) -> bool:
    node: Any = defaults
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


COMMENTED_KEYS = {
    "dcgm-exporter": {"customMetrics"},
    "gpu-operator": {"dcgmExporter.config", "dcgmExporter.config.name", "dcgmExporter.config.create",
                     "dcgmExporter.config.data", "operator.version", "validator.version"},
}
"""Keys the reference values.yaml documents only as commented-out examples, which the chart's templates read
(NVIDIA/dcgm-exporter `deployment/templates/metrics-configmap.yaml` `.Values.customMetrics`; NVIDIA/gpu-operator
`templates/dcgm_exporter_config.yaml` and `clusterpolicy.yaml` `.Values.dcgmExporter.config.{name,create,data}`;
v26.7.0 `templates/_helpers.tpl` `gpu-operator.fullimage` and `validator.fullimage`, and `clusterpolicy.yaml`,
`.Values.{operator,validator}.version`, the values' `#version: ""`).
`test_commented_keys_are_documented_in_the_reference` checks each is there, commented."""


def unknown_helm_keys(chart: str, values: dict[str, Any]) -> list[str]:
    """Dotted keys of `values` that the chart's reference values.yaml does not have."""
    defaults = _chart_defaults(chart)
    documented = COMMENTED_KEYS.get(chart, set())
    return [k for k in _keys(values) if not _has(defaults, k) and k not in documented]
