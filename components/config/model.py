"""The typed stack specification: what a `Pulumi.<stack>.yaml` may say, as pydantic v2 models.

One section per platform (`components.config.gke`, ...) beside the fleet-wide keys. Rules that span fields
and need the GPU catalog live in `components.config.validate`. Components receive these models already
validated, never raw config.
"""

from __future__ import annotations

from pydantic import Field

from components.config.base import Name, Region, Strict
from components.config.gke import Gke


class PriceOverride(Strict):
    machine_type: str
    region: Region
    on_demand_hourly_usd: float = Field(gt=0)
    spot_hourly_usd: float | None = Field(default=None, gt=0)


class Fleet(Strict):
    """The whole stack: one section per platform (GKE now; `eks` and `openshift` are reserved)."""

    environment: Name
    labels: dict[str, str] = Field(default_factory=dict)
    prices: list[PriceOverride] = Field(default_factory=list)
    """Negotiated or newer prices that replace the catalog's list prices for the plan and the policies."""
    gke: Gke | None = None
    eks: dict[str, object] | None = None
    openshift: dict[str, object] | None = None
