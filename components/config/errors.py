"""Config problems as one line each: the key path (list items by name), the value, and a hint."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Union, cast, get_args, get_origin

from pydantic import BaseModel

from components.config.base import MOVED, NAME_PATTERN, REGION_PATTERN, ZONE_PATTERN
from components.config.budgets import (
    ANOMALY_MONITOR_ARN_PATTERN,
    BILLING_ACCOUNT_PATTERN,
    EMAIL_PATTERN,
    SLACK_CHANNEL_PATTERN,
    SLACK_WORKSPACE_PATTERN,
)
from components.config.eks import (
    AMI_VERSION_PATTERN,
    AWS_REGION_PATTERN,
    AWS_ZONE_PATTERN,
    BUDGET_NODES_PATTERN,
    DURATION_OR_NEVER_PATTERN,
    DURATION_PATTERN,
    K8S_VERSION_PATTERN,
    PRINCIPAL_ARN_PATTERN,
    RESERVATION_ID_PATTERN,
)
from components.config.issues import ConfigError as ConfigError
from components.config.issues import Issue as Issue
from components.config.openshift import (
    AMI_ID_PATTERN,
    CHANNEL_PATTERN,
    INFRA_ID_PATTERN,
    KARG_PATTERN,
    OCP_VERSION_PATTERN,
    SECRET_KEY_PATTERN,
    SYSCTL_PATTERN,
    UNIT_PATTERN,
    UTILIZATION_PATTERN,
)
from components.config.units import unit_of


def from_pydantic(err: Any, raw: Mapping[str, Any]) -> Issue:
    """One pydantic error as an Issue: the key path by names, the value (never one that may be a credential)."""
    loc, kind, ctx = tuple(err["loc"]), err["type"], err.get("ctx") or {}
    path = _path(loc, raw)
    value = None if kind == "missing" else err.get("input")
    message = "unknown key" if kind == "extra_forbidden" else err["msg"]
    hint = _pydantic_hint(kind, ctx)
    if kind == "missing" and loc == ("environment",):
        hint = "set environment: dev (or prod, ...): the environment's name labels every resource"
    if kind == "plain_credential":
        path += f".{ctx['key']}"  # the offending key itself, not the receiver around it
    elif kind == "extra_forbidden":
        message, hint = _unknown_key(loc, value, hint)
    elif kind in _MAPPING_KINDS and _named_items(value):
        hint = (f"keyed by name, not a list: write `{loc[-1]}: {{{_named_items(value)[0]}: {{...}}}}` instead of "
                f"`- name: {_named_items(value)[0]}`")
    unit = unit_of(path)
    if unit is not None and kind in _BOUNDS:
        # The unit first: a number out of range is most often one written in the other unit (0.85 for 85%).
        hint = f"{hint}; unit: {unit.unit}" + (f"; {unit.note}" if unit.note else "")
    elif unit is not None and kind in ("number_bool", "count_bool"):
        hint = f"{hint}; unit: {unit.unit}"
    if loc and loc[-1] in _CREDENTIAL_REFERENCES and isinstance(value, str):
        message, hint = _credential_reference(str(loc[-1]), kind, value, message, hint)
    if isinstance(value, (dict, list)) or _may_hold_credential(loc, kind, value):
        value = None
    return Issue(path or "config", message, value, hint)


def _path(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    path, node = "", cast(Any, raw)
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            key = item.get("name") if isinstance(item, dict) else None
            path += f"[{key if key is not None else part}]"
            node = item
        else:
            path += f".{part}" if path else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return path


_MAPPING_KINDS = ("dict_type", "model_type", "model_attributes_type")
_CREDENTIAL_REFERENCES = ("secret", "kubeconfig")
"""Keys whose value names a secret config key: a value that is no key name may be the credential itself."""
CREDENTIAL_NAME = re.compile(r"(?i)(pass|token|secret|credential|webhook|api_?key|routing|service_key|"
                             r"integration_key|kubeconfig|private|auth|cert|url)")
"""Key names a credential hides under: an unknown key of that name never has its value printed."""


def _named_items(value: Any) -> list[str]:
    """The `name`s of a list of `- name: ...` entries (a mapping keyed by name written as a list), else []."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and isinstance(v.get("name"), str)
                                                 for v in value):
        return [v["name"] for v in value]
    return []


