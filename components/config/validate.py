"""Whole-stack validation: parse raw stack config into a `Fleet` and check the rules that span fields.

Every problem becomes one `Issue` naming its key path with list items by their `name`
(`gke.regions[us-east4].clusters[ml-1].gpu_pools[h100-prod].machine_type`), the bad value and a hint.
Nothing here touches Pulumi, so it runs before any resource is registered.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from components import catalog
from components.config.budgets_rules import check_budgets
from components.config.checks import GCP_LABEL_KEY, GCP_LABEL_VALUE
from components.config.eks_rules import check_eks
from components.config.errors import ConfigError, Issue, from_pydantic
from components.config.fabric_rules import check_gke_fabric
from components.config.gke_limits import check_gke_limits
from components.config.gke_rules import check_gke
from components.config.model import Fleet
from components.config.observability_rules import check_observability
from components.config.openshift_rules import check_openshift
from components.config.prices_rules import check_prices


def load_fleet(raw: Mapping[str, Any]) -> Fleet:
    """Parse and validate the stack's `gpu-fleet:*` config (keys without the namespace)."""
    try:
        fleet = Fleet.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError([from_pydantic(err, raw) for err in exc.errors()]) from None
    issues = list(check_fleet(fleet))
    if issues:
        raise ConfigError(issues)
    return fleet

def check_fleet(fleet: Fleet) -> Iterator[Issue]:
    if fleet.gke is None and fleet.eks is None and fleet.openshift is None:
        yield Issue("gke", "no platform is configured", None,
                    "add a `gpu-fleet:gke`, `gpu-fleet:eks` or `gpu-fleet:openshift` section")
        return
    for key, value in fleet.labels.items():
        if not GCP_LABEL_KEY.match(key):
            yield Issue(f"labels.{key}", "not a valid GCP label key", key,
                        "lower-case letters, digits, '_' and '-', starting with a letter, at most 63")
        if not GCP_LABEL_VALUE.match(value):
            yield Issue(f"labels.{key}", "not a valid GCP label value", value,
                        "lower-case letters, digits, '_' and '-', at most 63")
    yield from check_prices(fleet)
    yield from _check_discounts(fleet)
    if fleet.gke is not None:
        yield from check_gke(fleet)
        yield from check_gke_limits(fleet)
        yield from check_gke_fabric(fleet)
    if fleet.eks is not None:
        yield from check_eks(fleet)
    if fleet.openshift is not None:
        yield from check_openshift(fleet)
    yield from check_budgets(fleet)
    yield from check_observability(fleet)


def _check_discounts(fleet: Fleet) -> Iterator[Issue]:
    """Each discount's patterns name machines the catalog has, and names are unique (the plan shows them)."""
    names = [m.name for m in catalog.MACHINE_TYPES]
    seen: set[str] = set()
    for d in fleet.discounts:
        if d.name in seen:
            yield Issue(f"discounts[{d.name}]", "a second discount of this name", d.name, "give each one its own name")
        seen.add(d.name)
        for pattern in d.machine_types:
            if not fnmatch.filter(names, pattern):
                yield Issue(f"discounts[{d.name}].machine_types", "matches no machine type in the catalog", pattern,
                            catalog.machine_hint(pattern, catalog.Cloud.AWS if "." in pattern else catalog.Cloud.GCP))
