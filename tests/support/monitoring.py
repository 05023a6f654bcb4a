"""Stack documents with alert receivers (credentials as encrypted placeholders), and CRD checks with CEL rules."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.cel_rules import violations, with_defaults
from tests.support.k8s_schemas import crd_schemas, validate

RECEIVERS = {"receivers": {"gpu-team": {"type": "slack", "channel": "#gpu-alerts", "secret": "slack-webhook"},
                           "gpu-oncall": {"type": "pagerduty", "secret": "pagerduty-key",
                                          "severities": ["critical"]}}}


SECURE = {"secure": "v1:Zm9vYmFyYmF6:cXV4cXV1eHF1dXhxdXV4cXV1eA=="}


def _with_receivers(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["config"]["gpu-fleet:observability"] = RECEIVERS
    doc["config"]["gpu-fleet:slack-webhook"] = SECURE
    doc["config"]["gpu-fleet:pagerduty-key"] = SECURE
    return doc


def _check_crd(obj: dict[str, Any]) -> None:
    validate(obj)
    schema = crd_schemas()[(obj["apiVersion"], obj["kind"])]
    broken = list(violations(schema, with_defaults(schema, obj)))
    assert not broken, f"{obj['kind']} {obj['metadata'].get('name')}: {broken}"