def _may_hold_credential(loc: tuple[Any, ...], kind: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if kind == "extra_forbidden":
        # An unknown top-level key is a stack config key: a credential set without --secret, or under a typo.
        return len(loc) == 1 or CREDENTIAL_NAME.search(str(loc[-1])) is not None
    return bool(loc) and loc[-1] in _CREDENTIAL_REFERENCES


def _credential_reference(key: str, kind: str, value: str, message: str, hint: str) -> tuple[str, str]:
    """`secret:` / `kubeconfig:` holding something other than a key name: perhaps the credential (never echoed)."""
    if key == "kubeconfig" and kind in _MAPPING_KINDS:
        name = value if re.match(SECRET_KEY_PATTERN, value) else "<key>"
        return ("names where the kubeconfig is, as a mapping (its value is not printed)",
                f"kubeconfig: {{secret: {name}}} (a key stored with `pulumi config set --secret`), or "
                "kubeconfig: {path: <file>, context: <name>}")
    if kind == "string_pattern_mismatch":
        return ("not the name of a secret config key (its value is not printed: it may be the credential itself)",
                "store the credential with `pulumi config set --secret gpu-fleet:<name>` (the value on stdin or "
                f"from a file) and write that <name> here; {_PATTERN_HINTS[SECRET_KEY_PATTERN]}")
    return message, hint


def _unknown_key(loc: tuple[Any, ...], value: Any, hint: str) -> tuple[str, str]:
    """An unknown key: the seeds' keys with their reason, else the likely key of that place."""
    key = str(loc[-1])
    if key in SEED_KEYS:
        return SEED_KEYS[key]
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]}?"
    elif known and len(known) <= 12:
        hint = "known keys here: " + ", ".join(known)
    if isinstance(value, str) and (len(loc) == 1 or CREDENTIAL_NAME.search(key)):
        hint += ("; a credential is no setting: store it with `pulumi config set --secret gpu-fleet:<name>` and "
                 "name that key in the section's `secret:`")
    return "unknown key", hint


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `loc` (fields and aliases), or [] where the place is no model."""
    from components.config.model import Fleet  # the model imports the sections this module's hints name

    node: Any = Fleet
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    model = _unwrap(node, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [f.alias or name for name, f in model.model_fields.items() if f.json_schema_extra != MOVED]


def _unwrap(tp: Any, part: Any) -> Any:
    """A field's type without Annotated and Optional; of a union, the member `part` can step into."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        members = [_unwrap(a, part) for a in get_args(tp) if a is not type(None)]
        fit = [m for m in members if (isinstance(m, type) and issubclass(m, BaseModel)) or
               (get_origin(m) is list and isinstance(part, int)) or (get_origin(m) is dict and isinstance(part, str))]
        return fit[0] if fit else (members[0] if members else None)
    return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp, part)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        field = tp.model_fields.get(part) or next((f for f in tp.model_fields.values() if f.alias == part), None)
        return field.annotation if field is not None else None
    if get_origin(tp) is list and isinstance(part, int):
        return get_args(tp)[0]
    if get_origin(tp) is dict and isinstance(part, str):
        return get_args(tp)[1]
    return None


SEED_KEYS: dict[str, tuple[str, str]] = {
    # Seed 002's GPU settings, which are no gpu-fleet keys: the message says why, the hint what to do instead.
    "nvidia_peer_memory": ("nothing to configure: GPUDirect's peer-memory support comes with the node image (GKE's "
                           "driver and the fabric installers; the EKS NVIDIA AMI's efa_nv_peermem)",
                           "remove it; a pool's GPU fabric is on by default where the machine has one"),
    "gpu_direct_rdma": ("not a setting: GPUDirect comes from the machine type (TCPX on A3 High, TCPXO on A3 Mega, "
                        "RDMA on A3 Ultra, EFA on P4d/P5)",
                        "remove it; `fabric: {transport: ...}` may restate the machine's transport"),
}
"""Keys the seeds used that gpu-fleet has no use for, with what to tell the user (replaces 'unknown key')."""

