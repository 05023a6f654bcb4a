"""The typed stack specification: what a `Pulumi.<stack>.yaml` may say, as pydantic v2 models.

One section per platform (`components.config.gke`, ...) beside the fleet-wide keys. Rules that span fields
and need the GPU catalog live in `components.config.validate`. Components receive these models already
validated, never raw config.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from components.config.base import REGION_PATTERN, Name, Number, Strict
from components.config.budgets import Budgets
from components.config.dashboards import Dashboards
from components.config.eks import AWS_REGION_PATTERN, Eks
from components.config.gke import Gke
from components.config.observability import Observability
from components.config.openshift import OpenShift
from components.config.prices import Discount

PRICE_REGION_PATTERN = f"{REGION_PATTERN}|{AWS_REGION_PATTERN}"
"""A GCP region (us-central1) or an AWS region (us-east-1); which one must match the machine's cloud."""


class PriceOverride(Strict):
    machine_type: str
    region: Annotated[str, StringConstraints(pattern=PRICE_REGION_PATTERN)]
    on_demand_hourly_usd: Number = Field(gt=0)
    spot_hourly_usd: Number | None = Field(default=None, gt=0)


class Fleet(Strict):
    """The whole stack: one section per platform (`gke`, `eks`, `openshift`), any of them together."""

    environment: Name
    labels: dict[str, str] = Field(default_factory=dict)
    prices: list[PriceOverride] = Field(default_factory=list)
    """Negotiated or newer prices that replace the catalog's list prices for the plan and the policies."""
    discounts: list[Discount] = Field(default_factory=list)
    """Committed-use, savings-plan or negotiated discounts off on-demand prices; the first covering a pool applies."""
    gke: Gke | None = None
    eks: Eks | None = None
    openshift: OpenShift | None = None
    """Existing self-managed OpenShift clusters on AWS that get GPU machine pools."""
    budgets: Budgets | None = None
    """The fleet's budget, its thresholds and the cloud budgets enforcing it: the one source of each number."""
    dashboards: Dashboards | None = None
    """The GPU fleet dashboard per platform (Cloud Monitoring on GKE, Grafana on EKS, the OpenShift console)."""
    observability: Observability | None = None
    """Alert thresholds and receivers for every cluster; absent, the seeds' thresholds and no receiver."""
