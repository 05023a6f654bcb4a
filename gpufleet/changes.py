"""What a pull request changes besides capacity: resources per type, alert thresholds, the policy config.

Resources are compared by URN on the two plans' `resources[].inputs` (an offline diff: no cloud is asked). An update
is a replacement when an input the provider marks ForceNew changed: for GKE node pools and clusters that list is
read from the provider's own schema (below); Kubernetes objects are replaced when their name or namespace changes
and patched otherwise; any other cloud resource reads "update (may replace)", as the offline plan cannot tell.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gpufleet.sections import Section

if TYPE_CHECKING:
    from gpufleet.report import Plan

# ForceNew inputs, from hashicorp/terraform-provider-google at e03b7622a26c (2026-08-21), which pulumi-gcp bridges:
# google/services/container/resource_container_node_pool.go (schemaNodePool and the resource's own fields),
# node_config.go (schemaNodeConfig, shared by node pools and clusters) and resource_container_cluster.go; each
# entry is the highest ForceNew field of its branch (a ForceNew block replaces on any change inside it).
_NODE_CONFIG_FORCE_NEW = (
    "advanced_machine_features", "boot_disk_kms_key", "confidential_nodes.confidential_instance_type",
    "enable_confidential_storage", "ephemeral_storage_local_ssd_config", "flex_start", "guest_accelerator",
    "host_maintenance_policy", "local_nvme_ssd_block_config", "local_ssd_count", "local_ssd_encryption_mode",
    "max_run_duration", "metadata", "min_cpu_platform", "node_group", "oauth_scopes", "preemptible",
    "reservation_affinity", "sandbox_config", "secondary_boot_disks", "service_account", "shielded_instance_config",
    "sole_tenant_config", "spot")
FORCE_NEW: dict[str, tuple[str, ...]] = {
    "gcp:container/nodePool:NodePool": (
        "cluster", "initial_node_count", "location", "max_pods_per_node", "name", "name_prefix",
        "network_config.accelerator_network_profile", "network_config.additional_node_network_configs",
        "network_config.additional_pod_network_configs", "network_config.create_pod_range",
        "network_config.pod_cidr_overprovision_config", "network_config.pod_ipv4_cidr_block",
        "network_config.pod_range", "network_config.subnetwork", "placement_policy", "project",
        "queued_provisioning", *(f"node_config.{p}" for p in _NODE_CONFIG_FORCE_NEW)),
    "gcp:container/cluster:Cluster": (
        "cluster_autoscaling.auto_provisioning_defaults.boot_disk_kms_key", "cluster_ipv4_cidr", "confidential_nodes",
        "datapath_provider", "dataplane_optimization_mode", "default_max_pods_per_node", "description",
        "enable_autopilot", "enable_kubernetes_alpha", "enable_tpu", "initial_node_count", "ip_allocation_policy",
        "location", "master_auth.client_certificate_config", "name", "network", "networking_mode", "node_pool",
        "private_cluster_config.master_ipv4_cidr_block", "private_cluster_config.private_endpoint_subnetwork",
        "project", "subnetwork", "user_managed_keys_config", *(f"node_config.{p}" for p in _NODE_CONFIG_FORCE_NEW)),
}
# pulumi-kubernetes replaces an object whose metadata.name or metadata.namespace changes and patches it otherwise
# (its tests/sdk/nodejs/autonaming steps: a label change updates in place, a new name replaces).
_K8S_FORCE_NEW = ("metadata.name", "metadata.namespace")
RULE_TYPES = ("kubernetes:monitoring.googleapis.com/v1:ClusterRules",
              "kubernetes:monitoring.coreos.com/v1:PrometheusRule")
_THRESHOLD = re.compile(r"(?:>=|<=|>|<|==)\s*(-?[0-9]+(?:\.[0-9]+)?)")
_WINDOW = re.compile(r"\[([0-9]+[smhd])\]")


def _norm(segment: str) -> str:
    """A field name as both schemas can be compared: Pulumi's `guestAccelerators` is Terraform's `guest_accelerator`."""
    return segment.replace("_", "").lower().removesuffix("s")


def changed_paths(old: Any, new: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Field paths (list positions left out) whose values differ."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            yield from changed_paths(old.get(key), new.get(key), (*path, str(key)))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for a, b in zip(old, new, strict=True):
            yield from changed_paths(a, b, path)
    elif old != new:
        yield path


def action(typ: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """`update`, `replace` or `update (may replace)` for a resource whose inputs differ."""
    paths = {".".join(_norm(s) for s in p) for p in changed_paths(old, new)}
    force: tuple[str, ...]
    if typ.startswith("kubernetes:"):
        force = _K8S_FORCE_NEW
    elif typ in FORCE_NEW:
        force = FORCE_NEW[typ]
    else:
        return "update (may replace)"
    marks = {".".join(_norm(s) for s in f.split(".")) for f in force}
    hit = any(p == m or p.startswith(m + ".") for p in paths for m in marks)
    return "replace" if hit else "update"


def _short(typ: str) -> str:
    return typ.rsplit(":", 1)[-1]


def resource_changes(now: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]]) -> dict[str, Counter[str]]:
    """Action -> count per resource type (short name), for custom resources and for components created or deleted."""
    new = {str(r["urn"]): r for r in now}
    old = {str(r["urn"]): r for r in before if isinstance(r, Mapping) and "urn" in r}
    out: dict[str, Counter[str]] = {}
    for urn in sorted(set(new) | set(old)):
        a, b = old.get(urn), new.get(urn)
        if a is None or b is None:
            kind = "create" if a is None else "delete"
        elif not (b.get("custom", True)) or a.get("inputs") == b.get("inputs"):
            continue  # a component has no inputs of its own to update
        else:
            kind = action(str(b.get("type")), a.get("inputs") or {}, b.get("inputs") or {})
        r = b if b is not None else a
        assert r is not None
        out.setdefault(kind, Counter())[_short(str(r.get("type")))] += 1
    return out


def _rules(resources: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Alert name -> {rule object URN -> its threshold signature}."""
    out: dict[str, dict[str, str]] = {}
    for r in resources:
        if r.get("type") not in RULE_TYPES:
            continue
        for group in ((r.get("inputs") or {}).get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    out.setdefault(str(rule["alert"]), {})[str(r["urn"])] = signature(rule)
    return out


def signature(rule: Mapping[str, Any]) -> str:
    """An alert's threshold and window as a reviewer reads them: `85/5m` (`for:` when set, else the range).

    The threshold is the expression's first comparison (later ones guard it, e.g. `> 0` GPUs requested).
    """
    expr = str(rule.get("expr", ""))
    numbers = _THRESHOLD.findall(expr)[:1]
    windows = [str(rule["for"])] if rule.get("for") else _WINDOW.findall(expr)[:1]
    return "/".join([*numbers, *windows]) or expr


def alert_changes(now: Sequence[Mapping[str, Any]], before: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """(alert, `old → new`, rule objects) for each alert whose thresholds changed."""
    new, old = _rules(now), _rules(before)
    rows: list[tuple[str, ...]] = []
    for alert in sorted(set(new) | set(old)):
        pairs = Counter((old.get(alert, {}).get(urn, "absent"), new.get(alert, {}).get(urn, "absent"))
                        for urn in set(new.get(alert, {})) | set(old.get(alert, {})))
        for (a, b), n in sorted(pairs.items()):
            if a != b:
                rows.append((alert, f"{a} → {b}", f"{n} rule object{'' if n == 1 else 's'}"))
    return rows


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}.{key}" if prefix else
                                                                         str(key)).items()}
    return {prefix: value}