_TYPE_HINTS = {
    "extra_forbidden": "unknown key; check its spelling against the config reference in README.md",
    "missing": "this key is required",
    "int_parsing": "a whole number, e.g. 3", "int_type": "a whole number, e.g. 3",
    "int_from_float": "a whole number, e.g. 3",
    "count_bool": "a whole number such as 3 (YAML reads true/false, yes/no and on/off as booleans)",
    "number_bool": "a number such as 2.5 (YAML reads true/false, yes/no and on/off as booleans)",
    "finite_number": "a finite number (.inf and .nan are no amounts)",
    "float_parsing": "a number, e.g. 2.5", "float_type": "a number, e.g. 2.5",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "a string (quote it if YAML reads it as a number)",
    "list_type": "a YAML list of entries (- name: ...)",
    "dict_type": "a mapping of keys (key: value)", "model_type": "a mapping of keys (key: value)",
    "model_attributes_type": "a mapping of keys (key: value)",
    "plain_credential": "credentials live only in Pulumi secrets (secure: values), never in plain settings",
}
_PATTERN_HINTS = {
    REGION_PATTERN: "a GCP region such as us-central1",
    ZONE_PATTERN: "a GCP zone such as us-central1-a",
    NAME_PATTERN: "lower-case letters, digits and '-', starting with a letter, at most 40 characters",
    AWS_REGION_PATTERN: "an AWS region such as us-east-1",
    AWS_ZONE_PATTERN: "an AWS availability zone such as us-east-1a",
    K8S_VERSION_PATTERN: "a Kubernetes minor version in quotes, e.g. \"1.35\"",
    AMI_VERSION_PATTERN: "a pinned AL2023 release such as v20260724 (awslabs/amazon-eks-ami releases); `latest` "
                         "would replace every GPU node on each AMI release",
    DURATION_PATTERN: "a duration such as 10m, 24h or 1h30m",
    DURATION_OR_NEVER_PATTERN: "a duration such as 10m, 24h or 1h30m (s, m and h only, as Karpenter reads them), "
                               "or Never",
    BUDGET_NODES_PATTERN: "a share such as \"10%\" or a node count such as \"2\"",
    PRINCIPAL_ARN_PATTERN: "an IAM role or user ARN, e.g. arn:aws:iam::123456789012:role/platform-admins",
    RESERVATION_ID_PATTERN: "a capacity reservation id such as cr-0123456789abcdef0",
    OCP_VERSION_PATTERN: "an OpenShift minor version in quotes, e.g. \"4.20\" (oc get clusterversion)",
    AMI_ID_PATTERN: "an AMI id such as ami-0123456789abcdef0 (gpu-fleet openshift discover reads the cluster's)",
    INFRA_ID_PATTERN: "the cluster's infrastructure name, e.g. ocp-ai-x7k2p (oc get infrastructure cluster "
                      "-o jsonpath='{.status.infrastructureName}')",
    SECRET_KEY_PATTERN: "a config key name such as openshift-prod-kubeconfig (letters, digits, '-' and '_')",
    CHANNEL_PATTERN: "an OLM channel such as stable or v26.7",
    SYSCTL_PATTERN: "a sysctl key such as net.core.rmem_max",
    KARG_PATTERN: "a kernel argument such as intel_iommu=on",
    UNIT_PATTERN: "a systemd unit name such as gpu-tuning.service",
    UTILIZATION_PATTERN: "a share between 0 and 1 in quotes, e.g. \"0.5\"",
    BILLING_ACCOUNT_PATTERN: "a Cloud Billing account ID such as 01A2B3-C4D5E6-F7A8B9 (gcloud billing accounts list)",
    EMAIL_PATTERN: "an e-mail address such as finops@example.com",
    ANOMALY_MONITOR_ARN_PATTERN: "an anomaly monitor ARN (aws ce get-anomaly-monitors), e.g. "
                                 "arn:aws:ce::123456789012:anomalymonitor/0a1b2c3d-...",
    SLACK_WORKSPACE_PATTERN: "a Slack workspace ID such as T07EA123LEP (the workspace authorised in the Amazon Q "
                             "Developer in chat applications console)",
    SLACK_CHANNEL_PATTERN: "a Slack channel ID such as C07EZ1ABC23 (the channel's details in Slack), not its name",
    f"{REGION_PATTERN}|{AWS_REGION_PATTERN}": "a GCP region such as us-central1, or an AWS region such as us-east-1",
}


_BOUNDS = {"greater_than_equal": ">= {ge}", "greater_than": "> {gt}", "less_than_equal": "<= {le}",
           "less_than": "< {lt}"}


def _pydantic_hint(kind: str, ctx: Mapping[str, Any]) -> str:
    if kind in _TYPE_HINTS:
        return _TYPE_HINTS[kind]
    if kind == "enum" or kind == "literal_error":
        return "use one of those values; the config reference in README.md says what each means"
    if kind == "string_pattern_mismatch":
        return _PATTERN_HINTS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
    if kind in _BOUNDS:
        return "use a value " + _BOUNDS[kind].format(**ctx)
    if kind == "too_short":
        return f"list at least {ctx.get('min_length', 1)}"
    if kind == "too_long":
        return f"list at most {ctx.get('max_length')}"
    return "see the config reference in README.md"
