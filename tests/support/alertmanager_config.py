"""What the platform Alertmanager runs once prometheus-operator merges AlertmanagerConfig objects into its config.

A transcription of prometheus-operator `pkg/alertmanager/amcfg.go` (commit 6adcebc5, the snapshot the CRD in
tests/reference comes from), for the parts gpu-fleet uses:

- `convertRoute`: receivers are renamed `<namespace>/<name>/<receiver>` (`makeNamespacedString`), v1beta1
  matchers become `name<op>"value"` strings, child routes are converted the same way;
- the default matcher strategy (`namespaceEnforcer`, used when the Alertmanager sets none, as
  cluster-monitoring-operator's `alertmanager-main` does) appends `namespace="<the config's namespace>"` to the
  config's top route, and `continueToNextRoute` sets `continue: true` on it;
- `AddAlertmanagerConfigs` puts those top routes *before* the main configuration's routes
  (`cb.cfg.Route.Routes = append(subRoutes, cb.cfg.Route.Routes...)`) and appends the receivers;
- `convertReceiver` resolves each secret reference from the config's namespace;
- `convertInhibitRule` turns `sourceMatch`/`targetMatch` into matcher strings, and the namespace enforcer
  (`namespaceEnforcer.processInhibitRule`) adds `namespace="<the config's namespace>"` to both sides; the rules
  are appended after the main configuration's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

SecretLookup = Callable[[str, str, str], str]
"""(namespace, secret name, key) -> the value, as the operator reads it from the API server."""


def _matcher(m: Mapping[str, Any]) -> str:
    # monitoringv1alpha1.Matcher.String(): name, operator, quoted value.
    return f'{m["name"]}{m.get("matchType") or "="}"{m.get("value", "")}"'


def _route(route: Mapping[str, Any], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.get("receiver"):
        out["receiver"] = f"{key}/{route['receiver']}"
    if route.get("groupBy"):
        out["group_by"] = list(route["groupBy"])
    for src, dst in (("groupWait", "group_wait"), ("groupInterval", "group_interval"),
                     ("repeatInterval", "repeat_interval")):
        if route.get(src):
            out[dst] = route[src]
    if route.get("matchers"):
        out["matchers"] = [_matcher(m) for m in route["matchers"]]
    if route.get("continue"):
        out["continue"] = True
    if route.get("routes"):
        out["routes"] = [_route(r, key) for r in route["routes"]]
    return out


def _secret(ref: Mapping[str, str], namespace: str, lookup: SecretLookup) -> str:
    return lookup(namespace, ref["name"], ref["key"])


def _receiver(r: Mapping[str, Any], key: str, namespace: str, lookup: SecretLookup) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f"{key}/{r['name']}"}
    for c in r.get("pagerdutyConfigs") or []:
        out.setdefault("pagerduty_configs", []).append(
            {"routing_key": _secret(c["routingKey"], namespace, lookup), "send_resolved": c.get("sendResolved")})
    for c in r.get("slackConfigs") or []:
        slack = {"api_url": _secret(c["apiURL"], namespace, lookup), "send_resolved": c.get("sendResolved")}
        slack.update({k: c[k] for k in ("channel", "title", "text") if k in c})
        out.setdefault("slack_configs", []).append(slack)
    for c in r.get("webhookConfigs") or []:
        out.setdefault("webhook_configs", []).append(
            {"url": _secret(c["urlSecret"], namespace, lookup), "send_resolved": c.get("sendResolved")})
    for c in r.get("emailConfigs") or []:
        email = {"to": c["to"], "from": c["from"], "smarthost": c["smarthost"], "send_resolved": c.get("sendResolved")}
        if "authPassword" in c:
            email.update(auth_username=c["authUsername"], auth_password=_secret(c["authPassword"], namespace, lookup))
        out.setdefault("email_configs", []).append(email)
    return out


def _inhibit_rule(rule: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    own = f'namespace="{namespace}"'
    out: dict[str, Any] = {"source_matchers": [*(_matcher(m) for m in rule.get("sourceMatch") or []), own],
                           "target_matchers": [*(_matcher(m) for m in rule.get("targetMatch") or []), own]}
    if rule.get("equal"):
        out["equal"] = list(rule["equal"])
    return out


def merge(main: Mapping[str, Any], configs: list[Mapping[str, Any]], lookup: SecretLookup) -> dict[str, Any]:
    """The effective Alertmanager configuration: `main` with each AlertmanagerConfig (manifests) merged in."""
    cfg = copy.deepcopy(dict(main))
    sub_routes = []
    for amc in sorted(configs, key=lambda c: (c["metadata"]["namespace"], c["metadata"]["name"])):
        ns, name = amc["metadata"]["namespace"], amc["metadata"]["name"]
        key = f"{ns}/{name}"
        spec = amc["spec"]
        if spec.get("route"):
            top = _route(spec["route"], key)
            top["matchers"] = [*top.get("matchers", []), f'namespace="{ns}"']
            top["continue"] = True
            sub_routes.append(top)
        cfg.setdefault("inhibit_rules", []).extend(_inhibit_rule(r, ns) for r in spec.get("inhibitRules") or [])
        cfg.setdefault("receivers", []).extend(_receiver(r, key, ns, lookup) for r in spec.get("receivers") or [])
    cfg["route"]["routes"] = [*sub_routes, *(cfg["route"].get("routes") or [])]
    return cfg
