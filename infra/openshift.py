"""The OpenShift composer: per configured cluster, its GPU platform through the cluster's own API."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pulumi

from components.config.budgets import TeamBudget
from components.config.model import PriceOverride
from components.config.observability import Observability
from components.config.openshift import OpenShift
from components.config.prices import Discount
from components.kubernetes.monitoring.targets import price_book
from components.openshift.platform import OpenShiftGpuPlatform, OpenShiftGpuPlatformArgs


def compose(section: OpenShift, *, credentials: Mapping[str, pulumi.Output[str]], labels: dict[str, str],
            console_dashboard: bool = False, observability: Observability | None = None,
            prices: list[PriceOverride] | None = None,
            discounts: Sequence[Discount] = (), teams: Sequence[TeamBudget] = ()) -> dict[str, list[str]]:
    """Declare the `openshift:` section; returns cluster name -> its GPU MachineSets."""
    out: dict[str, list[str]] = {}
    book = price_book(prices or [], discounts)
    for spec in section.clusters:
        kube = spec.kubeconfig
        kubeconfig: pulumi.Input[str] = credentials[kube.secret] if kube.secret is not None else \
            os.path.expanduser(kube.path or "")
        tags = {**labels, "gpu-fleet/cluster": spec.name}
        platform = OpenShiftGpuPlatform(f"openshift-{spec.name}",
                                        OpenShiftGpuPlatformArgs(spec=spec, kubeconfig=kubeconfig, tags=tags,
                                                                 console_dashboard=console_dashboard,
                                                                 observability=observability or Observability(),
                                                                 credentials=credentials,
                                                                 prices=book, teams=teams))
        out[spec.name] = platform.machine_sets
    return out
