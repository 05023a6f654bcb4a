"""OpenShift stack documents and the objects planned for them, checked against the CRDs (schema and CEL rules)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from gpufleet.report import Plan
from tests.support.cel_rules import violations, with_defaults
from tests.support.k8s_schemas import crd_schemas, manifests, validate
from tests.support.plans import ROOT

KEY = "gpu-fleet:openshift"


SECRET_KEY = "gpu-fleet:openshift-ocp-ai-kubeconfig"


def openshift_only(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    keep = (KEY, SECRET_KEY, "gpu-fleet:environment", "gpu-fleet:labels", "gpu-fleet:observability",
            "gpu-fleet:pagerduty-routing-key", "gpu-fleet:slack-alerts-webhook")
    doc["config"] = {k: v for k, v in doc["config"].items() if k in keep}
    return doc


def kind(plan: Plan, k: str) -> list[dict[str, Any]]:
    return [m for m in manifests(plan) if m["kind"] == k]


def checked(obj: dict[str, Any]) -> dict[str, Any]:
    """The object passes its CRD's schema and CEL rules (../shared/reference or tests/reference)."""
    validate(obj)
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    broken = list(violations(schema, with_defaults(schema, obj)))
    assert not broken, f"{obj['kind']} {obj['metadata']['name']}: {broken}"
    return obj


def _main_config() -> dict[str, Any]:
    secret = yaml.safe_load((ROOT / "tests" / "reference/openshift/alertmanager-main.secret.yaml").read_text())
    config = yaml.safe_load(secret["stringData"]["alertmanager.yaml"])
    # Debian's amtool (0.25) predates `http_config.proxy_from_environment` (Alertmanager 0.26); routing is unaffected.
    config["global"]["http_config"].pop("proxy_from_environment")
    return config