def policy_changes(now: Mapping[str, Any] | None, before: Mapping[str, Any] | None) -> list[tuple[str, ...]] | None:
    """(key, `old → new`) for each policy-config setting and enforcement level changed; None if either lacks them."""
    if not isinstance(now, Mapping) or not isinstance(before, Mapping) or "settings" not in before:
        return None
    a = _flat(before.get("settings") or {})
    b = _flat(now.get("settings") or {})
    a.update({f"{p['name']}.enforcementLevel": p.get("enforcement") for p in before.get("policies") or []})
    b.update({f"{p['name']}.enforcementLevel": p.get("enforcement") for p in now.get("policies") or []})
    return [(key, f"{_show(a.get(key))} → {_show(b.get(key))}") for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)]


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {t}" for t, n in sorted(counter.items(), key=lambda x: (-x[1], x[0])))


def section(plan: Plan, base: Mapping[str, Any] | None) -> Section | None:
    """Resources created, updated, replaced and deleted per type; alert threshold and policy-config changes."""
    if base is None:
        return None
    now = _resources(plan)
    before = [r for r in base.get("resources") or [] if isinstance(r, Mapping)]
    by_action = resource_changes(now, before)
    alerts = alert_changes(now, before)
    policy = policy_changes(plan.policy, base.get("policy") if isinstance(base.get("policy"), Mapping) else None)
    rows: list[tuple[str, ...]] = [(kind, t, str(n)) for kind in ("create", "replace", "update (may replace)",
                                                                    "update", "delete")
                                   for t, n in sorted((by_action.get(kind) or Counter()).items())]
    rows += [("alert", a, f"{change} ({objs})") for a, change, objs in alerts]
    rows += [("policy config", key, change) for key, change in policy or []]
    parts = [f"{sum(c.values())} {kind} ({_counts(c)})" for kind, c in by_action.items()]
    if alerts:
        parts.append(f"{len(alerts)} alert threshold change{'' if len(alerts) == 1 else 's'}")
    if policy:
        parts.append(f"{len(policy)} policy-config change{'' if len(policy) == 1 else 's'}")
    notes = [] if policy is not None else ["The base was planned without the policy pack (or by an older gpu-fleet): "
                                           "policy-config changes are not shown."]
    return Section(key="changes", title="What else this PR changes",
                   headline="; ".join(parts) or "no resource, alert or policy-config change",
                   changed=bool(rows), columns=("change", "what", "detail"), rows=rows, notes=notes,
                   data={"resources": {k: dict(v) for k, v in by_action.items()},
                         "alerts": [list(r) for r in alerts], "policy": [list(r) for r in policy or []]})


def _resources(plan: Plan) -> list[dict[str, Any]]:
    return [{"urn": r.urn, "type": r.type, "custom": r.custom, "inputs": r.inputs} for r in plan.resources]
